package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"contenthub/adapters/sqlstore"
	"contenthub/domain"
	"contenthub/ports"
)

// The publish-pool claim (§15): a publisher's claim of 10 entries from a
// pool of many pending ones, against one bare indexed update of the same
// table on the same database. The claim is measured twice: as the store
// runs it (sqlstore.ClaimPool, the statement and its round trip), and
// through the real binary's API (POST /api/v1/publish-pool/claim).

// poolResult is one store's claim measurements.
type poolResult struct {
	store               string
	entries, claims     int
	bare, claim, viaAPI []time.Duration
}

// seedPoolSQL fills a migrated database with n completed tasks, their
// approved contents and their pending pool entries (priorities 1–10,
// scheduled over the past n seconds), in one statement per table.
func seedPoolSQL(dialect string) []string {
	if dialect == "postgres" {
		const g = "FROM generate_series(1, $1) AS g"
		return []string{
			`INSERT INTO tasks (id, account_id, topic, priority, auto_approve, status, attempt, max_attempts,
				content_id, created_at, updated_at, version)
			SELECT 'task-pool-' || g, 1 + g % 10, '边缘计算入门 ' || g, 1 + g % 10, true, 'completed', 1, 4,
				'content-pool-' || g, now(), now(), 1 ` + g,
			`INSERT INTO contents (id, task_id, account_id, attempt, title, summary, body, word_count, review_status,
				created_at, reviewer, reviewed_at)
			SELECT 'content-pool-' || g, 'task-pool-' || g, 1 + g % 10, 1, '边缘计算入门 ' || g, '摘要', '# 边缘计算入门',
				10, 'approved', now(), 'auto', now() ` + g,
			`INSERT INTO publish_pool (id, content_id, task_id, account_id, priority, status, scheduled_at, created_at,
				available_at, max_retries, updated_at)
			SELECT 'pool-' || g, 'content-pool-' || g, 'task-pool-' || g, 1 + g % 10, 1 + g % 10, 'pending',
				now() - g * interval '1 second', now(), now() - g * interval '1 second', 3, now() ` + g,
		}
	}
	const (
		with = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) "
		now  = "strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')"
		past = "strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now', '-' || n || ' seconds')"
	)
	return []string{
		with + `INSERT INTO tasks (id, account_id, topic, priority, auto_approve, status, attempt, max_attempts,
			content_id, created_at, updated_at, version)
		SELECT 'task-pool-' || n, 1 + n % 10, '边缘计算入门 ' || n, 1 + n % 10, 1, 'completed', 1, 4,
			'content-pool-' || n, ` + now + `, ` + now + `, 1 FROM g`,
		with + `INSERT INTO contents (id, task_id, account_id, attempt, title, summary, body, word_count, review_status,
			created_at, reviewer, reviewed_at)
		SELECT 'content-pool-' || n, 'task-pool-' || n, 1 + n % 10, 1, '边缘计算入门 ' || n, '摘要', '# 边缘计算入门',
			10, 'approved', ` + now + `, 'auto', ` + now + ` FROM g`,
		with + `INSERT INTO publish_pool (id, content_id, task_id, account_id, priority, status, scheduled_at, created_at,
			available_at, max_retries, updated_at)
		SELECT 'pool-' || n, 'content-pool-' || n, 'task-pool-' || n, 1 + n % 10, 1 + n % 10, 'pending',
			` + past + `, ` + now + `, ` + past + `, 3, ` + now + ` FROM g`,
	}
}

