package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The dispatch section (issue 16, §11): how fast the real binary drains a
// backlog through the fair claim when the backlog is one account's and when
// it is spread over 200 accounts, under the same CLI ceiling; and a batch
// create of 500 tasks against 500 single creates.
const (
	dispatchCeiling   = 8 // CREATOR_MAX_CONCURRENCY of the drains
	dispatchBatchSize = 500
)

// drainShape is a backlog: accounts × tasks each.
type drainShape struct{ accounts, each int }

func (s drainShape) String() string {
	if s.accounts == 1 {
		return fmt.Sprintf("1 account × %d tasks", s.each)
	}
	return fmt.Sprintf("%d accounts × %d tasks", s.accounts, s.each)
}

// dispatchResult is one store's drains (tasks/s, one per round and shape)
// and batch measurements (per round: one batch of 500, 500 singles).
type dispatchResult struct {
	store          string
	shapes         []drainShape
	drains         map[drainShape][]float64
	batch, singles []time.Duration
}

// runDispatch measures every store and prints its table.
func runDispatch(ctx context.Context, o options, self string, out io.Writer) error {
	shapes := []drainShape{{1, o.dispatchTasks}, {200, o.dispatchTasks / 200}}
	fmt.Fprintf(out, "## Dispatch: backlog drain and batch create (§11)\n\n")
	fmt.Fprintf(out, "Each drain starts a fresh service (fresh database) with CREATOR_MAX_CONCURRENCY=%d and the fake creator, "+
		"creates the backlog in batches of %d while the %d slots are held (a submitted attempt holds its slot until its outcome), "+
		"then times from the first completed callback until every task has completed: each submission recorded by the fake creator "+
		"is answered at once with a completed callback (a short article), which frees the slot for the next claim. "+
		"Batch: one POST of %d tasks against %d single POSTs one after another, on a service whose slots are all held. Rounds: %d; medians.\n\n",
		dispatchCeiling, dispatchBatchSize, dispatchCeiling, dispatchBatchSize, dispatchBatchSize, o.dispatchRounds)
	for _, store := range o.stores {
		store = strings.TrimSpace(store)
		res := &dispatchResult{store: store, shapes: shapes, drains: map[drainShape][]float64{}}
		for round := 1; round <= o.dispatchRounds; round++ {
			order := shapes
			if round%2 == 0 { // alternate which goes first
				order = []drainShape{shapes[1], shapes[0]}
			}
			for _, shape := range order {
				fmt.Fprintf(os.Stderr, "%s: dispatch round %d/%d: drain %s\n", store, round, o.dispatchRounds, shape)
				rate, err := measureDrain(ctx, o, store, self, shape)
				if err != nil {
					return fmt.Errorf("%s dispatch drain %s: %w", store, shape, err)
				}
				res.drains[shape] = append(res.drains[shape], rate)
			}
			fmt.Fprintf(os.Stderr, "%s: dispatch round %d/%d: batch create\n", store, round, o.dispatchRounds)
			batch, singles, err := measureBatch(ctx, o, store, self, round)
			if err != nil {
				return fmt.Errorf("%s dispatch batch: %w", store, err)
			}
			res.batch, res.singles = append(res.batch, batch), append(res.singles, singles)
		}
		res.print(out)
	}
	return nil
}

