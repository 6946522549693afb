// Command contenthub runs the ContentHub task service.
//
//	contenthub [serve] [--role all|api|worker]   run the service (default)
//	contenthub migrate up|down|status            manage the database schema
//	contenthub sign --secret S [--scheme a|b|c]   print callback signature headers
//	contenthub cleanup --older-than 30d [--dry-run] delete finished tasks
//	contenthub help [command]                    this text, or a command's own
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
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
  contenthub help [command]                    show this text, or a command's own (also: --help, -h)

Roles: all = HTTP API and background work; api = HTTP only; worker = dispatcher,
reconciler and content-creator runner only.

Configuration is read from the environment (HTTP_ADDR, DATABASE_URL, WEBHOOK_*,
CREATOR_*, POLL_INTERVAL, CALLBACK_GRACE, TASK_TIMEOUT, LOG_LEVEL, LOG_FORMAT, …);
see README.md for the full table. Logs go to standard output; a start-up failure
is one line on standard error (the full error chain too at LOG_LEVEL=debug).
`

const serveUsage = `Usage: contenthub serve [--role all|api|worker]

Runs the service until SIGINT or SIGTERM. "serve" is the default command.

  --role all     the HTTP API, the dashboard and the background work (default)
  --role api     the HTTP API and the dashboard only
  --role worker  the dispatcher, the reconciler and the content-creator runner only

Configuration is read from the environment (see README.md). With
LOG_FORMAT=console (as in "make run") the service prints, once it is ready, the
URLs of the API, the dashboard and the metrics and a curl command to try.
`

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// commandUsage is each command's own help, for `contenthub help COMMAND`.
var commandUsage = map[string]string{"serve": serveUsage, "migrate": migrateUsage, "sign": signUsage, "cleanup": cleanupUsage}

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "--help", "-help":
		return true
	}
	return false
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		if len(args) > 1 && commandUsage[args[1]] != "" {
			fmt.Fprint(stdout, commandUsage[args[1]])
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, environ, stdout, stderr)
	case "migrate":
		err = migrate(args, environ, stdout)
	case "sign":
		err = sign(args, os.Stdin, stdout, stderr)
	case "cleanup":
		err = cleanup(args, environ, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "contenthub: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		// One line naming the cause and the fix; the whole chain (fx's
		// dependency path included) only when debugging.
		fmt.Fprintf(stderr, "contenthub %s: %s\n", cmd, bootstrap.Explain(err))
		if strings.EqualFold(envValue(environ, "LOG_LEVEL"), "debug") && bootstrap.Explain(err) != err.Error() {
			fmt.Fprintf(stderr, "contenthub %s: full error: %v\n", cmd, err)
		}
		return 1
	}
	return 0
}

// serveGCPercent is the service's garbage-collection target. Its live heap
// is a few MiB while each callback allocates a few hundred KiB (the 48 KB
// body, its decoded article, the statement carrying it), so at Go's default
// of 100 the collector runs every few dozen callbacks; 200 takes 10–12 % off
// the CPU of a callback for about 6 MiB more memory (docs/benchmarks.md).
const serveGCPercent = 200

// defaultGCPercent is serveGCPercent unless the operator set GOGC, which the
// Go runtime has already applied.
func defaultGCPercent(environ []string) (int, bool) {
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); k == "GOGC" {
			return 0, false
		}
	}
	return serveGCPercent, true
}

// serveMemoryLimit is the service's soft memory limit (the runtime's
// GOMEMLIMIT): under a burst of large callbacks the heap grows to
// GOGC=200's goal of three times the live heap; the limit makes the
// collector run sooner instead, keeping peak RSS within issue 20's 64 MiB
// at concurrency 64 (docs/benchmarks.md). It is soft: a live heap above it
// is kept, collected more often, never refused.
const serveMemoryLimit = 40 << 20

// defaultMemoryLimit is serveMemoryLimit unless the operator set
// GOMEMLIMIT, which the Go runtime has already applied.
func defaultMemoryLimit(environ []string) (int64, bool) {
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); k == "GOMEMLIMIT" {
			return 0, false
		}
	}
	return serveMemoryLimit, true
}

// envValue returns the value of name in environ (os.Environ() form).
func envValue(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

func serve(args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	roleFlag := fs.String("role", "all", "what this replica runs: all, api or worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see contenthub serve --help)", fs.Arg(0))
	}
	role, err := bootstrap.ParseRole(*roleFlag)
	if err != nil {
		return err
	}
	cfg, err := bootstrap.LoadConfig(environ)
	if err != nil {
		return err
	}
	if percent, ok := defaultGCPercent(environ); ok {
		debug.SetGCPercent(percent)
	}
	if limit, ok := defaultMemoryLimit(environ); ok {
		debug.SetMemoryLimit(limit)
	}
	var server *bootstrap.HTTPServer
	opts := []fx.Option{bootstrap.App(cfg, role)}
	if role != bootstrap.RoleWorker {
		opts = append(opts, fx.Populate(&server))
	}
	app := fx.New(opts...)
	if err := app.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	if server != nil && cfg.LogFormat == "console" {
		fmt.Fprint(stdout, readyBanner(server.Addr(), len(cfg.APITokens) > 0))
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

// readyBanner is what a person running the service locally needs first:
// where everything is, and a request to paste.
func readyBanner(addr string, tokens bool) string {
	// A wildcard listen address is reachable on loopback.
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	base := "http://" + addr
	auth := ""
	if tokens {
		auth = ` -H "Authorization: Bearer $API_TOKEN"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nContentHub is ready.\n")
	fmt.Fprintf(&b, "  API        %s/api/v1/content/tasks\n", base)
	fmt.Fprintf(&b, "  Dashboard  %s/ui/\n", base)
	fmt.Fprintf(&b, "  Metrics    %s/metrics\n", base)
	fmt.Fprintf(&b, "  Try        curl -s -X POST %s/api/v1/content/tasks -H 'Content-Type: application/json'%s -d '{\"account_id\":1,\"topic\":\"边缘计算入门\"}'\n", base, auth)
	if tokens {
		b.WriteString("             (API_TOKENS is set: export API_TOKEN=<one of them> first)\n")
	}
	b.WriteString("\n")
	return b.String()
}
