package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"contenthub/adapters/clock"
	"contenthub/adapters/sqlstore"
	"contenthub/application"
	"contenthub/bootstrap"
)

const cleanupUsage = `Usage: contenthub cleanup --older-than AGE [--dry-run] [--batch N]

Deletes terminal tasks (completed, failed, timeout, cancelled) unchanged for
longer than AGE, with their attempts, callback deliveries, contents and
idempotency keys, N tasks per transaction. Active tasks are never touched, nor
tasks whose content is in the publish pool. AGE takes a unit: 30d, 12h, 90m.
--dry-run prints what would be deleted and deletes nothing.

Uses DATABASE_URL (unset: the SQLite file ./data/contenthub.db). RETENTION=AGE
makes a running service do the same every hour.
`

func cleanup(args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, cleanupUsage) }
	olderThan := fs.String("older-than", "", "age of the tasks to delete: 30d, 12h, 90m")
	dryRun := fs.Bool("dry-run", false, "count what would be deleted, delete nothing")
	batch := fs.Int("batch", sqlstore.DefaultRetentionBatch, "tasks per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see contenthub cleanup --help)", fs.Args())
	}
	age, err := parseAge(*olderThan)
	if err != nil {
		return err
	}
	if *batch <= 0 {
		return errors.New("--batch must be at least 1")
	}
	cfg, err := bootstrap.LoadConfig(environ)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Ready(ctx); err != nil {
		return err
	}
	retention := application.NewRetention(store, clock.System{}, zap.NewNop(), application.RetentionConfig{Batch: *batch})
	n, err := retention.Purge(ctx, age, *dryRun)
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(stdout, "cleanup: %s %d tasks unchanged for %s (%d attempts, %d deliveries, %d contents, %d idempotency keys)\n",
		verb, n.Tasks, *olderThan, n.Attempts, n.Deliveries, n.Contents, n.IdempotencyKeys)
	return err
}

// parseAge reads --older-than: a positive duration with its unit. A bare
// number is refused, so that "30" cannot mean 30 seconds by accident.
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("--older-than is required, e.g. --older-than 30d")
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("--older-than %s: give a unit, e.g. %sd or %sh", s, s, s)
	}
	age, err := bootstrap.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--older-than: %w", err)
	}
	if age <= 0 {
		return 0, fmt.Errorf("--older-than must be positive, got %s", s)
	}
	return age, nil
}
