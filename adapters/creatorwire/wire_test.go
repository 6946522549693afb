package creatorwire_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorwire"
	"contenthub/ports"
)

func TestPhaseOf(t *testing.T) {
	for state, want := range map[string]ports.CreatorPhase{
		"pending": ports.PhaseRunning, "waiting": ports.PhaseRunning, " Running ": ports.PhaseRunning,
		"completed": ports.PhaseCompleted, "failed": ports.PhaseFailed, "canceled": ports.PhaseCancelled,
		"exploded": ports.PhaseUnknown, "": ports.PhaseUnknown,
	} {
		require.Equal(t, want, creatorwire.PhaseOf(state), state)
	}
}

func TestImageURLs(t *testing.T) {
	// Its API's images (api-post-ok.txt), its CLI's text report (URL strings), and junk.
	require.Equal(t, []string{"https://example.com/1.png", "data/images/2.png"}, creatorwire.ImageURLs(json.RawMessage(
		`[{"url":"https://example.com/1.png","localPath":"data/images/1.png","prompt":"p","width":1920},"data/images/2.png",{"prompt":"no url"},""]`)))
	require.Nil(t, creatorwire.ImageURLs(json.RawMessage(`{"url":"x"}`)))
	require.Nil(t, creatorwire.ImageURLs(nil))
}
