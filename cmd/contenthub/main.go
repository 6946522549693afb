// Command contenthub runs the ContentHub task service.
//
//	contenthub [serve] [--role all|api|worker]   run the service (default)
//	contenthub migrate up|down|status            manage the database schema
//	contenthub sign --secret S [--scheme a|b|c]   print callback signature headers
//	contenthub cleanup --older-than 30d [--dry-run] delete finished tasks
//	contenthub help                              this text
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/fx"

	"contenthub/adapters/sqlstore"
	"contenthub/bootstrap"
)

const usage = `contenthub — the ContentHub task service

Usage:
  contenthub [serve] [--role all|api|worker]   run the service (default: serve --role all)
  contenthub migrate up|down|status            apply, roll back one, or list database migrations
  contenthub sign --secret S [--scheme a|b|c|all] [--body JSON]
                                               print callback signature headers (see sign --help)
  contenthub cleanup --older-than 30d [--dry-run]
                                               delete terminal tasks unchanged that long (see cleanup --help)
  contenthub help                              show this text

Roles: all = HTTP API and background work; api = HTTP only; worker = dispatcher,
reconciler and content-creator runner only.

Configuration is read from the environment (HTTP_ADDR, DATABASE_URL, WEBHOOK_*,
CREATOR_*, POLL_INTERVAL, CALLBACK_GRACE, TASK_TIMEOUT, LOG_LEVEL, LOG_FORMAT, …);
see README.md for the full table.
`

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, environ, stderr)
	case "migrate":
		err = migrate(args, environ, stdout)
	case "sign":
		err = sign(args, os.Stdin, stdout, stderr)
	case "cleanup":
		err = cleanup(args, environ, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "contenthub: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "contenthub %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func serve(args, environ []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roleFlag := fs.String("role", "all", "what this replica runs: all, api or worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	role, err := bootstrap.ParseRole(*roleFlag)
	if err != nil {
		return err
	}
	cfg, err := bootstrap.LoadConfig(environ)
	if err != nil {
		return err
	}
	app := fx.New(bootstrap.App(cfg, role))
	if err := app.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	<-app.Wait()
	// Two drain phases of SHUTDOWN_TIMEOUT each (requests, loops), then closing.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 2*cfg.ShutdownTimeout+10*time.Second)
	defer cancelStop()
	return app.Stop(stopCtx)
}

const migrateUsage = `Usage: contenthub migrate up|down|status

  up      apply every pending migration
  down    roll back the newest applied migration
  status  list migrations and whether each is applied

Uses DATABASE_URL (unset: the SQLite file ./data/contenthub.db).
`

func migrate(args, environ []string, stdout io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, migrateUsage)
		return nil
	}
	if len(args) != 1 {
		return fmt.Errorf("want one of: up, down, status (see contenthub migrate --help)")
	}
	cfg, err := bootstrap.LoadConfig(environ)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	switch args[0] {
	case "up":
		err = store.MigrateUp(ctx)
	case "down":
		err = store.MigrateDown(ctx)
	case "status":
		err = store.MigrationStatus(ctx, stdout)
	default:
		return fmt.Errorf("unknown migrate action %q: want up, down or status", args[0])
	}
	if err == nil && args[0] != "status" {
		fmt.Fprintf(stdout, "migrate %s: done\n", args[0])
	}
	return err
}
