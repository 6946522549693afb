// Command contenthub-loadbench measures the callback path as a user loads
// it (issue 12): it starts the real contenthub binary on PostgreSQL and on
// SQLite, lets it hand tasks to a fake content-creator that records each
// attempt's callback URL (its token included), then sends `completed`
// callbacks the way the real sender does — a ~20 KB Chinese article with
// images, twice in the body, signed by scheme a, to the tokened URL — at
// several concurrencies, first deliveries and then the same bodies again.
// Interleaved with those runs, a plain program does the same writes directly
// through database/sql in one transaction (read the task row FOR UPDATE,
// update it, insert the content, the pool entry and the delivery record):
// the database's limit. It prints Markdown tables: rates, latencies, the
// ratio to that baseline, the service's CPU seconds per 1,000 callbacks
// (/proc/<pid>/stat) and peak RSS, and the notification latency of one
// sender (callback sent → visible through GET and through the event stream).
// Then the publish-pool claim (issue 23) and the dispatch section (issue 16,
// dispatch.go): a backlog of 4,000 tasks drained through the fair claim under
// CREATOR_MAX_CONCURRENCY=8, of one account and of 200 accounts × 20, and a
// batch create of 500 tasks against 500 single creates, with their targets
// met or not (-only-dispatch runs it alone, -dispatch-rounds 0 skips it).
//
//	contenthub-loadbench [-contenthub bin/contenthub] [-stores postgres,sqlite] [-rounds 3] …
//
// `make bench-load` builds and runs it. It is not part of `make test`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fake-creator" {
		if err := fakeCreator(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "contenthub-loadbench:", err)
		os.Exit(1)
	}
}

