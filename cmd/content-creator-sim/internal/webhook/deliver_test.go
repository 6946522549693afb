package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// recorder answers each request with the next code of its script (the last one repeats) and keeps the requests.
type recorder struct {
	mu     sync.Mutex
	codes  []int
	bodies []string
	heads  []http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, string(b))
	r.heads = append(r.heads, req.Header.Clone())
	code := r.codes[min(len(r.bodies)-1, len(r.codes)-1)]
	w.WriteHeader(code)
}

func newTestSender(secret string, attempts int) *Sender {
	return NewSender(NewSigner(secret), attempts, time.Millisecond, zap.NewNop())
}

func TestDeliverRetriesUntilAcceptedKeepingBodyAndID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []int
		tries int
	}{
		{"200 at once", []int{200}, 1},
		{"202 counts as success", []int{202}, 1},
		{"500 then 200", []int{500, 200}, 2},
		{"204 and 201 are failures", []int{204, 201, 200}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{codes: tc.codes}
			srv := httptest.NewServer(rec)
			t.Cleanup(srv.Close)

			cb := Callback{URL: srv.URL + "/cb?token=secret-token", Event: "completed", TaskID: "task-1-1", ID: "msg_1",
				Body: []byte(`{"event":"completed"}`)}
			require.NoError(t, newTestSender("s3cret", 4).Deliver(context.Background(), cb))

			require.Len(t, rec.bodies, tc.tries)
			for i, h := range rec.heads {
				require.Equal(t, string(cb.Body), rec.bodies[i])
				require.Equal(t, "application/json", h.Get("Content-Type"))
				require.Equal(t, UserAgent, h.Get("User-Agent"))
				require.Equal(t, "completed", h.Get("X-Webhook-Event"))
				require.Equal(t, "task-1-1", h.Get("X-Task-ID"))
				require.Equal(t, "sha256="+SignRaw([]byte("s3cret"), h.Get(HeaderTimestamp), cb.Body), h.Get(HeaderSignature))
			}
		})
	}
}

func TestDeliverGivesUpAfterAttempts(t *testing.T) {
	rec := &recorder{codes: []int{503}}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	err := newTestSender("", 3).Deliver(context.Background(), Callback{URL: srv.URL, Event: "failed", Body: []byte("{}")})
	require.ErrorIs(t, err, ErrUndelivered)
	require.Len(t, rec.bodies, 3)
}

func TestDeliverErrorsDoNotRevealTheToken(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more: every try fails to connect

	s := newTestSender("", 2)
	var logs *logBuffer
	s.Log, logs = bufferLogger()
	err := s.Deliver(context.Background(), Callback{URL: url + "/cb?token=very-secret", Event: "completed", Body: []byte("{}")})
	require.ErrorIs(t, err, ErrUndelivered)
	require.NotEmpty(t, logs.String())
	require.NotContains(t, logs.String(), "very-secret")
}

func TestDeliverStopsWhenContextEndsDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tries++
		cancel() // the sender is now waiting an hour before its next try
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)

	s := newTestSender("", 5)
	s.Backoff = time.Hour
	err := s.Deliver(ctx, Callback{URL: srv.URL, Event: "completed", Body: []byte("{}")})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, tries)
}

// logBuffer collects a logger's JSON lines.
type logBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

func bufferLogger() (*zap.Logger, *logBuffer) {
	b := &logBuffer{}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(b), zap.DebugLevel)), b
}
