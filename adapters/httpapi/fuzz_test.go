package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

// FuzzCallbackEndpoint posts arbitrary bodies, with a valid token, to a real
// task's callback URL: malformed input must never be answered with a 5xx.
func FuzzCallbackEndpoint(f *testing.F) {
	h := newHarness(f, sqlstoretest.NewSQLite(f))
	s := h.submit(defaultTask)
	for _, seed := range [][]byte{
		completedBody(s.ref, "# t\n\nbody"), failedBody(s.ref, "boom"), progressBody(s.ref, 50),
		[]byte(`{"event":"completed","result":{"content":"\u0000","images":[{"url":null}],"wordCount":-1}}`),
		[]byte(`{"event":"progress","progress":{"percentage":1e308}}`),
		[]byte(`{"event":"failed","error":{"code":{"x":1}}}`),
		[]byte(`{"event":"completed","taskId":"` + s.id + `","result":null}`),
		[]byte(`[]`), []byte(`{`), []byte(``), []byte("\xff\xfe{}"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// The harness's helpers report to f; inside the target only t may be used.
		rec := httptest.NewRecorder()
		h.router.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, s.callback, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}
