package httpapi

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"contenthub/ports"
)

// Default server timeouts, for a Config that leaves them zero.
const (
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
)

// NewServer is the http.Server for the router with the service's timeouts.
//
// http.Server's own ReadTimeout and WriteTimeout are left unset on purpose:
// they cover a connection's whole request, so they would cut Server-Sent Event
// streams, and a read deadline that passes while a handler works cancels the
// request's context. Deadlines are set per request instead (withDeadlines):
// headers within ReadTimeout (ReadHeaderTimeout), a body within ReadTimeout
// of the handler starting, an answer within WriteTimeout; event streams set
// a deadline per write. IdleTimeout closes idle keep-alive connections.
func NewServer(addr string, cfg Config, handler http.Handler) *http.Server {
	cfg = cfg.withDefaults()
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
	}
}

func (c Config) withDefaults() Config {
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	return c
}

// withDeadlines bounds one request on its connection: the body must arrive
// within read (a client trickling it is cut off with 408), the answer must be
// written within write. Once the body has been read to its end the read
// deadline is lifted: the server keeps reading in the background to notice a
// client that goes away, and a deadline passing there would cancel the
// request's context while the handler still works.
func withDeadlines(read, write time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		now := time.Now()
		_ = rc.SetWriteDeadline(now.Add(write))
		if body := c.Request.Body; body != nil && body != http.NoBody {
			if rc.SetReadDeadline(now.Add(read)) == nil {
				c.Request.Body = &deadlineBody{ReadCloser: body, rc: rc}
			}
		}
		c.Next()
	}
}

// deadlineBody lifts the read deadline once the body is read to its end.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// abortUnreadableBody answers a body that could not be read: too large
// (413), not sent in time (408), or broken off (400).
func abortUnreadableBody(c *gin.Context, err error) {
	var (
		tooLarge *http.MaxBytesError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &tooLarge):
		abort(c, http.StatusRequestEntityTooLarge, errorBody{Code: "body_too_large", Message: "request body is too large"})
	case errors.As(err, &netErr) && netErr.Timeout():
		_ = c.Error(err)
		c.Header("Connection", "close")
		abort(c, http.StatusRequestTimeout, errorBody{Code: "body_timeout", Message: "request body did not arrive in time"})
	default:
		_ = c.Error(err)
		abort(c, http.StatusBadRequest, errorBody{Code: "unreadable_body", Message: "could not read the request body"})
	}
}

// limitInFlight answers 503 with Retry-After when n requests of the route
// are already being handled, before reading the body: a flood of callbacks
// (or of slow bodies) cannot tie up every database connection and memory.
func limitInFlight(n int, m ports.Metrics) gin.HandlerFunc {
	slots := make(chan struct{}, n)
	return func(c *gin.Context) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			c.Next()
		default:
			if m != nil {
				m.CallbackHandled("unknown", "overloaded", 0)
			}
			abort(c, http.StatusServiceUnavailable, errorBody{Code: "overloaded", Message: "too many callbacks in flight, retry later"})
		}
	}
}
