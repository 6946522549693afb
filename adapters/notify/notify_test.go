package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/notify"
	"contenthub/domain"
	"contenthub/ports"
)

// receiver is a loopback endpoint that verifies every message with the
// standard-webhooks library, as a receiver would.
type receiver struct {
	srv      *httptest.Server
	secrets  []string
	verified atomic.Int64
	failed   atomic.Int64
	last     atomic.Pointer[http.Header]
}

func newReceiver(t *testing.T, secrets ...string) *receiver {
	t.Helper()
	r := &receiver{secrets: secrets}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := req.Header.Clone()
		r.last.Store(&h)
		for _, s := range r.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil || wh.Verify(body, req.Header) != nil {
				r.failed.Add(1)
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
		}
		r.verified.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func loopbackSender(t *testing.T, box *notify.SecretBox, timeout time.Duration) *notify.Sender {
	t.Helper()
	s := notify.NewSender(notify.SenderConfig{Timeout: timeout, Guard: &notify.Guard{AllowPrivate: true}, Secrets: box})
	t.Cleanup(s.Close)
	return s
}

func message(url string, secrets ...string) ports.OutboundMessage {
	m := ports.OutboundMessage{ID: "msg-1_ep-1", URL: url, Timestamp: time.Now(),
		Payload: []byte(`{"type":"task.completed","timestamp":"2026-02-09T12:00:00Z","data":{"task_id":"task-1","title":"中文标题"}}`)}
	for _, s := range secrets {
		m.Secrets = append(m.Secrets, domain.EndpointSecret{Stored: s})
	}
	return m
}

func TestMessagesVerifyWithTheStandardWebhooksLibrary(t *testing.T) {
	box, err := notify.NewSecretBox("")
	require.NoError(t, err)
	shown, stored, err := box.NewSecret()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(shown, "whsec_"))
	require.Equal(t, shown, stored, "without a key the secret is stored as it is")

	rcv := newReceiver(t, shown)
	res := loopbackSender(t, box, 0).Send(context.Background(), message(rcv.srv.URL, stored))
	require.True(t, res.Succeeded(), "%+v", res)
	require.Equal(t, int64(1), rcv.verified.Load())
	h := *rcv.last.Load()
	require.Equal(t, "msg-1_ep-1", h.Get("webhook-id"))
	require.Equal(t, "application/json", h.Get("Content-Type"))
}

func TestRotationOverlapSignsWithBoth(t *testing.T) {
	box, err := notify.NewSecretBox("")
	require.NoError(t, err)
	oldSecret, _, _ := box.NewSecret()
	newSecret, _, _ := box.NewSecret()
	now := time.Now()
	m := message("", newSecret)
	m.Secrets = append(m.Secrets, domain.EndpointSecret{Stored: oldSecret, ExpiresAt: now.Add(time.Hour)})

	// A receiver still on the old secret and one already on the new one
	// both verify the same message.
	for _, s := range []string{oldSecret, newSecret} {
		rcv := newReceiver(t, s)
		m.URL = rcv.srv.URL
		res := loopbackSender(t, box, 0).Send(context.Background(), m)
		require.True(t, res.Succeeded(), "%+v", res)
		require.Len(t, strings.Fields(rcv.last.Load().Get("webhook-signature")), 2)
	}
	// Past the overlap only the new one signs.
	m.Secrets[1].ExpiresAt = now.Add(-time.Second)
	rcv := newReceiver(t, newSecret)
	m.URL = rcv.srv.URL
	require.True(t, loopbackSender(t, box, 0).Send(context.Background(), m).Succeeded())
	require.Len(t, strings.Fields(rcv.last.Load().Get("webhook-signature")), 1)
}

