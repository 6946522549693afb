package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// The scheme-a vectors of SIGNATURES.md.
const (
	vectorSecret = "whsec-demo"
	vectorBody   = `{"event":"completed","taskId":"task-01","result":{"content":"# Hello"}}`
)

func TestSignRawMatchesSpecVectors(t *testing.T) {
	key := []byte(vectorSecret)

	plain := SignRaw(key, "", []byte(vectorBody))
	require.Equal(t, "5f7e888ecd077f6e6c14ebe913f5d78fab119da99144034d1886326664de7eae", plain)
	raw, err := hex.DecodeString(plain)
	require.NoError(t, err)
	require.Equal(t, "X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4=", base64.StdEncoding.EncodeToString(raw))

	require.Equal(t, "84ec81399ef1ba11c829adedb35c5d92fb7809a3dc809338f2df63f0bd741178",
		SignRaw(key, "1700000000", []byte(vectorBody)))
}

func TestSignerSetsSchemeAHeaders(t *testing.T) {
	h := http.Header{}
	NewSigner(vectorSecret).Sign(h, "msg_1", time.Unix(1700000000, 0), []byte(vectorBody))

	require.Equal(t, "1700000000", h.Get(HeaderTimestamp))
	require.Equal(t, "sha256=84ec81399ef1ba11c829adedb35c5d92fb7809a3dc809338f2df63f0bd741178", h.Get(HeaderSignature))
	require.Empty(t, h.Get(HeaderStdSignature), "whsec-demo is not a whsec_<base64> secret: no scheme c")
}

func TestSignerSchemeCVerifiesWithStandardWebhooksLibrary(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 24-byte test key ......"))
	body := []byte(vectorBody)
	h := http.Header{}
	NewSigner(secret).Sign(h, "msg_abc", time.Now(), body)

	require.Equal(t, "msg_abc", h.Get(HeaderStdID))
	require.Equal(t, h.Get(HeaderTimestamp), h.Get(HeaderStdTimestamp))
	require.NotEmpty(t, h.Get(HeaderSignature), "scheme a is sent too, keyed by the whole secret string")
	require.Equal(t, "sha256="+SignRaw([]byte(secret), h.Get(HeaderTimestamp), body), h.Get(HeaderSignature))

	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(body, h))
	require.Error(t, wh.Verify(append([]byte(" "), body...), h), "a changed body must not verify")
}

func TestSignerSkipsSchemeCForInvalidBase64AndSignsNothingWithoutSecret(t *testing.T) {
	h := http.Header{}
	NewSigner("whsec_not base64!").Sign(h, "msg_1", time.Now(), []byte("{}"))
	require.NotEmpty(t, h.Get(HeaderSignature))
	require.Empty(t, h.Get(HeaderStdSignature))

	h = http.Header{}
	NewSigner("").Sign(h, "msg_1", time.Now(), []byte("{}"))
	require.Empty(t, h)
}
