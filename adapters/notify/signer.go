package notify

import (
	"fmt"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Sign returns the webhook-signature value for a message: one `v1,<base64>`
// per secret, space-separated (during a rotation's overlap a receiver holding
// either secret verifies it). It signs with the standard-webhooks library
// itself, so what receivers verify with that library is what it produced.
func Sign(id string, at time.Time, body []byte, secrets []string) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("sign message %s: no active secret", id)
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("sign message %s: secret: %w", id, err)
		}
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return "", fmt.Errorf("sign message %s: %w", id, err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