func (r *dispatchResult) print(out io.Writer) {
	fmt.Fprintf(out, "### %s\n\n", r.store)
	fmt.Fprintf(out, "| backlog | tasks | drain, tasks/s (median) | runs |\n|---|---:|---:|---|\n")
	for _, s := range r.shapes {
		var runs []string
		for _, v := range r.drains[s] {
			runs = append(runs, fmt.Sprintf("%.0f", v))
		}
		fmt.Fprintf(out, "| %s | %d | %.0f | %s |\n", s, s.accounts*s.each, median(r.drains[s]), strings.Join(runs, ", "))
	}
	// Ratios are taken per round (the two drains of a round meet the same
	// load from other work), then their median, as the callback tables do.
	var drainRatios []float64
	var drainRounds []string
	for i := range r.drains[r.shapes[0]] {
		x := r.drains[r.shapes[1]][i] / r.drains[r.shapes[0]][i]
		drainRatios = append(drainRatios, x)
		drainRounds = append(drainRounds, fmt.Sprintf("%.2f×", x))
	}
	ratio := median(drainRatios)
	fmt.Fprintf(out, "\n| batch create of %d | time (median) | tasks/s |\n|---|---:|---:|\n", dispatchBatchSize)
	b, s := medianDuration(r.batch), medianDuration(r.singles)
	fmt.Fprintf(out, "| one batch | %s | %.0f |\n", ms(b), float64(dispatchBatchSize)/b.Seconds())
	fmt.Fprintf(out, "| %d singles, one after another | %s | %.0f |\n\n", dispatchBatchSize, ms(s), float64(dispatchBatchSize)/s.Seconds())
	var perRound []string
	var batchRatios []float64
	for i := range r.batch {
		x := r.singles[i].Seconds() / r.batch[i].Seconds()
		batchRatios = append(batchRatios, x)
		perRound = append(perRound, fmt.Sprintf("%.1f×", x))
	}
	batchRatio := median(batchRatios)
	fmt.Fprintf(out, "Targets (issue 16), medians of the per-round ratios: the 200-account drain at ≥ 0.9 × the 1-account rate: "+
		"%.2f× (rounds: %s) — %s; batch create ≥ 20 × the rate of single creates: %.1f× (rounds: %s) — %s.\n\n",
		ratio, strings.Join(drainRounds, ", "), metText(ratio >= 0.9), batchRatio, strings.Join(perRound, ", "), metText(batchRatio >= 20))
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

// dispatchService starts the binary on a fresh database of store with the
// drains' ceiling; stop ends it and drops what it made.
func dispatchService(ctx context.Context, o options, store, self string) (svc *service, workDir, secret string, stop func(), err error) {
	workDir, err = os.MkdirTemp("", "contenthub-loadbench-dispatch-")
	if err != nil {
		return nil, "", "", nil, err
	}
	cleanups := []func(){func() {
		if !o.keep {
			_ = os.RemoveAll(workDir)
		}
	}}
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	var databaseURL string
	switch store {
	case "postgres":
		schemas, err := newPostgresSchemas(ctx, o.postgresURL)
		if err != nil {
			stop()
			return nil, "", "", nil, err
		}
		if !o.keep {
			cleanups = append(cleanups, schemas.dropAll)
		}
		if databaseURL, err = schemas.create(ctx, "contenthub_loadbench_dispatch"); err != nil {
			stop()
			return nil, "", "", nil, err
		}
	case "sqlite":
		databaseURL = "sqlite://" + filepath.Join(workDir, "contenthub.db")
	default:
		stop()
		return nil, "", "", nil, fmt.Errorf("unknown store %q: want postgres or sqlite", store)
	}
	if err := migrate(ctx, o.binary, databaseURL); err != nil {
		stop()
		return nil, "", "", nil, err
	}
	secret = "loadbench-" + randomHex(16)
	env := append(append([]string{}, o.env...), fmt.Sprintf("CREATOR_MAX_CONCURRENCY=%d", dispatchCeiling))
	svc, err = startService(ctx, serviceConfig{binary: o.binary, databaseURL: databaseURL, workDir: workDir, self: self, secret: secret, env: env})
	if err != nil {
		stop()
		return nil, "", "", nil, err
	}
	cleanups = append(cleanups, svc.stop)
	return svc, workDir, secret, stop, nil
}

// createBatch creates tasks through the batch endpoint: item i of the batch
// on the account account(i).
func (s *service) createBatch(ctx context.Context, n int, account func(i int) int64, topic func(i int) string) error {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{"account_id": account(i), "topic": topic(i), "requirements": "写一篇面向开发者的科普文章", "priority": 5}
	}
	return s.api(ctx, http.MethodPost, "/api/v1/content/tasks/batch", map[string]any{"tasks": items}, nil)
}