type options struct {
	binary      string
	article     string
	postgresURL string
	stores      []string
	levels      []int
	counts      map[int]int
	rounds      int
	latencyN    int
	keep        bool
	env         []string
	poolEntries int // 0: no pool measurement
	poolClaims  int
	onlyPool    bool
	// The dispatch section (issue 16): rounds (0: skipped), tasks per
	// backlog, and whether it is all that runs.
	dispatchRounds int
	dispatchTasks  int
	onlyDispatch   bool
	// subscribe adds one webhook endpoint (§13) on a loopback receiver that
	// answers 204, so that every completion also writes an outbox message
	// and the service sends it: compare its first deliveries with a run
	// without.
	subscribe bool
	// The tracing A/B: the binary built with -tags notrace ("" skips it),
	// callbacks per variant and round, and their concurrency.
	notraceBinary string
	tracingN      int
	tracingC      int
}

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("contenthub-loadbench", flag.ContinueOnError)
	o := options{}
	pg := os.Getenv("CONTENTHUB_TEST_POSTGRES_URL")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	fs.StringVar(&o.binary, "contenthub", "bin/contenthub", "the service binary to measure")
	fs.StringVar(&o.article, "article", "adapters/httpapi/testdata/article-zh-20k.md", "the Markdown article every callback carries (personalised per task)")
	fs.StringVar(&o.postgresURL, "postgres", pg, "PostgreSQL server; each run uses fresh schemas, dropped at the end")
	stores := fs.String("stores", "postgres,sqlite", "stores to measure")
	counts := fs.String("n", "1=300,8=800,64=1200", "concurrency=callbacks per run, in order")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; tables show medians")
	fs.IntVar(&o.latencyN, "latency", 100, "callbacks per round sent by one sender for the notification latency")
	fs.IntVar(&o.poolEntries, "pool-entries", 100000, "pending publish-pool entries the claim measurement starts from (0: skip it)")
	fs.IntVar(&o.poolClaims, "pool-claims", 300, "claims of 10 entries measured per store")
	fs.BoolVar(&o.onlyPool, "only-pool", false, "measure the publish-pool claim only")
	fs.IntVar(&o.dispatchRounds, "dispatch-rounds", 3, "rounds of the dispatch section: backlog drains of 1 and 200 accounts, batch create against single creates (0: skip it)")
	fs.IntVar(&o.dispatchTasks, "dispatch-tasks", 4000, "tasks in each drained backlog (a multiple of 200)")
	fs.BoolVar(&o.onlyDispatch, "only-dispatch", false, "run the dispatch section only")
	fs.StringVar(&o.notraceBinary, "contenthub-notrace", "", "the service built with -tags notrace: runs the tracing A/B on the first store (empty: skipped)")
	fs.IntVar(&o.tracingN, "tracing-n", 2000, "callbacks per variant and round of the tracing A/B (CPU is read in 10 ms ticks: 2,000 callbacks make a tick about 0.5 % of the reference)")
	fs.IntVar(&o.tracingC, "tracing-c", 8, "concurrency of the tracing A/B")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (service logs) and schemas")
	fs.BoolVar(&o.subscribe, "subscribe", false, "subscribe one webhook endpoint (a loopback receiver) to every task outcome")
	fs.Func("env", "KEY=VALUE added to the service's environment (repeatable), e.g. LOG_LEVEL=warn", func(kv string) error {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", kv)
		}
		o.env = append(o.env, kv)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.stores = strings.Split(*stores, ",")
	o.counts = map[int]int{}
	for part := range strings.SplitSeq(*counts, ",") {
		c, n, ok := strings.Cut(part, "=")
		ci, err1 := strconv.Atoi(c)
		ni, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || ci < 1 || ni < 1 {
			return o, fmt.Errorf("-n: want concurrency=count pairs, got %q", part)
		}
		o.levels = append(o.levels, ci)
		o.counts[ci] = ni
	}
	if o.dispatchTasks < 200 || o.dispatchTasks%200 != 0 {
		return o, errors.New("-dispatch-tasks must be a positive multiple of 200")
	}
	if o.onlyDispatch && o.dispatchRounds < 1 {
		return o, errors.New("-only-dispatch needs -dispatch-rounds of at least 1")
	}
	if o.rounds < 1 || o.latencyN < 1 {
		return o, errors.New("-rounds and -latency must be at least 1")
	}
	if o.subscribe {
		o.env = append(o.env, "NOTIFY_ALLOW_PRIVATE=true")
	}
	var err error
	if o.binary, err = filepath.Abs(o.binary); err != nil {
		return o, err
	}
	if o.notraceBinary != "" {
		if o.notraceBinary, err = filepath.Abs(o.notraceBinary); err != nil {
			return o, err
		}
	}
	return o, nil
}

