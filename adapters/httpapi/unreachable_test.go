package httpapi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

// cuttableProxy forwards TCP to a database and can drop every connection and
// refuse new ones, as a network partition would.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cuttableProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cuttableProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		upstream, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, upstream)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(upstream, c); upstream.Close() }()
		go func() { _, _ = io.Copy(c, upstream); c.Close() }()
	}
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestCallbackPostgresUnreachable cuts the network to PostgreSQL: the
// callback is answered 503 with Retry-After, nothing is written, and the
// sender's retry after the database is back is applied.
func TestCallbackPostgresUnreachable(t *testing.T) {
	dbURL, err := url.Parse(sqlstoretest.PostgresURL(t))
	require.NoError(t, err)
	proxy := newCuttableProxy(t, dbURL.Host)
	dbURL.Host = proxy.ln.Addr().String()
	q := dbURL.Query()
	q.Set("connect_timeout", "2")
	dbURL.RawQuery = q.Encode()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dbURL.String())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })

	h := newHarness(t, store, func(o *harnessOptions) { o.api.WebhookTimeout = 3 * time.Second })
	s := h.submit(defaultTask)
	body := completedBody(s.ref, "# 标题\n\n正文")

	proxy.cut()
	rec := h.do(http.MethodPost, s.callback, body, nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	require.Equal(t, "unavailable", errorCode(t, rec, rec.Body.Bytes()))

	proxy.restore()
	task := h.task(s.id)
	require.Equal(t, domain.StatusSubmitted, task.Status(), "nothing was written while the database was away")
	require.Empty(t, task.ContentID())
	require.Empty(t, h.deliveries(s.id))

	rec = h.do(http.MethodPost, s.callback, body, nil)
	require.Equal(t, http.StatusOK, rec.Code, "the sender's retry is applied: %s", rec.Body.String())
	require.Equal(t, domain.StatusCompleted, h.task(s.id).Status())
}
