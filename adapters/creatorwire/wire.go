// Package creatorwire reads the vocabulary content-creator uses on every
// channel — its task states and its image lists — for the adapters that talk
// to it (creatorexec: its CLI; creatorapi: its HTTP server).
package creatorwire

import (
	"encoding/json"
	"strings"

	"contenthub/ports"
)

// PhaseOf maps content-creator's state names to the service's phases.
func PhaseOf(state string) ports.CreatorPhase {
	switch strings.ToLower(strings.TrimSpace(state)) {
	case "pending", "queued", "submitted", "running", "waiting", "processing":
		return ports.PhaseRunning
	case "completed":
		return ports.PhaseCompleted
	case "failed":
		return ports.PhaseFailed
	case "cancelled", "canceled":
		return ports.PhaseCancelled
	}
	return ports.PhaseUnknown
}

// ImageURLs reads a JSON list of images: URLs, or objects with a "url"
// ({url, localPath, prompt, …}). Anything else reads as no images.
func ImageURLs(list json.RawMessage) []string {
	var items []json.RawMessage
	if json.Unmarshal(list, &items) != nil {
		return nil
	}
	var urls []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			if s != "" {
				urls = append(urls, s)
			}
			continue
		}
		var img struct {
			URL string `json:"url"`
		}
		if json.Unmarshal(it, &img) == nil && img.URL != "" {
			urls = append(urls, img.URL)
		}
	}
	return urls
}
