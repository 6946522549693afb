// Package notify is the outbound half of Standard Webhooks (§13): endpoint
// secrets (made, sealed at rest, opened to sign), the signer, the HTTP sender
// with its limits, and the guard that keeps messages from reaching the
// service's own network.
package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"contenthub/ports"
)

// SecretBytes is the size of a new endpoint secret (§13: 24–64 bytes).
const SecretBytes = 32

const (
	secretPrefix = "whsec_"
	sealedPrefix = "sealed:v1:" // AES-256-GCM: base64(nonce ‖ ciphertext ‖ tag)
)

// ErrSealedWithoutKey reports a sealed secret read by a service that has no
// NOTIFY_SECRETS_KEY (or another one).
var ErrSealedWithoutKey = errors.New("secret is sealed and NOTIFY_SECRETS_KEY is unset or different")

// SecretBox makes endpoint secrets and seals them at rest with AES-256-GCM
// under NOTIFY_SECRETS_KEY, so that a dump of the database alone cannot sign.
// Without a key secrets are stored as they are (the service warns at start):
// a key made up per process would make every replica and restart sign
// differently.
type SecretBox struct {
	aead cipher.AEAD // nil: no key
}

var _ ports.WebhookSecrets = (*SecretBox)(nil)

// NewSecretBox takes NOTIFY_SECRETS_KEY: base64 of 32 bytes ("" = none).
func NewSecretBox(key string) (*SecretBox, error) {
	if key == "" {
		return &SecretBox{}, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(key), "="))
	}
	if err != nil || len(raw) != 32 {
		return nil, errors.New("must be base64 of 32 random bytes (openssl rand -base64 32)")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

// Sealing reports whether secrets are encrypted at rest.
func (b *SecretBox) Sealing() bool { return b.aead != nil }

// NewSecret returns whsec_ + base64 of SecretBytes random bytes, and its
// stored form.
func (b *SecretBox) NewSecret() (shown, stored string, err error) {
	key := make([]byte, SecretBytes)
	_, _ = rand.Read(key) // never fails (Go 1.24+)
	shown = secretPrefix + base64.StdEncoding.EncodeToString(key)
	stored, err = b.Seal(shown)
	return shown, stored, err
}

// Seal returns the stored form of secret.
func (b *SecretBox) Seal(secret string) (string, error) {
	if b.aead == nil {
		return secret, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := b.aead.Seal(nonce, nonce, []byte(secret), nil)
	return sealedPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Open returns the secret of a stored form. A secret stored before a key was
// set is read as it is.
func (b *SecretBox) Open(stored string) (string, error) {
	encoded, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	if b.aead == nil {
		return "", ErrSealedWithoutKey
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", fmt.Errorf("open secret: malformed")
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("open secret: %w", ErrSealedWithoutKey)
	}
	return string(plain), nil
}
