// Command webhookreceiver receives ContentHub's task notifications and
// verifies each with the standard-webhooks library. docs/webhooks.md shows
// this file; a test runs it against the service's sender.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	// The endpoint's secret, as POST /api/v1/webhook-endpoints answered it
	// (whsec_…). During a rotation, verify with the new one and fall back
	// to the old: both signatures are sent for NOTIFY_ROTATION_OVERLAP.
	wh, err := standardwebhooks.NewWebhook(os.Getenv("CONTENTHUB_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{} // webhook-id → handled; keep it in your database
	)
	http.HandleFunc("/contenthub", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		// Verify the raw body before parsing it. Verify also refuses a
		// webhook-timestamp more than 5 minutes away (replays).
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id") // the same on every retry of a message
		mu.Lock()
		dup := seen[id]
		seen[id] = true
		mu.Unlock()
		if dup {
			w.WriteHeader(http.StatusNoContent) // already handled: acknowledge, do nothing
			return
		}
		var msg struct {
			Type string `json:"type"`
			Data struct {
				TaskID    string  `json:"task_id"`
				Status    string  `json:"status"`
				ContentID *string `json:"content_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		// Answer 2xx quickly (within 15 s) and do the work afterwards; fetch
		// the article from /api/v1/contents/{content_id} when you need it.
		fmt.Printf("%s %s %s\n", id, msg.Type, msg.Data.TaskID)
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", os.Getenv("LISTEN_ADDR")) // e.g. 127.0.0.1:9000
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
