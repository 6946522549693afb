package main

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
)

// subscribe starts a loopback receiver answering 204 and subscribes it to
// every task outcome; the service must run with NOTIFY_ALLOW_PRIVATE=true
// (run adds it with -subscribe). It returns the count of messages received
// and a stop function.
func subscribe(ctx context.Context, svc *service) (*atomic.Int64, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	var received atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	err = svc.api(ctx, http.MethodPost, "/api/v1/webhook-endpoints", map[string]any{
		"url": "http://" + ln.Addr().String() + "/hook", "events": []string{"task.completed", "task.failed", "task.timeout", "task.cancelled"},
		"description": "loadbench",
	}, nil)
	if err != nil {
		_ = srv.Close()
		return nil, nil, err
	}
	return &received, func() { _ = srv.Close() }, nil
}
