package signature_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/ports"
)

// largeCallback is a real completed callback (the simulator's sample, a
// Chinese Markdown article with images) whose article is repeated until the
// body is at least size bytes.
func largeCallback(t testing.TB, size int) []byte {
	t.Helper()
	raw, err := os.ReadFile("../httpapi/testdata/callback-completed.body.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	result := doc["result"].(map[string]any)
	article := result["content"].(string) + "\n\n![示意图](https://img.example/edge.png)\n\n"
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(article)
	}
	result["content"] = b.String()
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

func TestVerifyCanonicalOnlyUpToBodyBound(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true})
	small := largeCallback(t, signature.CanonicalMaxBodyBytes-64<<10)
	require.LessOrEqual(t, len(small), signature.CanonicalMaxBodyBytes)
	big := largeCallback(t, signature.CanonicalMaxBodyBytes+1)
	require.Greater(t, len(big), signature.CanonicalMaxBodyBytes)

	auth, err := v.Verify(request(string(small), signature.HeaderSignature, mustSign(signature.SignCanonical(secret, small))), nil)
	require.NoError(t, err, "scheme b verifies up to the bound")
	require.Equal(t, signature.SchemeCanonical, auth.Scheme)

	_, err = v.Verify(request(string(big), signature.HeaderSignature, mustSign(signature.SignCanonical(secret, big))), nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid, "scheme b is not tried above the bound")

	// Schemes a and c have no bound: they cost one pass over the bytes.
	auth, err = v.Verify(request(string(big), signature.HeaderSignature, signature.SignRawBase64(secret, big, 0)), nil)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeRaw, auth.Scheme)
}

func TestVerifyCanonicalNotTriedWithATimestamp(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true})
	// Scheme b signs no timestamp: a sender that sends one uses scheme a.
	req := request(body, signature.HeaderSignature, mustSign(signature.SignCanonical(secret, []byte(body))),
		signature.HeaderTimestamp, strconv.FormatInt(vectorNow.Unix(), 10))
	_, err := v.Verify(req, nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)

	req.Header.Del(signature.HeaderTimestamp)
	auth, err := v.Verify(req, nil)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeCanonical, auth.Scheme)
}

func TestVerifyMalformedHeaderRefusedEvenBesideAValidOne(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{whsecSecret}, RequireSignature: true})
	// A header that cannot be a signature refuses the request before any
	// MAC is computed, whatever else came with it.
	for name, mutate := range map[string]func(ports.CallbackRequest){
		"X-Webhook-Signature not a MAC": func(r ports.CallbackRequest) { r.Header.Set(signature.HeaderSignature, "sha256=zz") },
		"webhook-signature without v1":  func(r ports.CallbackRequest) { r.Header.Set(signature.HeaderWebhookSignature, "v2,abc") },
	} {
		t.Run(name, func(t *testing.T) {
			req := standardRequest(t, whsecSecret, "msg_1", vectorNow.Unix())
			req.Header.Set(signature.HeaderSignature, signature.SignRaw(whsecSecret, []byte(body), 0))
			_, err := v.Verify(req, nil)
			require.NoError(t, err, "both valid")
			mutate(req)
			_, err = v.Verify(req, nil)
			require.ErrorIs(t, err, ports.ErrCredentialInvalid)
		})
	}
}

func TestVerifyRequireTimestamp(t *testing.T) {
	ts := vectorNow.Unix()
	cases := map[string]struct {
		req   ports.CallbackRequest
		token string
		// accepted with WEBHOOK_REQUIRE_TIMESTAMP=false and =true
		lax, strict bool
	}{
		"a with timestamp": {req: request(body, signature.HeaderSignature, signature.SignRaw(whsecSecret, []byte(body), ts),
			signature.HeaderTimestamp, strconv.FormatInt(ts, 10)), lax: true, strict: true},
		"a without timestamp": {req: request(body, signature.HeaderSignature, signature.SignRaw(whsecSecret, []byte(body), 0)),
			lax: true, strict: false},
		"b (never has one)": {req: request(body, signature.HeaderSignature, mustSign(signature.SignCanonical(whsecSecret, []byte(body)))),
			lax: true, strict: false},
		"c": {req: standardRequest(t, whsecSecret, "msg_1", ts), lax: true, strict: true},
		// A token is not a signature: the setting does not concern it.
		"token only": {req: request(body), token: newToken, lax: true, strict: true},
	}
	for _, strict := range []bool{false, true} {
		v := newVerifier(t, signature.Config{Secrets: []string{whsecSecret}, Tokens: true, RequireTimestamp: strict})
		for name, tc := range cases {
			req := tc.req
			req.Token = tc.token
			_, err := v.Verify(req, attempts)
			want := tc.lax
			if strict {
				want = tc.strict
			}
			if want {
				require.NoError(t, err, "%s, require timestamp %v", name, strict)
				continue
			}
			require.ErrorIs(t, err, ports.ErrCredentialInvalid, "%s, require timestamp %v", name, strict)
			require.ErrorContains(t, err, "timestamp")
		}
	}
}
