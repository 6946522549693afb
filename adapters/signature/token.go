package signature

import (
	"crypto/subtle"

	"contenthub/domain"
)

// matchToken finds the attempt whose stored hash is the token's. It compares
// against every attempt in constant time and never stops early, so timing
// tells nothing about which attempt, if any, matched.
func matchToken(token string, attempts []domain.Attempt) (number int, ok bool) {
	hash := []byte(domain.HashToken(token))
	for _, a := range attempts {
		if a.TokenHash == "" {
			continue // an attempt without a token can never match
		}
		eq := subtle.ConstantTimeCompare(hash, []byte(a.TokenHash))
		number = subtle.ConstantTimeSelect(eq, a.Number, number)
		ok = ok || eq == 1
	}
	return number, ok
}
