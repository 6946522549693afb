package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// UserAgent names the simulator to receivers.
const UserAgent = "content-creator-sim/1.0"

// Defaults of a Sender.
const (
	DefaultTimeout  = 10 * time.Second // per POST, like the real sender
	DefaultAttempts = 4
	DefaultBackoff  = 500 * time.Millisecond
	maxBackoff      = 30 * time.Second
)

// ErrUndelivered means every try of a callback failed.
var ErrUndelivered = errors.New("callback not delivered")

// Callback is one event to deliver. Its body and ID stay the same on every try.
type Callback struct {
	URL    string
	Event  string // completed, failed or progress
	TaskID string
	ID     string // the event's Standard Webhooks id
	Body   []byte
}

// Sender POSTs callbacks, one at a time, retrying failures.
type Sender struct {
	Client   *http.Client
	Signer   Signer
	Attempts int           // tries per callback, at least 1
	Backoff  time.Duration // wait after the first failed try; doubled after each further one
	Slow     time.Duration // extra wait before a callback's first try
	Log      *zap.Logger
	Now      func() time.Time
}

// NewSender returns a sender with the real sender's timeout and the given retry policy.
func NewSender(signer Signer, attempts int, backoff time.Duration, log *zap.Logger) *Sender {
	return &Sender{
		Client:   &http.Client{Timeout: DefaultTimeout},
		Signer:   signer,
		Attempts: attempts,
		Backoff:  backoff,
		Log:      log,
		Now:      time.Now,
	}
}

// Deliver POSTs cb until the receiver answers 200 or 202, or the tries run out (ErrUndelivered).
func (s *Sender) Deliver(ctx context.Context, cb Callback) error {
	log := s.Log.With(zap.String("event", cb.Event), zap.String("webhook_id", cb.ID))
	if err := sleep(ctx, s.Slow); err != nil {
		return err
	}
	wait := s.Backoff
	attempts := max(s.Attempts, 1)
	for try := 1; ; try++ {
		code, err := s.post(ctx, cb)
		if err == nil && (code == http.StatusOK || code == http.StatusAccepted) {
			log.Info("callback delivered", zap.Int("try", try), zap.Int("status", code))
			return nil
		}
		log.Warn("callback try failed", zap.Int("try", try), zap.Int("status", code), zap.Error(err))
		if try >= attempts {
			return fmt.Errorf("%s callback after %d tries: %w", cb.Event, try, ErrUndelivered)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, maxBackoff)
	}
}

// post makes one try and returns the answer's status code.
func (s *Sender) post(ctx context.Context, cb Callback) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(cb.Body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json, text/plain, */*")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("X-Webhook-Event", cb.Event)
	req.Header.Set("X-Task-ID", cb.TaskID)
	s.Signer.Sign(req.Header, cb.ID, s.Now(), cb.Body) // a fresh timestamp per try
	resp, err := s.Client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			ue.URL = redact(ue.URL) // the error names the URL, and its query holds the callback token
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drained, so the connection is reused
	return resp.StatusCode, nil
}

// redact drops the query and credentials of a URL for logging.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
