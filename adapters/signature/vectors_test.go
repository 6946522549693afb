package signature_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/ports"
)

// The vectors of SIGNATURES.md, verbatim.
const (
	vectorASecret    = "whsec-demo"
	vectorABody      = `{"event":"completed","taskId":"task-01","result":{"content":"# Hello"}}`
	vectorAHex       = "5f7e888ecd077f6e6c14ebe913f5d78fab119da99144034d1886326664de7eae"
	vectorABase64    = "X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4="
	vectorATimestamp = 1700000000
	vectorATimedHex  = "84ec81399ef1ba11c829adedb35c5d92fb7809a3dc809338f2df63f0bd741178"
)

var vectorsB = []struct {
	secret, payload, canonical, signature string
}{
	{
		"my-secret-key",
		`{"event":"content.completed","content_id":123}`,
		`{"content_id":123,"event":"content.completed"}`,
		"If6NGOiUjW8Qhe4hNbhA5UZKhR1TFwj4RT+DKn0Z01Q=",
	},
	{
		"test-secret-key",
		`{"event":"completed","taskId":"test-task-123","result":{"content":"测试"}}`,
		`{"event":"completed","result":{"content":"\u6d4b\u8bd5"},"taskId":"test-task-123"}`,
		"xY1LTTDmJ2upmoOEd6N8yggGZ+59fbXFD6bcYz/XcTU=",
	},
	{
		"my-secret-key",
		`{"b":2,"a":1,"c":3}`,
		`{"a":1,"b":2,"c":3}`,
		"ZVTOEXcm+8PHw8DND7vCMnFgbwfMQBKL4Z5kfqkMRSQ=",
	},
}

// vectorNow is the receive time used with signed timestamps: the vector's own.
var vectorNow = time.Unix(vectorATimestamp, 0)

// signatureOnly builds a verifier that demands a signature, so a pass can only
// come from the signature under test.
func signatureOnly(t testing.TB, secrets ...string) *signature.Verifier {
	t.Helper()
	v, err := signature.NewVerifier(signature.Config{Secrets: secrets, RequireSignature: true})
	require.NoError(t, err)
	return v
}

func request(body string, headers ...string) ports.CallbackRequest {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return ports.CallbackRequest{TaskID: "task-01", Header: h, Body: []byte(body), ReceivedAt: vectorNow}
}

func TestSignRawMatchesVectors(t *testing.T) {
	require.Equal(t, vectorAHex, signature.SignRaw(vectorASecret, []byte(vectorABody), 0))
	require.Equal(t, vectorABase64, signature.SignRawBase64(vectorASecret, []byte(vectorABody), 0))
	require.Equal(t, vectorATimedHex, signature.SignRaw(vectorASecret, []byte(vectorABody), vectorATimestamp))
}

func TestVerifyRawVectors(t *testing.T) {
	v := signatureOnly(t, vectorASecret)
	cases := map[string]ports.CallbackRequest{
		"hex":                request(vectorABody, signature.HeaderSignature, vectorAHex),
		"base64":             request(vectorABody, signature.HeaderSignature, vectorABase64),
		"sha256= hex":        request(vectorABody, signature.HeaderSignature, "sha256="+vectorAHex),
		"sha256= base64":     request(vectorABody, signature.HeaderSignature, "sha256="+vectorABase64),
		"upper-case hex":     request(vectorABody, signature.HeaderSignature, "sha256="+hexUpper(vectorAHex)),
		"unpadded base64":    request(vectorABody, signature.HeaderSignature, vectorABase64[:43]),
		"url-safe base64":    request(vectorABody, signature.HeaderSignature, urlSafe(vectorABase64)),
		"timestamped hex":    request(vectorABody, signature.HeaderSignature, vectorATimedHex, signature.HeaderTimestamp, strconv.Itoa(vectorATimestamp)),
		"timestamped sha256": request(vectorABody, signature.HeaderSignature, "sha256="+vectorATimedHex, signature.HeaderTimestamp, strconv.Itoa(vectorATimestamp)),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			auth, err := v.Verify(req, nil)
			require.NoError(t, err)
			require.Equal(t, signature.SchemeRaw, auth.Scheme)
			if req.Header.Get(signature.HeaderTimestamp) != "" {
				require.Equal(t, vectorNow, auth.SentAt)
			} else {
				require.True(t, auth.SentAt.IsZero())
			}
		})
	}
}

func TestVerifyCanonicalVectors(t *testing.T) {
	for _, vec := range vectorsB {
		t.Run(vec.payload, func(t *testing.T) {
			canonical, err := signature.Canonicalize([]byte(vec.payload))
			require.NoError(t, err)
			require.Equal(t, vec.canonical, string(canonical))

			signed, err := signature.SignCanonical(vec.secret, []byte(vec.payload))
			require.NoError(t, err)
			require.Equal(t, vec.signature, signed)

			auth, err := signatureOnly(t, vec.secret).Verify(request(vec.payload, signature.HeaderSignature, vec.signature), nil)
			require.NoError(t, err)
			require.Equal(t, signature.SchemeCanonical, auth.Scheme)
		})
	}
}

