package creatorexec

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// chunks writes data to w in pieces of the given sizes, cycling through them.
func chunks(t *testing.T, w interface{ Write([]byte) (int, error) }, data []byte, sizes ...int) {
	t.Helper()
	for i := 0; len(data) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(data))
		got, err := w.Write(data[:n])
		require.NoError(t, err)
		require.Equal(t, n, got, "a write must report everything taken")
		data = data[n:]
	}
}

func sequence(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%7))
	}
	return b.Bytes()[:n]
}

func TestHeadBufferKeepsTheFirstBytes(t *testing.T) {
	data := sequence(10_000)
	for _, sizes := range [][]int{{1}, {7, 300}, {4096}, {20_000}} {
		h := &headBuffer{limit: 1000}
		chunks(t, h, data, sizes...)
		require.Equal(t, data[:1000], h.Bytes())
		require.True(t, h.Truncated())
	}

	h := &headBuffer{limit: 1000}
	chunks(t, h, data[:1000], 10)
	require.Equal(t, data[:1000], h.Bytes())
	require.False(t, h.Truncated(), "exactly the limit is not cut")
}

func TestTailBufferKeepsTheLastBytes(t *testing.T) {
	data := sequence(10_000)
	for _, sizes := range [][]int{{1}, {7, 300}, {999, 1, 1001}, {4096}, {20_000}} {
		tb := &tailBuffer{limit: 1000}
		chunks(t, tb, data, sizes...)
		require.Equal(t, data[len(data)-1000:], tb.Bytes(), "chunks %v", sizes)
		require.Len(t, tb.buf, 1000, "memory stays at the limit")
		require.True(t, tb.Truncated())
	}

	tb := &tailBuffer{limit: 1000}
	chunks(t, tb, data[:600], 50)
	require.Equal(t, data[:600], tb.Bytes())
	require.False(t, tb.Truncated())
}

func TestRedactorTail(t *testing.T) {
	red := newRedactor("s3cret-key", "http://127.0.0.1:8080/api/v1/content/callback/task-1?token=abc%2Bdef&x=1")

	got := red.tail([]byte("curl http://h/cb?token=abc+def&x=1 failed; token abc%2Bdef; key s3cret-key; other?Token=zzz\n"))
	require.Equal(t, "curl http://h/cb?token=REDACTED&x=1 failed; token REDACTED; key REDACTED; other?Token=REDACTED", got)

	long := strings.Repeat("错误", 2000) + "\x1b[31mlast words\x1b[39m\n"
	got = red.tail([]byte(long))
	require.True(t, utf8.ValidString(got))
	require.True(t, strings.HasPrefix(got, "…"))
	require.True(t, strings.HasSuffix(got, "错误last words"))
	require.LessOrEqual(t, len(got), tailBytes+len("…"))

	require.Equal(t, "bad \uFFFD byte", red.tail([]byte("bad \xff byte")))
}

func TestRedactorTailNeverShowsAPieceOfASecret(t *testing.T) {
	// Upper case and digits only, so any piece of them stands out in the
	// lower-case filler.
	const token, secret = "TOKEN0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "SECRET9876543210"
	red := newRedactor(secret, "http://h/cb?token="+token)
	for _, leak := range []string{"see ?token=" + token + "&x=1", "env " + secret} {
		// Slide the window's start across the leak, one byte at a time.
		for c := 0; c <= len(leak); c++ {
			prefix := "log: "
			filler := strings.Repeat("log ", tailWindow)[:tailWindow-len(" the end")-len(leak)+c]
			out := prefix + leak + filler + " the end"
			require.Equal(t, len(prefix)+c, len(out)-tailWindow)

			got := red.tail([]byte(out))
			require.True(t, strings.HasSuffix(got, " the end"))
			rest := strings.ReplaceAll(got, redacted, "")
			require.False(t, strings.ContainsAny(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), "cut at %d of %q: %q", c, leak, got[:40])
		}
	}
}
