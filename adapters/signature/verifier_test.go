package signature_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/domain"
	"contenthub/ports"
)

const (
	secret   = "current-secret"
	oldToken = "token-of-attempt-one"
	newToken = "token-of-attempt-two"
	body     = `{"event":"completed","taskId":"task-01-2","result":{"content":"# Hi"}}`
)

// whsecSecret is a Standard Webhooks secret: whsec_ + base64 of the key.
const whsecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var attempts = []domain.Attempt{
	{Number: 1, TokenHash: domain.HashToken(oldToken), State: domain.AttemptFailed},
	{Number: 2, TokenHash: domain.HashToken(newToken), State: domain.AttemptSubmitted},
}

func newVerifier(t *testing.T, cfg signature.Config) *signature.Verifier {
	t.Helper()
	v, err := signature.NewVerifier(cfg)
	require.NoError(t, err)
	return v
}

func callback(token string, headers ...string) ports.CallbackRequest {
	req := request(body, headers...)
	req.Token = token
	return req
}

func TestNewVerifierValidatesConfig(t *testing.T) {
	cases := map[string]struct {
		cfg     signature.Config
		wantErr string
	}{
		"signature required without secret": {signature.Config{RequireSignature: true, Tokens: true}, "WEBHOOK_SECRET_KEY"},
		"empty secret in the list":          {signature.Config{Secrets: []string{"a", " "}}, "secret 2 of 2 is empty"},
		"negative tolerance":                {signature.Config{Tolerance: -time.Second}, "negative"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := signature.NewVerifier(tc.cfg)
			require.Nil(t, v)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	for _, cfg := range []signature.Config{
		{},
		{Tokens: true},
		{Secrets: []string{"s"}, RequireSignature: true},
		{Secrets: []string{"whsec_not base64!"}, RequireSignature: true}, // still fine for a and b
	} {
		_, err := signature.NewVerifier(cfg)
		require.NoError(t, err, "%+v", cfg)
	}
}

func TestNewVerifierNeverQuotesSecrets(t *testing.T) {
	_, err := signature.NewVerifier(signature.Config{Secrets: []string{"very-secret-value", ""}})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "very-secret-value")
}

func TestParseSecrets(t *testing.T) {
	require.Equal(t, []string{"new", "old", "whsec_abc="}, signature.ParseSecrets(" new , old,,whsec_abc= ,"))
	require.Empty(t, signature.ParseSecrets(""))
	require.Empty(t, signature.ParseSecrets(" , "))
}

func TestOpen(t *testing.T) {
	require.True(t, newVerifier(t, signature.Config{}).Open())
	require.True(t, newVerifier(t, signature.Config{Secrets: []string{secret}}).Open())
	require.False(t, newVerifier(t, signature.Config{Tokens: true}).Open())
	require.False(t, newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true}).Open())
}

func TestVerifyToken(t *testing.T) {
	v := newVerifier(t, signature.Config{Tokens: true, Secrets: []string{secret}})

	auth, err := v.Verify(callback(newToken), attempts)
	require.NoError(t, err)
	require.Equal(t, ports.Authentication{Scheme: signature.SchemeToken, Attempt: 2}, auth)

	auth, err = v.Verify(callback(oldToken), attempts)
	require.NoError(t, err)
	require.Equal(t, 1, auth.Attempt, "an older attempt's token names that attempt")

	_, err = v.Verify(callback("wrong-token"), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
	require.NotContains(t, err.Error(), "wrong-token")

	_, err = v.Verify(callback(newToken), nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid, "a task without attempts has no valid token")

	_, err = v.Verify(callback(""), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialMissing)
}

func TestVerifyTokenIgnoresAttemptsWithoutToken(t *testing.T) {
	v := newVerifier(t, signature.Config{Tokens: true})
	withBlank := []domain.Attempt{{Number: 1}, {Number: 2, TokenHash: domain.HashToken(newToken)}}

	auth, err := v.Verify(callback(newToken), withBlank)
	require.NoError(t, err)
	require.Equal(t, 2, auth.Attempt)

	_, err = v.Verify(callback(" "), withBlank)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
}

func TestVerifyTokensOffIgnoresToken(t *testing.T) {
	open := newVerifier(t, signature.Config{})
	auth, err := open.Verify(callback("anything"), attempts)
	require.NoError(t, err)
	require.Equal(t, ports.Authentication{Scheme: signature.SchemeNone}, auth)

	signed := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true})
	_, err = signed.Verify(callback(newToken), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialMissing, "a token does not count when tokens are off")
}

