package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"contenthub/domain"
)

// timeLayout is how times travel to both databases: fixed-width UTC text with
// microseconds. SQLite stores it as is, so text order is time order;
// PostgreSQL parses it into TIMESTAMPTZ.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// dbTime is a time column: UTC, truncated to microseconds, NULL for the zero time.
type dbTime struct{ time.Time }

func (t dbTime) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.UTC().Format(timeLayout), nil
}

func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}

func (t *dbTime) parse(s string) error {
	parsed, err := time.Parse(time.RFC3339Nano, s) // timeLayout is a form of RFC 3339
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	t.Time = parsed.UTC()
	return nil
}

// timeCol is t as stored: UTC, truncated to microseconds.
func timeCol(t time.Time) dbTime {
	if t.IsZero() {
		return dbTime{}
	}
	return dbTime{t.UTC().Truncate(time.Microsecond)}
}

// jsonList is a list of strings stored as JSON text; empty reads back as nil.
type jsonList []string

func (l jsonList) Value() (driver.Value, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func (l *jsonList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan list: unsupported type %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan list: %w", err)
	}
	if len(out) == 0 {
		out = nil
	}
	*l = out
	return nil
}

// rawText is opaque bytes kept as text (the sender's metrics JSON); nil is
// NULL. Invalid UTF-8, which PostgreSQL's TEXT refuses, is replaced: the bytes
// are kept for audit only, and a completion must not fail over them.
type rawText []byte

func (r rawText) Value() (driver.Value, error) {
	if r == nil {
		return nil, nil
	}
	return strings.ToValidUTF8(string(r), "\uFFFD"), nil
}

func (r *rawText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r = nil
	case string:
		*r = []byte(v)
	case []byte:
		*r = append([]byte(nil), v...)
	default:
		return fmt.Errorf("scan text: unsupported type %T", src)
	}
	return nil
}

// errorColumns splits an optional error into three nullable columns: all NULL
// when there is none, so "no error" and "an error with empty parts" differ.
func errorColumns(e *domain.TaskError) (code, typ, msg sql.NullString) {
	if e == nil {
		return
	}
	return sql.NullString{String: e.Code, Valid: true},
		sql.NullString{String: e.Type, Valid: true},
		sql.NullString{String: e.Message, Valid: true}
}

func taskError(code, typ, msg sql.NullString) *domain.TaskError {
	if !code.Valid && !typ.Valid && !msg.Valid {
		return nil
	}
	return &domain.TaskError{Code: code.String, Type: typ.String, Message: msg.String}
}