func TestVerifyCanonicalAcceptsReformattedBody(t *testing.T) {
	v := signatureOnly(t, "test-secret-key")
	sig := vectorsB[1].signature
	bodies := []string{
		"{\n  \"taskId\": \"test-task-123\",\n  \"result\": {\"content\": \"\\u6d4b\\u8bd5\"},\n  \"event\": \"completed\"\n}\n",
		`{"result":{"content":"测试"},"event":"completed","taskId":"test-task-123"}`,
		"\t{ \"event\" : \"completed\" , \"taskId\":\"test-task-123\",\"result\":{\"content\":\"测\\u8bd5\"}}\r\n",
		`{"event":"started","event":"completed","taskId":"test-task-123","result":{"content":"测试"}}`, // last wins
	}
	for _, body := range bodies {
		auth, err := v.Verify(request(body, signature.HeaderSignature, sig), nil)
		require.NoError(t, err, body)
		require.Equal(t, signature.SchemeCanonical, auth.Scheme)
	}

	_, err := v.Verify(request(`{"event":"completed","taskId":"test-task-123","result":{"content":"测试 "}}`, signature.HeaderSignature, sig), nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
}

// Scheme b is base64 without a prefix; a hex digest or sha256= of the
// canonical MAC is not accepted as anything.
func TestVerifyCanonicalOnlyAsPlainBase64(t *testing.T) {
	vec := vectorsB[0]
	v := signatureOnly(t, vec.secret)
	mac, err := base64.StdEncoding.DecodeString(vec.signature)
	require.NoError(t, err)
	for _, value := range []string{"sha256=" + vec.signature, hex.EncodeToString(mac)} {
		_, err := v.Verify(request(vec.payload, signature.HeaderSignature, value), nil)
		require.ErrorIs(t, err, ports.ErrCredentialInvalid, value)
	}
}

// Flipping any single bit of the MAC, the body or the timestamp must make each
// vector fail.
func TestVectorsFailWithOneBitFlipped(t *testing.T) {
	type vector struct {
		name      string
		secret    string
		body      string
		sig       string
		encode    func([]byte) string
		timestamp string
	}
	vectors := []vector{
		{"a hex", vectorASecret, vectorABody, vectorAHex, hex.EncodeToString, ""},
		{"a base64", vectorASecret, vectorABody, vectorABase64, base64.StdEncoding.EncodeToString, ""},
		{"a timestamped", vectorASecret, vectorABody, vectorATimedHex, hex.EncodeToString, strconv.Itoa(vectorATimestamp)},
	}
	for _, b := range vectorsB {
		vectors = append(vectors, vector{"b " + b.payload, b.secret, b.payload, b.signature, base64.StdEncoding.EncodeToString, ""})
	}

	for _, vec := range vectors {
		t.Run(vec.name, func(t *testing.T) {
			v := signatureOnly(t, vec.secret)
			verify := func(body, sig, ts string) error {
				req := request(body, signature.HeaderSignature, sig)
				if ts != "" {
					req.Header.Set(signature.HeaderTimestamp, ts)
				}
				_, err := v.Verify(req, nil)
				return err
			}
			require.NoError(t, verify(vec.body, vec.sig, vec.timestamp))

			mac := decodeEither(t, vec.sig)
			for bit := range len(mac) * 8 {
				flipped := flipBit([]byte(string(mac)), bit)
				require.ErrorIs(t, verify(vec.body, vec.encode(flipped), vec.timestamp), ports.ErrCredentialInvalid, "signature bit %d", bit)
			}
			for bit := range len(vec.body) * 8 {
				body := string(flipBit([]byte(vec.body), bit))
				if isCanonicalScheme(vec.name) && sameCanonical(vec.body, body) {
					continue // e.g. insignificant whitespace: the same signed document
				}
				require.ErrorIs(t, verify(body, vec.sig, vec.timestamp), ports.ErrCredentialInvalid, "body bit %d", bit)
			}
			for bit := range len(vec.timestamp) * 8 {
				ts := string(flipBit([]byte(vec.timestamp), bit))
				require.ErrorIs(t, verify(vec.body, vec.sig, ts), ports.ErrCredentialInvalid, "timestamp bit %d", bit)
			}
		})
	}
}

func isCanonicalScheme(name string) bool { return name[0] == 'b' }

func sameCanonical(a, b string) bool {
	ca, errA := signature.Canonicalize([]byte(a))
	cb, errB := signature.Canonicalize([]byte(b))
	return errA == nil && errB == nil && string(ca) == string(cb)
}

func flipBit(b []byte, bit int) []byte {
	b[bit/8] ^= 1 << (bit % 8)
	return b
}

func decodeEither(t *testing.T, sig string) []byte {
	t.Helper()
	if mac, err := hex.DecodeString(sig); err == nil {
		return mac
	}
	mac, err := base64.StdEncoding.DecodeString(sig)
	require.NoError(t, err)
	return mac
}

func hexUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func urlSafe(s string) string {
	mac, _ := base64.StdEncoding.DecodeString(s)
	return base64.URLEncoding.EncodeToString(mac)
}
