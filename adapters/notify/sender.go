package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// Sender limits (§13).
const (
	DefaultTimeout = 15 * time.Second
	// MaxResponseBytes is as much of an answer as is read: a receiver
	// answering with a huge body costs this much, then the connection is
	// dropped.
	MaxResponseBytes = 64 << 10
	// errorExcerpt is how much of a failed answer's body the log keeps.
	errorExcerpt = 200
)

// UserAgent names the sender to receivers.
const UserAgent = "ContentHub-Webhooks/1"

// Sender signs and POSTs messages. It follows no redirect (a 3xx is a
// failed attempt), reads at most MaxResponseBytes of an answer, gives each
// attempt Timeout in all (connection, answer and body), and connects only
// where its Guard allows, checked on the address actually dialled.
type Sender struct {
	client *http.Client
	box    *SecretBox
}

var _ ports.WebhookSender = (*Sender)(nil)

// SenderConfig tunes NewSender.
type SenderConfig struct {
	Timeout time.Duration // NOTIFY_TIMEOUT; 0: DefaultTimeout
	Guard   *Guard
	Secrets *SecretBox
}

// NewSender builds the HTTP client.
func NewSender(cfg SenderConfig) *Sender {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	guard := cfg.Guard
	if guard == nil {
		guard = &Guard{}
	}
	box := cfg.Secrets
	if box == nil {
		box = &SecretBox{}
	}
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second, Control: guard.Control}
	transport := &http.Transport{
		// Never a proxy: it would connect on our behalf, past the guard.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &Sender{box: box, client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Close releases idle connections.
func (s *Sender) Close() { s.client.CloseIdleConnections() }

// Send makes one attempt. Every failure is reported in the result.
func (s *Sender) Send(ctx context.Context, m ports.OutboundMessage) domain.SendResult {
	start := time.Now()
	res := s.send(ctx, m)
	res.Latency = time.Since(start)
	return res
}

func (s *Sender) send(ctx context.Context, m ports.OutboundMessage) domain.SendResult {
	stored := domain.ActiveSecrets(m.Secrets, m.Timestamp)
	secrets := make([]string, 0, len(stored))
	for _, st := range stored {
		secret, err := s.box.Open(st)
		if err != nil {
			return domain.SendResult{Err: err.Error()}
		}
		secrets = append(secrets, secret)
	}
	sig, err := Sign(m.ID, m.Timestamp, m.Payload, secrets)
	if err != nil {
		return domain.SendResult{Err: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return domain.SendResult{Err: "bad endpoint URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(m.Timestamp.Unix(), 10))
	req.Header.Set("webhook-signature", sig)

	resp, err := s.client.Do(req)
	if err != nil {
		return domain.SendResult{Err: describeSendError(err)}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	res := domain.SendResult{StatusCode: resp.StatusCode}
	if res.Succeeded() {
		return res // the answer's body does not matter once it is a 2xx
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	res.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		res.Err += " (redirect to " + excerpt(loc) + ", not followed)"
	} else if text := strings.TrimSpace(string(body)); text != "" {
		res.Err += ": " + excerpt(text)
	}
	if readErr != nil {
		res.Err += " (reading the answer: " + describeSendError(readErr) + ")"
	}
	return res
}

func excerpt(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= errorExcerpt {
		return s
	}
	cut := errorExcerpt
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// describeSendError says why no answer came, briefly.
func describeSendError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrRefusedAddress):
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			return oe.Err.Error()
		}
		return err.Error()
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timed out: " + err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, domain.MaxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), domain.MaxRetryAfter)
	}
	return 0
}
