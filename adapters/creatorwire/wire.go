// Package creatorwire reads the vocabulary content-creator uses on every
// channel — its task states and its image lists — for the adapters that talk
// to it (creatorexec: its CLI; creatorapi: its HTTP server).
package creatorwire

import (
	"encoding/json"
	"strings"
	"time"

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

// UpdateTime reads a task's "updatedAt" (RFC 3339, as content-creator's
// JSON writes it: "2026-11-28T10:31:35.434Z"); anything else reads as the
// zero time, an answer without an update time.
func UpdateTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
