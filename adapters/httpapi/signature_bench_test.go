package httpapi_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore/sqlstoretest"
)

// largeCompletedBody is the simulator's sample completed callback (a Chinese
// Markdown article with images) for ref, its article repeated until the body
// is at least size bytes.
func largeCompletedBody(t testing.TB, ref string, size int) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	doc["taskId"] = ref
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

// BenchmarkHostileSignature measures a 2 MB callback through the router
// (SQLite store, one signing secret, tokens on) with each kind of credential:
// the valid token alone (answered as a duplicate after the first delivery),
// nothing at all, and a valid token beside a bogus signature of each scheme.
// A bogus signature must cost no more than a small multiple of the request
// without one: scheme b's re-serialisation is never run on bodies above
// signature.CanonicalMaxBodyBytes, and a malformed header is refused before
// any HMAC. Results are in docs/benchmarks.md.
func BenchmarkHostileSignature(b *testing.B) {
	h := newHarness(b, sqlstoretest.NewSQLite(b), func(o *harnessOptions) {
		o.verifier.Secrets = []string{benchSecret}
	})
	s := h.submit(defaultTask)
	body := largeCompletedBody(b, s.ref, 2<<20)
	noToken := s.callback[:strings.Index(s.callback, "?")]
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	// Deliver it once, so that the token case measures the duplicate path.
	require.Equal(b, http.StatusOK, h.do(http.MethodPost, s.callback, body, nil).Code)

	bogusBase64 := signature.SignRawBase64("not-the-secret", body, 0)
	cases := []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"token-only", s.callback, nil, http.StatusOK},
		{"no-credential", noToken, nil, http.StatusForbidden},
		{"bogus-a-hex", s.callback, http.Header{signature.HeaderSignature: {strings.Repeat("0", 64)}}, http.StatusUnauthorized},
		{"bogus-a-timestamped", s.callback, http.Header{signature.HeaderSignature: {strings.Repeat("0", 64)},
			signature.HeaderTimestamp: {ts}}, http.StatusUnauthorized},
		{"bogus-b-base64", s.callback, http.Header{signature.HeaderSignature: {bogusBase64}}, http.StatusUnauthorized},
		{"bogus-c", s.callback, http.Header{signature.HeaderWebhookID: {"msg_1"}, signature.HeaderWebhookTimestamp: {ts},
			signature.HeaderWebhookSignature: {"v1," + bogusBase64}}, http.StatusUnauthorized},
		{"malformed", s.callback, http.Header{signature.HeaderSignature: {"sha256=not-a-mac"}}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rec := h.do(http.MethodPost, tc.path, body, tc.header)
				if rec.Code != tc.status {
					b.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
			}
		})
	}
}

// BenchmarkBogusSignatureRatio alternates one request with a bogus scheme-b
// candidate signature (the costliest kind before the bound) and one with the
// token alone, and reports the ratio of their times (bogus/unsigned).
func BenchmarkBogusSignatureRatio(b *testing.B) {
	h := newHarness(b, sqlstoretest.NewSQLite(b), func(o *harnessOptions) {
		o.verifier.Secrets = []string{benchSecret}
	})
	s := h.submit(defaultTask)
	body := largeCompletedBody(b, s.ref, 2<<20)
	require.Equal(b, http.StatusOK, h.do(http.MethodPost, s.callback, body, nil).Code)
	bogus := http.Header{signature.HeaderSignature: {signature.SignRawBase64("not-the-secret", body, 0)}}
	var bogusTime, plainTime time.Duration
	for b.Loop() {
		start := time.Now()
		if rec := h.do(http.MethodPost, s.callback, body, bogus); rec.Code != http.StatusUnauthorized {
			b.Fatalf("bogus: status %d", rec.Code)
		}
		mid := time.Now()
		if rec := h.do(http.MethodPost, s.callback, body, nil); rec.Code != http.StatusOK {
			b.Fatalf("token only: status %d", rec.Code)
		}
		bogusTime += mid.Sub(start)
		plainTime += time.Since(mid)
	}
	b.ReportMetric(float64(bogusTime)/float64(plainTime), "bogus/unsigned")
}