// measureDrain drains one backlog of shape and returns its tasks/s.
func measureDrain(ctx context.Context, o options, store, self string, shape drainShape) (float64, error) {
	svc, workDir, secret, stop, err := dispatchService(ctx, o, store, self)
	if err != nil {
		return 0, err
	}
	defer stop()
	total := shape.accounts * shape.each
	// Task k goes to account k mod accounts: every batch mixes the accounts,
	// as a backlog built by many submitters would.
	for start := 0; start < total; start += dispatchBatchSize {
		n := min(dispatchBatchSize, total-start)
		if err := svc.createBatch(ctx, n, func(i int) int64 { return int64((start+i)%shape.accounts + 1) },
			func(i int) string { return fmt.Sprintf("边缘计算入门（积压 第 %d 篇）", start+i+1) }); err != nil {
			return 0, err
		}
	}
	article := "# 边缘计算入门\n\n边缘计算把计算放到离数据更近的地方，延迟更低，带宽更省。\n"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	subs := tailSubmits(ctx, workDir)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		began    time.Time
		once     sync.Once
	)
	work := make(chan submission, total)
	for range dispatchCeiling {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sub := range work {
				once.Do(func() { began = time.Now() })
				now := time.Now()
				body := completedBody(sub.ref, "边缘计算入门", article, now)
				cb := callback{taskID: filepath.Base(strings.SplitN(sub.url, "?", 2)[0]), url: sub.url, body: body, header: signedHeader(secret, body, now)}
				if err := deliver(ctx, svc.client, cb, false); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	seen := 0
	for sub := range subs {
		work <- sub
		if seen++; seen == total {
			break
		}
	}
	close(work)
	wg.Wait()
	took := time.Since(began)
	cancel()
	if firstErr != nil {
		return 0, firstErr
	}
	if seen < total {
		return 0, fmt.Errorf("only %d of %d tasks submitted: %w", seen, total, errors.Join(ctx.Err(), errors.New("see the service log with -keep")))
	}
	return float64(total) / took.Seconds(), nil
}

// submission is one line of the fake creator's record.
type submission struct{ ref, url string }

// tailSubmits follows the fake creator's record and sends each submission
// once, as it is appended, until ctx ends.
func tailSubmits(ctx context.Context, workDir string) <-chan submission {
	out := make(chan submission, 64)
	go func() {
		defer close(out)
		path := filepath.Join(workDir, submitsFile)
		var f *os.File
		for f == nil {
			var err error
			if f, err = os.Open(path); err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		defer f.Close()
		rd := bufio.NewReader(f)
		var partial string
		for {
			line, err := rd.ReadString('\n')
			if err == nil {
				ref, u, ok := strings.Cut(partial+strings.TrimSuffix(line, "\n"), "\t")
				partial = ""
				if ok {
					select {
					case out <- submission{ref: ref, url: u}:
					case <-ctx.Done():
						return
					}
				}
				continue
			}
			partial += line // appended so far; the rest follows
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return out
}

// measureBatch times one batch create of 500 tasks and 500 single creates,
// in an order that alternates with the round, on a service whose slots are
// held (the dispatcher claims nothing meanwhile).
func measureBatch(ctx context.Context, o options, store, self string, round int) (batch, singles time.Duration, err error) {
	svc, _, _, stop, err := dispatchService(ctx, o, store, self)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	// Take the slots first: these 8 are submitted and never answered.
	if _, err := svc.createTasks(ctx, 9, dispatchCeiling, func(i int) string { return fmt.Sprintf("占位 %d", i) }); err != nil {
		return 0, 0, err
	}
	time.Sleep(500 * time.Millisecond)
	runBatch := func() error {
		began := time.Now()
		err := svc.createBatch(ctx, dispatchBatchSize, func(i int) int64 { return int64(1 + i%5) },
			func(i int) string { return fmt.Sprintf("批量 第 %d 篇", i+1) })
		batch = time.Since(began)
		return err
	}
	runSingles := func() error {
		began := time.Now()
		for i := range dispatchBatchSize {
			if err := svc.api(ctx, http.MethodPost, "/api/v1/content/tasks", map[string]any{
				"account_id": 1 + i%5, "topic": fmt.Sprintf("单个 第 %d 篇", i+1), "requirements": "写一篇面向开发者的科普文章", "priority": 5,
			}, nil); err != nil {
				return err
			}
		}
		singles = time.Since(began)
		return nil
	}
	steps := []func() error{runBatch, runSingles}
	if round%2 == 0 {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return 0, 0, err
		}
	}
	return batch, singles, nil
}