func TestSealedSecrets(t *testing.T) {
	const key = "q0Wm5p0bq0mQ8dbm1d2Ew0p0P8Qyq0JH3k3n8C2z9dE=" // 32 bytes
	box, err := notify.NewSecretBox(key)
	require.NoError(t, err)
	require.True(t, box.Sealing())
	shown, stored, err := box.NewSecret()
	require.NoError(t, err)
	require.NotEqual(t, shown, stored)
	require.NotContains(t, stored, strings.TrimPrefix(shown, "whsec_"), "a dump must not show the secret")
	opened, err := box.Open(stored)
	require.NoError(t, err)
	require.Equal(t, shown, opened)

	// The message is signed with the opened secret.
	rcv := newReceiver(t, shown)
	require.True(t, loopbackSender(t, box, 0).Send(context.Background(), message(rcv.srv.URL, stored)).Succeeded())

	// Without the key (or with another) a sealed secret cannot sign.
	none, _ := notify.NewSecretBox("")
	_, err = none.Open(stored)
	require.ErrorIs(t, err, notify.ErrSealedWithoutKey)
	other, err := notify.NewSecretBox("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	require.NoError(t, err)
	_, err = other.Open(stored)
	require.ErrorIs(t, err, notify.ErrSealedWithoutKey)
	res := loopbackSender(t, other, 0).Send(context.Background(), message(rcv.srv.URL, stored))
	require.False(t, res.Succeeded())
	require.Equal(t, 0, res.StatusCode, "nothing is sent unsigned")

	// A secret stored before a key was set still signs.
	plain, err := box.Open(shown)
	require.NoError(t, err)
	require.Equal(t, shown, plain)

	for _, bad := range []string{"short", "!!!not base64!!!"} {
		_, err := notify.NewSecretBox(bad)
		require.Error(t, err)
	}
}

func TestRefusedAddresses(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "fe80::1", "fd00:ec2::254",
		"64:ff9b::7f00:1", "224.0.0.1", "255.255.255.255"} {
		require.True(t, notify.Refused(netip.MustParseAddr(s)), s)
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "100.128.0.1", "172.32.0.1"} {
		require.False(t, notify.Refused(netip.MustParseAddr(s)), s)
	}
}

func TestCheckURLRefusesInternalAddresses(t *testing.T) {
	g := &notify.Guard{}
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/",
		"http://[::1]:8080/hook", "http://localhost:9000/hook", // a name that resolves to loopback
		"https://[::ffff:192.168.0.1]/", "http://100.64.1.1/",
	} {
		err := g.CheckURL(context.Background(), u)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), "%s: %v", u, err)
		require.Equal(t, "url", ve.Field, u)
	}
	require.NoError(t, g.CheckURL(context.Background(), "https://93.184.216.34/hook"))
	var ve *domain.ValidationError
	require.ErrorAs(t, g.CheckURL(context.Background(), "gopher://93.184.216.34/"), &ve)
	require.Equal(t, "url", ve.Field)

	allow := &notify.Guard{AllowPrivate: true}
	require.NoError(t, allow.CheckURL(context.Background(), "http://127.0.0.1:9/hook"))
}

// TestConnectTimeGuard: an endpoint that passed creation but now resolves to
// (or is) a loopback address — DNS rebinding — is refused when dialled, and
// the receiver never sees the request.
func TestConnectTimeGuard(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s := notify.NewSender(notify.SenderConfig{Guard: &notify.Guard{}})
	defer s.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		res := s.Send(context.Background(), message(u, "whsec_"+strings.Repeat("A", 32)))
		require.False(t, res.Succeeded(), u)
		require.Equal(t, 0, res.StatusCode, u)
		require.Contains(t, res.Err, "loopback", u)
	}
	require.Zero(t, hits.Load(), "no request reached the loopback receiver")
}

func TestSenderLimits(t *testing.T) {
	secret := "whsec_" + strings.Repeat("A", 32)
	release := make(chan struct{})
	var redirectedTo atomic.Int64
	var hugeWritten atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a closed connection once the body is read
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) { redirectedTo.Add(1) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for range 1024 { // 32 MiB offered
			n, err := w.Write(chunk)
			hugeWritten.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release) // before Close, which waits for handlers
	s := loopbackSender(t, nil, 300*time.Millisecond)
	ctx := context.Background()

	res := s.Send(ctx, message(srv.URL+"/slow", secret))
	require.Equal(t, 0, res.StatusCode)
	require.Contains(t, res.Err, "timed out")

	res = s.Send(ctx, message(srv.URL+"/redirect", secret))
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	require.False(t, res.Succeeded())
	require.Contains(t, res.Err, "not followed")
	require.Zero(t, redirectedTo.Load(), "the redirect was not followed")

	res = s.Send(ctx, message(srv.URL+"/huge", secret))
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.LessOrEqual(t, len(res.Err), 300, "the log keeps an excerpt")
	require.Less(t, hugeWritten.Load(), int64(32<<20), "the answer was not read to its end")

	res = s.Send(ctx, message(srv.URL+"/drop", secret))
	require.Equal(t, 0, res.StatusCode)
	require.NotEmpty(t, res.Err)

	res = s.Send(ctx, message(srv.URL+"/busy", secret))
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Equal(t, 120*time.Second, res.RetryAfter)

	res = s.Send(ctx, message(srv.URL+"/gone", secret))
	require.Equal(t, http.StatusGone, res.StatusCode)
}