func TestVerifySignatureWithToken(t *testing.T) {
	v := newVerifier(t, signature.Config{Tokens: true, Secrets: []string{secret}})
	sig := signature.SignRaw(secret, []byte(body), 0)

	auth, err := v.Verify(callback(oldToken, signature.HeaderSignature, sig), attempts)
	require.NoError(t, err)
	require.Equal(t, ports.Authentication{Scheme: signature.SchemeRaw, Attempt: 1}, auth, "the token's attempt is kept")

	auth, err = v.Verify(callback("", signature.HeaderSignature, sig), attempts)
	require.NoError(t, err)
	require.Equal(t, ports.Authentication{Scheme: signature.SchemeRaw}, auth, "a signature alone is enough; attempt found from the body")

	bad := signature.SignRaw("other-secret", []byte(body), 0)
	_, err = v.Verify(callback(newToken, signature.HeaderSignature, bad), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid, "an invalid signature is refused even with a valid token")
	require.NotContains(t, err.Error(), bad)

	_, err = v.Verify(callback("wrong", signature.HeaderSignature, sig), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid, "a wrong token is refused even with a valid signature")
}

func TestVerifyRequireSignature(t *testing.T) {
	v := newVerifier(t, signature.Config{Tokens: true, RequireSignature: true, Secrets: []string{secret}})

	_, err := v.Verify(callback(newToken), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialMissing, "a token alone is not enough")

	_, err = v.Verify(callback(""), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialMissing)

	auth, err := v.Verify(callback(newToken, signature.HeaderSignature, signature.SignRaw(secret, []byte(body), 0)), attempts)
	require.NoError(t, err)
	require.Equal(t, ports.Authentication{Scheme: signature.SchemeRaw, Attempt: 2}, auth)
}

func TestVerifyOpenEndpointStillChecksPresentSignatures(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}})

	auth, err := v.Verify(callback(""), attempts)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeNone, auth.Scheme)

	_, err = v.Verify(callback("", signature.HeaderSignature, signature.SignRaw("nope", []byte(body), 0)), attempts)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)

	auth, err = v.Verify(callback("", signature.HeaderSignature, signature.SignRaw(secret, []byte(body), 0)), attempts)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeRaw, auth.Scheme)
}

// Without any secret, signatures are not in use: their headers mean nothing.
func TestVerifyWithoutSecretsIgnoresSignatureHeaders(t *testing.T) {
	v := newVerifier(t, signature.Config{Tokens: true})
	auth, err := v.Verify(callback(newToken, signature.HeaderSignature, "garbage"), attempts)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeToken, auth.Scheme)
}

func TestVerifySecondSecretVerifies(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{"new-secret", secret, whsecSecret}, RequireSignature: true})
	cases := map[string]ports.CallbackRequest{
		"a": callback("", signature.HeaderSignature, signature.SignRaw(secret, []byte(body), 0)),
		"b": callback("", signature.HeaderSignature, mustSign(signature.SignCanonical(secret, []byte(body)))),
		"c": standardRequest(t, whsecSecret, "msg_1", vectorNow.Unix()),
	}
	for name, req := range cases {
		_, err := v.Verify(req, nil)
		require.NoError(t, err, name)
	}
}

func TestVerifyRawTimestampTolerance(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true, Tolerance: time.Minute})
	at := func(ts int64) ports.CallbackRequest {
		return callback("", signature.HeaderSignature, signature.SignRaw(secret, []byte(body), ts),
			signature.HeaderTimestamp, strconv.FormatInt(ts, 10))
	}
	now := vectorNow.Unix()
	for _, ts := range []int64{now, now - 60, now + 60} {
		auth, err := v.Verify(at(ts), nil)
		require.NoError(t, err, ts-now)
		require.Equal(t, time.Unix(ts, 0), auth.SentAt)
	}
	for _, ts := range []int64{now - 61, now + 61, 1} {
		_, err := v.Verify(at(ts), nil)
		require.ErrorIs(t, err, ports.ErrCredentialInvalid, ts-now)
		require.ErrorContains(t, err, "tolerance")
	}

	// The timestamp is signed: without its header the MAC is over other bytes.
	req := at(now)
	req.Header.Del(signature.HeaderTimestamp)
	_, err := v.Verify(req, nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)

	for _, bad := range []string{"soon", "-1", "1.5", "+1700000000", "99999999999999999999"} {
		req := at(now)
		req.Header.Set(signature.HeaderTimestamp, bad)
		_, err := v.Verify(req, nil)
		require.ErrorIs(t, err, ports.ErrCredentialInvalid, bad)
	}
}

