package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore/sqlstoretest"
)

// TestSignatureWithoutSecretSaysSo: tokens on (the default), no
// WEBHOOK_SECRET_KEY, a signed callback without the token: the 403 says that
// the signature cannot be verified for want of a secret, not that none was
// sent. An unsigned one keeps the plain answer.
func TestSignatureWithoutSecretSaysSo(t *testing.T) {
	h := newHarness(t, sqlstoretest.NewSQLite(t))
	s := h.submit(defaultTask)
	body := progressBody(s.ref, 40)
	target := "/api/v1/content/callback/" + s.id
	message := func(header http.Header) string {
		rec := h.do(http.MethodPost, target, body, header)
		require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
		require.Equal(t, "credential_missing", errorCode(t, rec, rec.Body.Bytes()))
		var env struct {
			Error struct{ Message string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
		return env.Error.Message
	}
	signed := http.Header{
		signature.HeaderTimestamp: {"1700000000"},
		signature.HeaderSignature: {"sha256=" + signature.SignRaw("some-secret", body, 1700000000)},
	}
	require.Contains(t, message(signed), "no WEBHOOK_SECRET_KEY")
	require.Contains(t, message(http.Header{signature.HeaderWebhookSignature: {"v1,AAAA"}}), "no WEBHOOK_SECRET_KEY")
	require.Equal(t, "callback token or signature required", message(nil))

	var reasons []string
	for _, d := range h.deliveries(s.id) {
		reasons = append(reasons, d.Reason)
	}
	require.Contains(t, reasons, "callback credential missing: a signature was sent but no WEBHOOK_SECRET_KEY is configured")
}

// TestPoolListsTitles: the publish pool answers each entry with its
// article's title.
func TestPoolListsTitles(t *testing.T) {
	h := newHarness(t, sqlstoretest.NewSQLite(t))
	s := h.submit(defaultTask)
	rec := h.do(http.MethodPost, s.callback, completedBody(s.ref, "# 边缘计算入门指南\n\n正文。"), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = h.do(http.MethodGet, "/api/v1/publish-pool", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page struct {
		Items []struct {
			Title  string `json:"title"`
			TaskID string `json:"task_id"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Items, 1)
	require.Equal(t, "边缘计算入门指南", page.Items[0].Title)
	require.Equal(t, s.id, page.Items[0].TaskID)
}
