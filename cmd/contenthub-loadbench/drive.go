package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// measurement is one timed run of n operations at a concurrency.
type measurement struct {
	n         int
	took      time.Duration
	latencies []time.Duration
	cpu       float64 // service CPU seconds, when a service was measured
	rssMiB    float64 // service peak RSS during the run
}

func (m measurement) rate() float64 { return float64(m.n) / m.took.Seconds() }

func (m measurement) quantile(q float64) time.Duration { return quantile(m.latencies, q) }

func (m measurement) cpuPer1000() float64 { return m.cpu / float64(m.n) * 1000 }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// runConcurrently runs op(i) for i in [0, n) on c workers and times each.
func runConcurrently(ctx context.Context, n, c int, op func(ctx context.Context, i int) error) (measurement, error) {
	m := measurement{n: n, latencies: make([]time.Duration, n)}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				m.latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	m.took = time.Since(start)
	return m, firstErr
}

// measureService runs the operations against the service and adds its CPU
// time and peak RSS over the run.
func measureService(ctx context.Context, s *service, n, c int, op func(ctx context.Context, i int) error) (measurement, error) {
	resetPeakRSS(s.pid())
	cpu0, err := cpuSeconds(s.pid())
	if err != nil {
		return measurement{}, err
	}
	m, err := runConcurrently(ctx, n, c, op)
	if err != nil {
		return m, err
	}
	cpu1, err := cpuSeconds(s.pid())
	if err != nil {
		return m, err
	}
	m.cpu = cpu1 - cpu0
	m.rssMiB, err = peakRSS(s.pid())
	return m, err
}

// callbackAnswer is the part of the callback answer the benchmark checks.
type callbackAnswer struct {
	Success   bool   `json:"success"`
	Duplicate bool   `json:"duplicate"`
	Ignored   bool   `json:"ignored"`
	Status    string `json:"status"`
}

// deliver posts one callback and checks it was taken as wanted: applied
// (the task completed) or answered as a duplicate.
func deliver(ctx context.Context, client *http.Client, cb callback, duplicate bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.url, bytes.NewReader(cb.body))
	if err != nil {
		return err
	}
	req.Header = cb.header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var a callbackAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &a) != nil || !a.Success || a.Duplicate != duplicate ||
		a.Ignored || a.Status != "completed" {
		return fmt.Errorf("callback for %s (duplicate=%v): %d %s", cb.taskID, duplicate, resp.StatusCode, raw)
	}
	return nil
}

// sseWatcher follows an account's event stream and notes when each task
// was first seen completed.
type sseWatcher struct {
	mu        sync.Mutex
	completed map[string]time.Time
	notify    chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
}

func watchEvents(ctx context.Context, s *service, account int64) (*sseWatcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/content/events?account_id=%d", s.base, account), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+s.apiToken)
	resp, err := (&http.Client{}).Do(req) // no timeout: a stream
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("event stream: %d", resp.StatusCode)
	}
	w := &sseWatcher{completed: map[string]time.Time{}, notify: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	connected := make(chan struct{})
	go func() {
		defer close(w.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, ": connected") {
				once.Do(func() { close(connected) })
			}
			data, ok := strings.CutPrefix(line, "data:")
			if !ok {
				continue
			}
			at := time.Now()
			var ev struct {
				TaskID string `json:"task_id"`
				Status string `json:"status"`
			}
			if json.Unmarshal([]byte(strings.TrimSpace(data)), &ev) != nil || ev.Status != "completed" {
				continue
			}
			w.mu.Lock()
			if _, seen := w.completed[ev.TaskID]; !seen {
				w.completed[ev.TaskID] = at
			}
			w.mu.Unlock()
			select {
			case w.notify <- struct{}{}:
			default:
			}
		}
	}()
	select {
	case <-connected:
		return w, nil
	case <-time.After(10 * time.Second):
		w.close()
		return nil, fmt.Errorf("event stream sent no ': connected' within 10 s")
	}
}

// waitCompleted returns when the stream showed the task completed.
func (w *sseWatcher) waitCompleted(taskID string, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		at, ok := w.completed[taskID]
		w.mu.Unlock()
		if ok {
			return at, nil
		}
		select {
		case <-w.notify:
		case <-deadline:
			return time.Time{}, fmt.Errorf("no completed event for %s within %s", taskID, timeout)
		}
	}
}

func (w *sseWatcher) close() {
	w.cancel()
	<-w.done
}

// notificationLatency sends callbacks one at a time and times each until
// the completion is visible: through GET (asked right after the answer) and
// through the event stream.
func notificationLatency(ctx context.Context, s *service, sse *sseWatcher, cbs []callback) (viaGET, viaSSE []time.Duration, err error) {
	for _, cb := range cbs {
		sent := time.Now()
		if err := deliver(ctx, s.client, cb, false); err != nil {
			return nil, nil, err
		}
		var task struct {
			Status string `json:"status"`
		}
		if err := s.api(ctx, http.MethodGet, "/api/v1/content/tasks/"+cb.taskID, nil, &task); err != nil {
			return nil, nil, err
		}
		if task.Status != "completed" {
			return nil, nil, fmt.Errorf("task %s answered 200 but reads %q", cb.taskID, task.Status)
		}
		viaGET = append(viaGET, time.Since(sent))
		at, err := sse.waitCompleted(cb.taskID, 10*time.Second)
		if err != nil {
			return nil, nil, err
		}
		viaSSE = append(viaSSE, at.Sub(sent))
	}
	return viaGET, viaSSE, nil
}
