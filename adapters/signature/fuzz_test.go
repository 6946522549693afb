package signature

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

func FuzzParseRawSignature(f *testing.F) {
	for _, seed := range []string{
		"5f7e888ecd077f6e6c14ebe913f5d78fab119da99144034d1886326664de7eae",
		"sha256=5f7e888ecd077f6e6c14ebe913f5d78fab119da99144034d1886326664de7eae",
		"X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4=",
		"X36Ijs0Hf25sFOvpE_XXj6sRnamRRANNGIYyZmTefq4",
		"SHA256=X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4=",
		"", "sha256=", "v1,abc", " \t", "X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq5=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		sig, ok := parseRawSignature(value)
		if !ok {
			return
		}
		if len(sig.mac) != 32 {
			t.Fatalf("parsed a %d-byte MAC from %q", len(sig.mac), value)
		}
		// Every encoding of the parsed MAC reads back as the same MAC.
		for _, enc := range []string{
			hex.EncodeToString(sig.mac),
			"sha256=" + base64.StdEncoding.EncodeToString(sig.mac),
			base64.RawURLEncoding.EncodeToString(sig.mac),
		} {
			again, ok := parseRawSignature(enc)
			if !ok || !bytes.Equal(again.mac, sig.mac) {
				t.Fatalf("%q parsed to %x, re-encoded as %q it did not round-trip", value, sig.mac, enc)
			}
		}
	})
}

func FuzzParseStandardSignatures(f *testing.F) {
	for _, seed := range []string{
		"v1,X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4=",
		"v1,X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4= v1a,abc v2,def",
		"v1,X36Ijs0Hf25sFOvpE/XXj6sRnamRRANNGIYyZmTefq4=,extra",
		"v1, v1,,  ,v1 v1", "", "v1,!!!",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		macs := parseStandardSignatures(value)
		for _, mac := range macs {
			if len(mac) != 32 {
				t.Fatalf("parsed a %d-byte MAC from %q", len(mac), value)
			}
		}
		// Appending a well-formed entry adds exactly that MAC.
		mac := bytes.Repeat([]byte{0xA5}, 32)
		more := parseStandardSignatures(value + " v1," + base64.StdEncoding.EncodeToString(mac))
		if len(more) != len(macs)+1 || !bytes.Equal(more[len(more)-1], mac) {
			t.Fatalf("appending an entry to %q gave %d MACs after %d", value, len(more), len(macs))
		}
	})
}

func FuzzCanonicalize(f *testing.F) {
	for _, seed := range []string{
		`{"event":"content.completed","content_id":123}`,
		`{"event":"completed","taskId":"test-task-123","result":{"content":"测试"}}`,
		`{"b":2,"a":1,"c":3,"a":4}`,
		`[8.0,1e16,1e-05,0.0001,1.2345678901234568e+17,-0,-0.0,1e400,NaN]`,
		`"\ud83d\ude00\ud83d \ude00\u00e9</>&\u0000"`,
		"\ufeff {\"\\uff00\":1,\"😀\":2,\"\\ud83d\":3}",
		`[[[[{"":[]}]]]]`, `true`, `nul`, "\"\xed\xa0\x80\"", "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		if err != nil {
			if !errors.Is(err, ErrNotCanonicalizable) {
				t.Fatalf("error %v does not wrap ErrNotCanonicalizable", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output %q of %q is not JSON", out, in)
		}
		for _, c := range out {
			if c < 0x20 || c >= 0x7F {
				t.Fatalf("output %q of %q is not printable ASCII", out, in)
			}
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-canonicalising %q gave %q, %v", out, again, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"event":"completed","taskId":"task-01"}`)
	ts := int64(1700000000)
	std, _ := SignStandard(whsec, "msg_1", ts, body)
	f.Add("tok", SignRaw("s", body, 0), "", "", "", "", body)
	f.Add("", SignRaw("s", body, ts), "1700000000", "", "", "", body)
	f.Add("", "", "", "msg_1", "1700000000", std, body)
	f.Add("tok", "sha256=zz", "x", "id", "-5", "v1,", []byte("not json"))
	f.Add("", "AAAA", "", "", "", "", []byte(`{"a":1e400}`))

	verifiers := make([]*Verifier, 0, 8)
	for _, cfg := range []Config{
		{},
		{Tokens: true},
		{Tokens: true, Secrets: []string{"s", whsec}},
		{Secrets: []string{whsec, "s"}, RequireSignature: true},
		{Secrets: []string{"s"}, RequireSignature: true, Tokens: true, Tolerance: time.Second},
	} {
		v, err := NewVerifier(cfg)
		if err != nil {
			f.Fatal(err)
		}
		verifiers = append(verifiers, v)
	}
	attempts := []domain.Attempt{{Number: 1, TokenHash: domain.HashToken("tok")}, {Number: 2}}

	f.Fuzz(func(t *testing.T, token, sig, sigTS, whID, whTS, whSig string, body []byte) {
		h := http.Header{}
		for name, value := range map[string]string{
			HeaderSignature: sig, HeaderTimestamp: sigTS,
			HeaderWebhookID: whID, HeaderWebhookTimestamp: whTS, HeaderWebhookSignature: whSig,
		} {
			if value != "" {
				h.Set(name, value)
			}
		}
		req := ports.CallbackRequest{TaskID: "task-01", Token: token, Header: h, Body: body, ReceivedAt: time.Unix(ts, 0)}
		for _, v := range verifiers {
			auth, err := v.Verify(req, attempts)
			switch {
			case err == nil:
				if auth.Scheme == "" {
					t.Fatal("accepted without naming a scheme")
				}
			case errors.Is(err, ports.ErrCredentialMissing) == errors.Is(err, ports.ErrCredentialInvalid):
				t.Fatalf("error %v is not exactly one of the sentinels", err)
			}
		}
	})
}
