package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestAttemptOfRef(t *testing.T) {
	for _, n := range []int{1, 2, 11} {
		got, ok := domain.AttemptOfRef("task-abc", domain.ExternalRefFor("task-abc", n))
		require.True(t, ok)
		require.Equal(t, n, got)
	}
	for _, ref := range []string{"task-abc", "task-abc-", "task-abc-0", "task-abc-01", "task-abc-x", "task-abd-1", "other-1", "task-abc-1-2"} {
		_, ok := domain.AttemptOfRef("task-abc", ref)
		require.False(t, ok, ref)
	}
}