func TestVerifyDefaultTolerance(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{whsecSecret}, RequireSignature: true})
	now := vectorNow.Unix()
	_, err := v.Verify(standardRequest(t, whsecSecret, "msg_1", now-299), nil)
	require.NoError(t, err)
	_, err = v.Verify(standardRequest(t, whsecSecret, "msg_1", now-301), nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
}

func TestVerifyUsesReceivedAtAsNow(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true})
	req := callback("", signature.HeaderSignature, signature.SignRaw(secret, []byte(body), vectorATimestamp),
		signature.HeaderTimestamp, strconv.Itoa(vectorATimestamp))

	_, err := v.Verify(req, nil)
	require.NoError(t, err)

	req.ReceivedAt = vectorNow.Add(time.Hour)
	_, err = v.Verify(req, nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)

	req.ReceivedAt = time.Time{} // unset: the wall clock, long after 2023
	_, err = v.Verify(req, nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
}

func TestVerifyMalformedSignature(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true})
	for _, value := range []string{"nothex", "sha256=", "sha256=abc", strings.Repeat("g", 64), "v1,abc", "sha1=" + signature.SignRaw(secret, []byte(body), 0)} {
		_, err := v.Verify(callback("", signature.HeaderSignature, value), nil)
		require.ErrorIs(t, err, ports.ErrCredentialInvalid, value)
		require.NotContains(t, err.Error(), value)
	}
}

func TestVerifyErrorsAreOneSentinel(t *testing.T) {
	v := newVerifier(t, signature.Config{Tokens: true, Secrets: []string{secret}})
	_, err := v.Verify(callback("x"), attempts)
	require.True(t, errors.Is(err, ports.ErrCredentialInvalid) != errors.Is(err, ports.ErrCredentialMissing))
	_, err = v.Verify(callback(""), attempts)
	require.True(t, errors.Is(err, ports.ErrCredentialInvalid) != errors.Is(err, ports.ErrCredentialMissing))
}

func TestVerifyBothSignatureStyles(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{whsecSecret}, RequireSignature: true})
	raw := signature.SignRaw(whsecSecret, []byte(body), 0)

	// A sender may sign with a and c at once; one valid scheme is enough,
	// and c is reported because it authenticates the delivery id.
	req := standardRequest(t, whsecSecret, "msg_both", vectorNow.Unix())
	req.Header.Set(signature.HeaderSignature, raw)
	auth, err := v.Verify(req, nil)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeStandard, auth.Scheme)
	require.Equal(t, "msg_both", auth.WebhookID)

	req.Header.Set(signature.HeaderWebhookSignature, "v1,"+strings.Repeat("A", 43)+"=")
	auth, err = v.Verify(req, nil)
	require.NoError(t, err)
	require.Equal(t, ports.Authentication{Scheme: signature.SchemeRaw}, auth, "no webhook id unless c verified")

	req.Header.Set(signature.HeaderSignature, strings.Repeat("0", 64))
	_, err = v.Verify(req, nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
	require.ErrorContains(t, err, "webhook-signature")
	require.ErrorContains(t, err, "X-Webhook-Signature")
}

func TestVerifyCanonicalRejectsUncanonicalizableBody(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{secret}, RequireSignature: true})
	// What Python would have signed: json.loads turns 1e400 into inf, and
	// json.dumps writes Infinity, which is not JSON. Refused by design.
	pythonSig := signature.SignRawBase64(secret, []byte(`{"n":Infinity}`), 0)
	_, err := v.Verify(request(`{"n":1e400}`, signature.HeaderSignature, pythonSig), nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
}

func mustSign(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// standardRequest is a body signed by the independent Standard Webhooks
// library.
func standardRequest(t testing.TB, secret, id string, ts int64) ports.CallbackRequest {
	t.Helper()
	sig := peerSign(t, secret, id, ts, []byte(body))
	req := callback("",
		signature.HeaderWebhookID, id,
		signature.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10),
		signature.HeaderWebhookSignature, sig)
	return req
}
