package signature_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/ports"
)

// peerSign signs with the independent Standard Webhooks implementation.
func peerSign(t testing.TB, secret, id string, ts int64, payload []byte) string {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	sig, err := wh.Sign(id, time.Unix(ts, 0), payload)
	require.NoError(t, err)
	return sig
}

func TestStandardSignedByPeerVerifies(t *testing.T) {
	v := signatureOnly(t, whsecSecret)
	payloads := []string{vectorABody, body, "", "not json at all", vectorsB[1].payload}
	for _, payload := range payloads {
		sig := peerSign(t, whsecSecret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", vectorATimestamp, []byte(payload))
		req := request(payload,
			signature.HeaderWebhookID, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
			signature.HeaderWebhookTimestamp, strconv.Itoa(vectorATimestamp),
			signature.HeaderWebhookSignature, sig)

		auth, err := v.Verify(req, nil)
		require.NoError(t, err, payload)
		require.Equal(t, ports.Authentication{
			Scheme:    signature.SchemeStandard,
			WebhookID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
			SentAt:    vectorNow,
		}, auth)

		ours, err := signature.SignStandard(whsecSecret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", vectorATimestamp, []byte(payload))
		require.NoError(t, err)
		require.Equal(t, sig, ours)
	}
}

func TestStandardSignedByUsVerifiesWithPeer(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(whsecSecret)
	require.NoError(t, err)
	// The peer checks its tolerance against the wall clock.
	now := time.Now().Unix()
	for _, payload := range []string{body, "", vectorsB[1].payload} {
		sig, err := signature.SignStandard(whsecSecret, "msg_ours", now, []byte(payload))
		require.NoError(t, err)
		h := http.Header{}
		h.Set(signature.HeaderWebhookID, "msg_ours")
		h.Set(signature.HeaderWebhookTimestamp, strconv.FormatInt(now, 10))
		h.Set(signature.HeaderWebhookSignature, sig)
		require.NoError(t, wh.Verify([]byte(payload), h), payload)

		h.Set(signature.HeaderWebhookID, "msg_other")
		require.Error(t, wh.Verify([]byte(payload), h), "the id is signed")
	}
}

func TestStandardFailsWithOneBitFlipped(t *testing.T) {
	v := signatureOnly(t, whsecSecret)
	const id = "msg_flip"
	ts := strconv.Itoa(vectorATimestamp)
	sig := peerSign(t, whsecSecret, id, vectorATimestamp, []byte(body))
	verify := func(id, ts, sig, payload string) error {
		_, err := v.Verify(request(payload,
			signature.HeaderWebhookID, id,
			signature.HeaderWebhookTimestamp, ts,
			signature.HeaderWebhookSignature, sig), nil)
		return err
	}
	require.NoError(t, verify(id, ts, sig, body))

	mac, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
	require.NoError(t, err)
	for bit := range len(mac) * 8 {
		flipped := "v1," + base64.StdEncoding.EncodeToString(flipBit([]byte(string(mac)), bit))
		require.ErrorIs(t, verify(id, ts, flipped, body), ports.ErrCredentialInvalid, "signature bit %d", bit)
	}
	for bit := range len(body) * 8 {
		require.ErrorIs(t, verify(id, ts, sig, string(flipBit([]byte(body), bit))), ports.ErrCredentialInvalid, "body bit %d", bit)
	}
	for bit := range len(ts) * 8 {
		require.ErrorIs(t, verify(id, string(flipBit([]byte(ts), bit)), sig, body), ports.ErrCredentialInvalid, "timestamp bit %d", bit)
	}
	for bit := range len(id) * 8 {
		require.ErrorIs(t, verify(string(flipBit([]byte(id), bit)), ts, sig, body), ports.ErrCredentialInvalid, "id bit %d", bit)
	}
}

func TestStandardSignatureList(t *testing.T) {
	v := signatureOnly(t, whsecSecret)
	good := peerSign(t, whsecSecret, "msg_1", vectorATimestamp, []byte(body))
	other := peerSign(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another key entirely")), "msg_1", vectorATimestamp, []byte(body))
	verify := func(list string) error {
		_, err := v.Verify(request(body,
			signature.HeaderWebhookID, "msg_1",
			signature.HeaderWebhookTimestamp, strconv.Itoa(vectorATimestamp),
			signature.HeaderWebhookSignature, list), nil)
		return err
	}
	require.NoError(t, verify(other+" "+good))
	require.NoError(t, verify("v1a,xyz "+good+" v2,abc"))
	require.NoError(t, verify("  "+good+"  "))
	require.ErrorIs(t, verify(other), ports.ErrCredentialInvalid)
	require.ErrorIs(t, verify("v2,"+strings.TrimPrefix(good, "v1,")), ports.ErrCredentialInvalid, "only v1 counts")
	require.ErrorIs(t, verify("v1,"), ports.ErrCredentialInvalid)
}

func TestStandardTimestampTolerance(t *testing.T) {
	v := newVerifier(t, signature.Config{Secrets: []string{whsecSecret}, RequireSignature: true, Tolerance: time.Minute})
	now := vectorNow.Unix()
	for _, ts := range []int64{now - 60, now + 60} {
		_, err := v.Verify(standardRequest(t, whsecSecret, "msg_1", ts), nil)
		require.NoError(t, err, ts-now)
	}
	for _, ts := range []int64{now - 61, now + 61} {
		_, err := v.Verify(standardRequest(t, whsecSecret, "msg_1", ts), nil)
		require.ErrorIs(t, err, ports.ErrCredentialInvalid, ts-now)
		require.ErrorContains(t, err, "tolerance")
	}
}

func TestStandardNeedsIDAndTimestamp(t *testing.T) {
	v := signatureOnly(t, whsecSecret)
	for _, drop := range []string{signature.HeaderWebhookID, signature.HeaderWebhookTimestamp} {
		req := standardRequest(t, whsecSecret, "msg_1", vectorNow.Unix())
		req.Header.Del(drop)
		_, err := v.Verify(req, nil)
		require.ErrorIs(t, err, ports.ErrCredentialInvalid, drop)
	}
}

// Only whsec_ secrets whose rest is base64 are keys for scheme c; the others
// still serve a and b.
func TestStandardKeysComeOnlyFromWhsecSecrets(t *testing.T) {
	plain := strings.TrimPrefix(whsecSecret, "whsec_") // valid base64, but no prefix
	v := signatureOnly(t, plain, "whsec_!!not-base64!!")

	req := standardRequest(t, whsecSecret, "msg_1", vectorNow.Unix())
	_, err := v.Verify(req, nil)
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
	require.ErrorContains(t, err, "whsec_")

	raw := request(body, signature.HeaderSignature, signature.SignRaw("whsec_!!not-base64!!", []byte(body), 0))
	auth, err := v.Verify(raw, nil)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeRaw, auth.Scheme)

	// Schemes a and b key with the whole secret, whsec_ prefix included.
	w := signatureOnly(t, whsecSecret)
	auth, err = w.Verify(request(body, signature.HeaderSignature, signature.SignRaw(whsecSecret, []byte(body), 0)), nil)
	require.NoError(t, err)
	require.Equal(t, signature.SchemeRaw, auth.Scheme)
}

func TestSignStandardRejectsUnusableSecret(t *testing.T) {
	for _, s := range []string{"plain-secret", "whsec_***"} {
		_, err := signature.SignStandard(s, "msg", 1, nil)
		require.Error(t, err, s)
		require.NotContains(t, err.Error(), s)
	}
	_, err := signature.SignStandard("whsec_", "msg", 1, nil)
	require.Error(t, err, "an empty key would let anyone sign")
}
