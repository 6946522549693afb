package application

import (
	"testing"
	"time"
)

// TestStorageRetryWaits: the run-outcome retries wait what they always
// have, now through domain.Backoff: 1 s, 2 s, 4 s, 8 s, 16 s, then stop.
func TestStorageRetryWaits(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	if storageRetries != len(want) {
		t.Fatalf("%d retries, want %d", storageRetries, len(want))
	}
	for try, w := range want {
		if got := storageRetry.Delay(try+1, 0); got != w {
			t.Fatalf("wait before try %d: %v, want %v", try+2, got, w)
		}
	}
}
