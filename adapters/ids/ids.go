// Package ids makes identifiers and callback tokens from crypto/rand.
package ids

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"

	"contenthub/ports"
)

// Random is the production ports.IDGenerator.
type Random struct{}

var _ ports.IDGenerator = Random{}

// NewID returns prefix-<128 random bits, base64url>: URL-safe and within
// the [A-Za-z0-9_-]{1,100} lookup pattern.
func (Random) NewID(prefix string) string {
	return prefix + "-" + randomString(16)
}

// NewToken returns 32 random bytes, base64url without padding.
func (Random) NewToken() string { return randomString(32) }

// Jitter returns a uniform random number in [0, 1).
func (Random) Jitter() float64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

func randomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+ crashes instead).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
