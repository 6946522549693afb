package domain_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestDeliveryID(t *testing.T) {
	body := []byte(`{"event":"completed","taskId":"task-abc-1"}`)
	base := domain.DeliveryID("", "task-abc", 1, "completed", body)

	require.Regexp(t, regexp.MustCompile(`^sha256:[0-9a-f]{64}$`), base)
	require.Equal(t, base, domain.DeliveryID("", "task-abc", 1, "completed", append([]byte(nil), body...)), "deterministic")

	variants := map[string]string{
		"task id":          domain.DeliveryID("", "task-abd", 1, "completed", body),
		"attempt":          domain.DeliveryID("", "task-abc", 2, "completed", body),
		"event":            domain.DeliveryID("", "task-abc", 1, "failed", body),
		"body":             domain.DeliveryID("", "task-abc", 1, "completed", append(append([]byte(nil), body...), ' ')),
		"empty body":       domain.DeliveryID("", "task-abc", 1, "completed", nil),
		"task/event split": domain.DeliveryID("", "task-ab", 1, "ccompleted", body),
		"event/body split": domain.DeliveryID("", "task-abc", 1, "complete", append([]byte("d"), body...)),
	}
	seen := map[string]string{base: "base"}
	for what, id := range variants {
		require.NotEqual(t, base, id, "a different %s must give a different id", what)
		prev, dup := seen[id]
		require.False(t, dup, "%s collides with %s", what, prev)
		seen[id] = what
	}
}

func TestDeliveryIDPrefersWebhookID(t *testing.T) {
	a := domain.DeliveryID("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "task-abc", 1, "completed", []byte(`{"a":1}`))
	b := domain.DeliveryID("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "task-abc", 1, "completed", []byte(`{"a": 1}`))
	require.Equal(t, "wh:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", a)
	require.Equal(t, a, b, "the sender's id identifies the delivery whatever the bytes")
	require.NotEqual(t, a, domain.DeliveryID("msg_other", "task-abc", 1, "completed", []byte(`{"a":1}`)))
	require.NotEqual(t, a, domain.DeliveryID("", "task-abc", 1, "completed", []byte(`{"a":1}`)))
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 test vector.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", domain.HashToken("abc"))
	require.NotEqual(t, domain.HashToken("abc"), domain.HashToken("abd"))
}