func runPool(ctx context.Context, o options, store string) (*poolResult, error) {
	workDir, err := os.MkdirTemp("", "contenthub-loadbench-pool-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(workDir)
	var databaseURL string
	settle := func(context.Context) error { return nil }
	switch store {
	case "postgres":
		schemas, err := newPostgresSchemas(ctx, o.postgresURL)
		if err != nil {
			return nil, err
		}
		defer schemas.dropAll()
		if databaseURL, err = schemas.create(ctx, "contenthub_loadbench_pool"); err != nil {
			return nil, err
		}
		settle = schemas.settle
	case "sqlite":
		databaseURL = "sqlite://" + filepath.Join(workDir, "pool.db")
	default:
		return nil, fmt.Errorf("unknown store %q", store)
	}
	if err := migrate(ctx, o.binary, databaseURL); err != nil {
		return nil, err
	}
	base, err := openBaseline(ctx, store, databaseURL, "")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s: pool: seeding %d pending entries\n", store, o.poolEntries)
	for _, q := range seedPoolSQL(store) {
		if _, err := base.db.ExecContext(ctx, base.q(q), o.poolEntries); err != nil {
			_ = base.close()
			return nil, fmt.Errorf("seed the pool: %w", err)
		}
	}
	if err := settle(ctx); err != nil {
		_ = base.close()
		return nil, err
	}
	res := &poolResult{store: store, entries: o.poolEntries, claims: o.poolClaims}

	// The bare indexed update: one pending entry's row by its primary key,
	// autocommitted, as a plain program would.
	fmt.Fprintf(os.Stderr, "%s: pool: %d bare updates\n", store, o.poolClaims)
	update := base.q("UPDATE publish_pool SET updated_at = ? WHERE id = ?")
	for range o.poolClaims {
		id := fmt.Sprintf("pool-%d", 1+rand.IntN(o.poolEntries))
		at := time.Now().UTC().Format(baselineTime)
		start := time.Now()
		if _, err := base.db.ExecContext(ctx, update, at, id); err != nil {
			_ = base.close()
			return nil, fmt.Errorf("bare update: %w", err)
		}
		res.bare = append(res.bare, time.Since(start))
	}
	if err := base.close(); err != nil {
		return nil, err
	}

	// The store's claim, in process: the service's code without HTTP.
	fmt.Fprintf(os.Stderr, "%s: pool: %d store claims of 10\n", store, o.poolClaims)
	s, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	for i := range o.poolClaims {
		claim, err := domain.NewClaim(fmt.Sprintf("bench%d%s", i, randomHex(8)), time.Now(), 5*time.Minute)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		start := time.Now()
		got, err := s.ClaimPool(ctx, ports.PoolClaimQuery{Claim: claim, Limit: 10})
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("claim: %w", err)
		}
		res.claim = append(res.claim, time.Since(start))
		if len(got) != 10 {
			_ = s.Close()
			return nil, fmt.Errorf("claim %d took %d entries, want 10", i, len(got))
		}
	}
	if err := s.Close(); err != nil {
		return nil, err
	}

	// The same through the real binary.
	fmt.Fprintf(os.Stderr, "%s: pool: %d API claims of 10\n", store, o.poolClaims)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	svc, err := startService(ctx, serviceConfig{binary: o.binary, databaseURL: databaseURL, workDir: workDir,
		self: self, secret: "loadbench-" + randomHex(16), env: o.env})
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	for i := range o.poolClaims {
		var answer struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		start := time.Now()
		if err := svc.api(ctx, "POST", "/api/v1/publish-pool/claim", map[string]any{"limit": 10, "lease": "5m"}, &answer); err != nil {
			return nil, err
		}
		res.viaAPI = append(res.viaAPI, time.Since(start))
		if len(answer.Items) != 10 {
			return nil, fmt.Errorf("API claim %d took %d entries, want 10", i, len(answer.Items))
		}
	}
	return res, nil
}

func (r *poolResult) print(out io.Writer) {
	fmt.Fprintf(out, "## %s: publish-pool claim\n\n", r.store)
	fmt.Fprintf(out, "A claim of 10 entries from a pool of %d pending ones (%d claims, one at a time), against one bare "+
		"indexed update of a pool entry by id (autocommitted) on the same database:\n\n", r.entries, r.claims)
	fmt.Fprintln(out, "| operation | p50 | p99 | p99 ÷ the bare update's p99 |")
	fmt.Fprintln(out, "|---|---|---|---|")
	baseP99 := quantile(r.bare, 0.99)
	row := func(name string, ds []time.Duration) {
		p99 := quantile(ds, 0.99)
		fmt.Fprintf(out, "| %s | %s | %s | %.2f |\n", name, ms(quantile(ds, 0.5)), ms(p99), float64(p99)/float64(baseP99))
	}
	row("bare indexed update (one row by id)", r.bare)
	row("claim of 10, the store (sqlstore.ClaimPool)", r.claim)
	row("claim of 10, through the API (POST /api/v1/publish-pool/claim)", r.viaAPI)
	fmt.Fprintln(out)
	x := float64(quantile(r.claim, 0.99)) / float64(baseP99)
	verdict := "met"
	if x > 2 {
		verdict = "NOT met"
	}
	fmt.Fprintf(out, "Issue 23 target: the claim's p99 within 2 × the bare update's p99 (the store's claim): %.2f×, %s.\n\n",
		x, verdict)
}

// runPools measures the pool claim on every store.
func runPools(ctx context.Context, o options, out io.Writer) error {
	for _, store := range o.stores {
		res, err := runPool(ctx, o, strings.TrimSpace(store))
		if err != nil {
			return fmt.Errorf("%s pool: %w", store, err)
		}
		res.print(out)
	}
	return nil
}