func run(args []string, out io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(o.article)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(out, "# contenthub-loadbench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "%s\n\n", machine(ctx, o.postgresURL))
	if o.onlyDispatch {
		return runDispatch(ctx, o, self, out)
	}
	if !o.onlyPool {
		fmt.Fprintf(out, "Article: %s (%d bytes, sent twice per body as the real sender does); rounds: %d; callbacks per run: %s.\n\n",
			o.article, len(raw), o.rounds, countsText(o))
		fmt.Fprintf(out, "On PostgreSQL, once a round's tasks are submitted, every table is vacuumed and analysed and a checkpoint taken before the measurements (as pgbench does).\n\n")
	}
	for _, store := range o.stores {
		if o.onlyPool {
			break
		}
		res, err := runStore(ctx, o, store, string(raw), self)
		if err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
		res.print(out, o)
	}
	if o.notraceBinary != "" && len(o.stores) > 0 && !o.onlyPool {
		if err := runTracingAB(ctx, o, o.stores[0], string(raw), self, out); err != nil {
			return err
		}
	}
	if o.poolEntries > 0 {
		if o.poolClaims < 1 || o.poolClaims*10 > o.poolEntries {
			return errors.New("-pool-claims must be at least 1, and claim at most -pool-entries entries in all")
		}
		if err := runPools(ctx, o, out); err != nil {
			return err
		}
	}
	if o.dispatchRounds > 0 && !o.onlyPool {
		return runDispatch(ctx, o, self, out)
	}
	return nil
}

func countsText(o options) string {
	var parts []string
	for _, c := range o.levels {
		parts = append(parts, fmt.Sprintf("%d at concurrency %d", o.counts[c], c))
	}
	return strings.Join(parts, ", ")
}

// machine describes where the numbers come from.
func machine(ctx context.Context, postgresURL string) string {
	model := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	load := ""
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	pg := "PostgreSQL unreachable"
	if schemas, err := newPostgresSchemas(ctx, postgresURL); err == nil {
		_ = schemas.admin.QueryRowContext(ctx, "SELECT split_part(version(), ' on ', 1)").Scan(&pg)
		schemas.dropAll()
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), %s, %s, load average at start %s.", runtime.NumCPU(), model, pg, runtime.Version(), load)
}

// levelResult is one concurrency's runs, one per round.
type levelResult struct {
	baseline, first, duplicate []measurement
}

type storeResult struct {
	store          string
	levels         map[int]*levelResult
	viaGET, viaSSE []time.Duration
}

func runStore(ctx context.Context, o options, store, article, self string) (*storeResult, error) {
	workDir, err := os.MkdirTemp("", "contenthub-loadbench-")
	if err != nil {
		return nil, err
	}
	if !o.keep {
		defer os.RemoveAll(workDir)
	} else {
		fmt.Fprintf(os.Stderr, "%s: work directory %s\n", store, workDir)
	}

	var (
		serviceURL, baselineURL string
		settle                  = func(context.Context) error { return nil }
	)
	switch store {
	case "postgres":
		schemas, err := newPostgresSchemas(ctx, o.postgresURL)
		if err != nil {
			return nil, err
		}
		settle = schemas.settle
		if !o.keep {
			defer schemas.dropAll()
		}
		if serviceURL, err = schemas.create(ctx, "contenthub_loadbench"); err != nil {
			return nil, err
		}
		if baselineURL, err = schemas.create(ctx, "contenthub_loadbench_baseline"); err != nil {
			return nil, err
		}
	case "sqlite":
		serviceURL = "sqlite://" + filepath.Join(workDir, "contenthub.db")
		baselineURL = "sqlite://" + filepath.Join(workDir, "baseline.db")
	default:
		return nil, fmt.Errorf("unknown store %q: want postgres or sqlite", store)
	}
	for _, u := range []string{serviceURL, baselineURL} {
		if err := migrate(ctx, o.binary, u); err != nil {
			return nil, err
		}
	}
	secret := "loadbench-" + randomHex(16)
	svc, err := startService(ctx, serviceConfig{binary: o.binary, databaseURL: serviceURL, workDir: workDir, self: self, secret: secret, env: o.env})
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	if o.subscribe {
		received, stop, err := subscribe(ctx, svc)
		if err != nil {
			return nil, err
		}
		defer func() {
			stop()
			fmt.Fprintf(os.Stderr, "%s: the subscribed endpoint received %d messages\n", store, received.Load())
		}()
	}
	base, err := openBaseline(ctx, store, baselineURL, article)
	if err != nil {
		return nil, err
	}
	defer base.close()

	res := &storeResult{store: store, levels: map[int]*levelResult{}}
	for _, c := range o.levels {
		res.levels[c] = &levelResult{}
	}
	const (
		loadAccount    = 1
		latencyAccount = 3
	)
	for round := 1; round <= o.rounds; round++ {
		fmt.Fprintf(os.Stderr, "%s: round %d/%d: creating and submitting tasks\n", store, round, o.rounds)
		tasks := map[int][]string{}
		for _, c := range o.levels {
			ids, err := svc.createTasks(ctx, loadAccount, o.counts[c], func(i int) string {
				return fmt.Sprintf("边缘计算入门（第 %d 轮 %d 路 第 %d 篇）", round, c, i+1)
			})
			if err != nil {
				return nil, err
			}
			tasks[c] = ids
		}
		latencyIDs, err := svc.createTasks(ctx, latencyAccount, o.latencyN, func(i int) string {
			return fmt.Sprintf("边缘计算入门（第 %d 轮 时延 第 %d 篇）", round, i+1)
		})
		if err != nil {
			return nil, err
		}
		urls, err := svc.waitSubmitted(ctx, workDir, append(slices.Concat(mapValues(tasks)...), latencyIDs...))
		if err != nil {
			return nil, err
		}
		if err := settle(ctx); err != nil {
			return nil, err
		}

		for _, c := range o.levels {
			lr := res.levels[c]
			fmt.Fprintf(os.Stderr, "%s: round %d: concurrency %d\n", store, round, c)
			baseTasks, err := base.prepare(ctx, o.counts[c])
			if err != nil {
				return nil, err
			}
			cbs := callbacksFor(tasks[c], urls, article, secret)
			runBaseline := func() error {
				// The service's pool: at most baselineConns connections to
				// PostgreSQL (sqlstore's default), one writer on SQLite.
				conns := min(c, baselineConns)
				if store == "sqlite" {
					conns = 1
				}
				base.db.SetMaxOpenConns(conns)
				base.db.SetMaxIdleConns(conns)
				fmt.Fprintf(os.Stderr, "%s: round %d: concurrency %d: bare transaction\n", store, round, c)
				m, err := runConcurrently(ctx, len(baseTasks), c, func(ctx context.Context, i int) error {
					return base.complete(ctx, baseTasks[i])
				})
				lr.baseline = append(lr.baseline, m)
				return err
			}
			runService := func() error {
				fmt.Fprintf(os.Stderr, "%s: round %d: concurrency %d: first deliveries\n", store, round, c)
				m, err := measureService(ctx, svc, len(cbs), c, func(ctx context.Context, i int) error {
					return deliver(ctx, svc.client, cbs[i], false)
				})
				if err != nil {
					return err
				}
				lr.first = append(lr.first, m)
				fmt.Fprintf(os.Stderr, "%s: round %d: concurrency %d: duplicates\n", store, round, c)
				m, err = measureService(ctx, svc, len(cbs), c, func(ctx context.Context, i int) error {
					return deliver(ctx, svc.client, cbs[i], true)
				})
				lr.duplicate = append(lr.duplicate, m)
				return err
			}
			// Alternate which goes first, so neither always meets a warmer cache.
			steps := []func() error{runBaseline, runService}
			if round%2 == 0 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, step := range steps {
				if err := step(); err != nil {
					return nil, err
				}
			}
		}

		fmt.Fprintf(os.Stderr, "%s: round %d: notification latency\n", store, round)
		sse, err := watchEvents(ctx, svc, latencyAccount)
		if err != nil {
			return nil, err
		}
		get, viaSSE, err := notificationLatency(ctx, svc, sse, callbacksFor(latencyIDs, urls, article, secret))
		sse.close()
		if err != nil {
			return nil, err
		}
		res.viaGET = append(res.viaGET, get...)
		res.viaSSE = append(res.viaSSE, viaSSE...)
	}
	return res, nil
}

// baselineConns caps the baseline's PostgreSQL connections at the size of
// the service's pool, so that both meet the database through the same
// number of connections (64 connections on 2 cores cost the database more
// than they bring).
const baselineConns = 10

func mapValues(m map[int][]string) [][]string {
	var out [][]string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// callbacksFor prepares each task's completed callback, signed now.
func callbacksFor(ids []string, urls map[string]string, article, secret string) []callback {
	now := time.Now()
	cbs := make([]callback, len(ids))
	for i, id := range ids {
		topic := "边缘计算入门 " + id
		body := completedBody(id+"-1", topic, personalised(article, topic), now)
		cbs[i] = callback{taskID: id, url: urls[id], body: body, header: signedHeader(secret, body, now)}
	}
	return cbs
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(ms []measurement, f func(measurement) float64) float64 {
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = f(m)
	}
	return median(xs)
}

// ratios are per round (baseline and service ran side by side), then the median.
func medianRatio(a, b []measurement, f func(measurement) float64) float64 {
	xs := make([]float64, min(len(a), len(b)))
	for i := range xs {
		xs[i] = f(a[i]) / f(b[i])
	}
	return median(xs)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func msf(f float64) string { return ms(time.Duration(f)) }

func (r *storeResult) print(out io.Writer, o options) {
	fmt.Fprintf(out, "## %s\n\n", r.store)
	fmt.Fprintln(out, "First deliveries (`completed`, distinct tasks), against the bare transaction; medians of the rounds, ratios taken per round:")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| concurrency | service (callbacks/s) | p50 | p99 | bare transaction (tx/s) | p50 | p99 | ratio | service CPU per 1,000 | peak RSS |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|")
	rate := func(m measurement) float64 { return m.rate() }
	p50 := func(m measurement) float64 { return float64(m.quantile(0.50)) }
	p99 := func(m measurement) float64 { return float64(m.quantile(0.99)) }
	cpu := func(m measurement) float64 { return m.cpuPer1000() }
	rss := func(ms []measurement) float64 {
		peak := 0.0
		for _, m := range ms {
			peak = max(peak, m.rssMiB)
		}
		return peak
	}
	for _, c := range o.levels {
		l := r.levels[c]
		fmt.Fprintf(out, "| %d | %.0f | %s | %s | %.0f | %s | %s | %.2f | %.2f s | %.0f MiB |\n", c,
			medianOf(l.first, rate), msf(medianOf(l.first, p50)), msf(medianOf(l.first, p99)),
			medianOf(l.baseline, rate), msf(medianOf(l.baseline, p50)), msf(medianOf(l.baseline, p99)),
			medianRatio(l.first, l.baseline, rate), medianOf(l.first, cpu), rss(l.first))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Duplicates (the same bodies again):")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| concurrency | service (callbacks/s) | p50 | p99 | × first-delivery rate | service CPU per 1,000 | peak RSS |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
	for _, c := range o.levels {
		l := r.levels[c]
		fmt.Fprintf(out, "| %d | %.0f | %s | %s | %.1f | %.2f s | %.0f MiB |\n", c,
			medianOf(l.duplicate, rate), msf(medianOf(l.duplicate, p50)), msf(medianOf(l.duplicate, p99)),
			medianRatio(l.duplicate, l.first, rate), medianOf(l.duplicate, cpu), rss(l.duplicate))
	}
	fmt.Fprintln(out)
	var baseOne []time.Duration
	if l, ok := r.levels[1]; ok {
		for _, m := range l.baseline {
			baseOne = append(baseOne, m.latencies...)
		}
	}
	baseP99 := quantile(baseOne, 0.99)
	getP99, sseP99 := quantile(r.viaGET, 0.99), quantile(r.viaSSE, 0.99)
	fmt.Fprintf(out, "Notification latency, one sender (%d callbacks): callback sent → visible\n\n", len(r.viaGET))
	fmt.Fprintln(out, "| through | p50 | p99 | p99 ÷ the bare transaction's p99 at concurrency 1 |")
	fmt.Fprintln(out, "|---|---|---|---|")
	ratio := func(d time.Duration) string {
		if baseP99 == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", float64(d)/float64(baseP99))
	}
	fmt.Fprintf(out, "| GET /api/v1/content/tasks/{id} (asked after the 200) | %s | %s | %s |\n", ms(quantile(r.viaGET, 0.5)), ms(getP99), ratio(getP99))
	fmt.Fprintf(out, "| the account's event stream (SSE) | %s | %s | %s |\n", ms(quantile(r.viaSSE, 0.5)), ms(sseP99), ratio(sseP99))
	fmt.Fprintf(out, "| (the bare transaction alone, concurrency 1) | %s | %s | 1 |\n\n", ms(quantile(baseOne, 0.5)), ms(baseP99))
	if r.store == "postgres" {
		r.printTargets(out, o, baseP99)
	}
	r.printIssue20Targets(out, o)
}

// issue20Ratios are issue 20's floors for first deliveries ÷ the bare
// transaction, per store and concurrency.
var issue20Ratios = map[string]map[int]float64{
	"postgres": {8: 1.0, 64: 1.0},
	"sqlite":   {1: 0.7, 8: 0.9, 64: 0.9},
}

// issue20PeakRSS is issue 20's ceiling on the service's peak RSS, MiB.
const issue20PeakRSS = 64

// printIssue20Targets checks issue 20's "must show" items for this store.
func (r *storeResult) printIssue20Targets(out io.Writer, o options) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	rate := func(m measurement) float64 { return m.rate() }
	fmt.Fprintf(out, "Issue 20 targets (%s):\n\n", r.store)
	for _, c := range []int{1, 8, 64} {
		floor, ok := issue20Ratios[r.store][c]
		l, measured := r.levels[c]
		if !ok || !measured {
			continue
		}
		x := medianRatio(l.first, l.baseline, rate)
		fmt.Fprintf(out, "- first delivery ≥ %.1f × the bare transaction at concurrency %d: %.2f, %s\n", floor, c, x, verdict(x >= floor))
	}
	for _, c := range o.levels {
		l := r.levels[c]
		peak := 0.0
		for _, m := range slices.Concat(l.first, l.duplicate) {
			peak = max(peak, m.rssMiB)
		}
		fmt.Fprintf(out, "- peak RSS ≤ %d MiB at concurrency %d (first deliveries and duplicates): %.0f MiB, %s\n", issue20PeakRSS, c, peak, verdict(peak <= issue20PeakRSS))
	}
	fmt.Fprintln(out)
}

// printTargets checks issue 12's "must show" items against this run.
func (r *storeResult) printTargets(out io.Writer, o options, baseP99 time.Duration) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	rate := func(m measurement) float64 { return m.rate() }
	cpu := func(m measurement) float64 { return m.cpuPer1000() }
	fmt.Fprintln(out, "Issue 12 targets (PostgreSQL):")
	fmt.Fprintln(out)
	for _, c := range []int{8, 64} {
		if l, ok := r.levels[c]; ok {
			x := medianRatio(l.first, l.baseline, rate)
			fmt.Fprintf(out, "- first delivery ≥ 0.9 × the bare transaction at concurrency %d: %.2f, %s\n", c, x, verdict(x >= 0.9))
		}
	}
	worstFirst, worstDup := 0.0, 0.0
	for _, c := range o.levels {
		worstFirst = max(worstFirst, medianOf(r.levels[c].first, cpu))
		worstDup = max(worstDup, medianOf(r.levels[c].duplicate, cpu))
	}
	fmt.Fprintf(out, "- service CPU ≤ 2 s per 1,000 first deliveries: at most %.2f s, %s\n", worstFirst, verdict(worstFirst <= 2))
	fmt.Fprintf(out, "- service CPU ≤ 0.4 s per 1,000 duplicates: at most %.2f s, %s\n", worstDup, verdict(worstDup <= 0.4))
	if l, ok := r.levels[64]; ok {
		x := medianRatio(l.duplicate, l.first, rate)
		fmt.Fprintf(out, "- duplicates ≥ 5 × the first-delivery rate at concurrency 64: %.1f×, %s\n", x, verdict(x >= 5))
	}
	if baseP99 > 0 {
		for _, v := range []struct {
			name string
			d    time.Duration
		}{{"GET", quantile(r.viaGET, 0.99)}, {"SSE", quantile(r.viaSSE, 0.99)}} {
			x := float64(v.d) / float64(baseP99)
			fmt.Fprintf(out, "- one sender, visible through %s: p99 %.2f × the bare transaction's p99, %s\n", v.name, x, verdict(x <= 1.5))
		}
	}
	fmt.Fprintln(out)
}
