package bootstrap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/dig"

	"contenthub/adapters/sqlstore"
)

// StartupError is a start-up failure an operator can fix: what could not be
// done, the underlying error, and what to do about it.
type StartupError struct {
	Problem string // e.g. "cannot listen on HTTP_ADDR 127.0.0.1:8080"
	Err     error
	Fix     string // e.g. "stop the other process or set HTTP_ADDR to a free address"
}

func (e *StartupError) Error() string {
	return fmt.Sprintf("%s: %v; %s", e.Problem, e.Err, e.Fix)
}

func (e *StartupError) Unwrap() error { return e.Err }

// Explain turns an error from building or starting the service into one
// line that names the root cause and, where known, the fix. The full chain
// (fx's dependency path included) is the error's own text.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var (
		ce  *ConfigError
		se  *StartupError
		msg string
	)
	switch {
	case errors.As(err, &ce):
		msg = ce.Error()
	case errors.As(err, &se):
		msg = se.Error()
	default:
		msg = dig.RootCause(err).Error()
	}
	return strings.Join(strings.Fields(msg), " ")
}

// databaseError explains a database that cannot be opened. The URL is shown
// without its password.
func databaseError(databaseURL string, err error) error {
	where := "the SQLite file " + sqlstore.DefaultSQLitePath
	switch {
	case strings.HasPrefix(databaseURL, "sqlite://"):
		where = "the SQLite file " + strings.TrimPrefix(databaseURL, "sqlite://")
	case databaseURL != "":
		where = "DATABASE_URL"
		if u, perr := url.Parse(databaseURL); perr == nil {
			where = "DATABASE_URL " + u.Redacted()
		}
	}
	fix := "check that the database server is running and reachable, and that DATABASE_URL is right"
	if !strings.HasPrefix(databaseURL, "postgres") {
		fix = "check that the directory exists and is writable, or set DATABASE_URL"
	}
	return &StartupError{Problem: "cannot open " + where, Err: err, Fix: fix}
}
