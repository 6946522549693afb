package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

var _ ports.ScheduleStore = (*Store)(nil)

// Schedules (§12) and their runs. A run, its tasks and the schedule moved on
// are one transaction; the unique key (schedule_id, fire_time) makes a fire
// time create its run once, and the schedule's row lock (PostgreSQL; SQLite
// has one writer) makes a replica that waited see the schedule moved on.

// DefaultRunsLimit caps ListRuns when the caller sets no limit.
const DefaultRunsLimit = 50

// jsonCol is a value stored as JSON text.
type jsonCol[T any] struct{ V T }

func (c jsonCol[T]) Value() (driver.Value, error) {
	b, err := json.Marshal(c.V)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func (c *jsonCol[T]) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan JSON: unsupported type %T", src)
	}
	return json.Unmarshal(b, &c.V)
}

// topicJSON is a schedule topic as stored.
type topicJSON struct {
	Topic        string   `json:"topic"`
	Keywords     []string `json:"keywords,omitempty"`
	Requirements string   `json:"requirements,omitempty"`
	Tone         string   `json:"tone,omitempty"`
	Category     string   `json:"category,omitempty"`
}

type scheduleRow struct {
	ID              string               `db:"id"`
	Name            string               `db:"name"`
	Cron            string               `db:"cron"`
	Timezone        string               `db:"timezone"`
	AccountIDs      jsonCol[[]int64]     `db:"account_ids"`
	CountPerAccount int                  `db:"count_per_account"`
	Topics          jsonCol[[]topicJSON] `db:"topics"`
	Priority        int                  `db:"priority"`
	AutoApprove     bool                 `db:"auto_approve"`
	MaxRetries      int                  `db:"max_retries"`
	Enabled         bool                 `db:"enabled"`
	Misfire         string               `db:"misfire"`
	TopicCursor     int                  `db:"topic_cursor"`
	NextRunAt       dbTime               `db:"next_run_at"`
	LastRunID       string               `db:"last_run_id"`
	CreatedAt       dbTime               `db:"created_at"`
	UpdatedAt       dbTime               `db:"updated_at"`
	Version         int64                `db:"version"`
}

var scheduleColumns = []string{
	"id", "name", "cron", "timezone", "account_ids", "count_per_account", "topics", "priority",
	"auto_approve", "max_retries", "enabled", "misfire", "topic_cursor", "next_run_at", "last_run_id",
	"created_at", "updated_at", "version",
}

var scheduleSelect = strings.Join(scheduleColumns, ", ")

func scheduleRowOf(s domain.ScheduleSnapshot) scheduleRow {
	topics := make([]topicJSON, len(s.Topics))
	for i, t := range s.Topics {
		topics[i] = topicJSON{Topic: t.Topic, Keywords: t.Keywords, Requirements: t.Requirements, Tone: t.Tone, Category: t.Category}
	}
	return scheduleRow{
		ID: s.ID, Name: s.Name, Cron: s.Cron, Timezone: s.Timezone,
		AccountIDs: jsonCol[[]int64]{s.AccountIDs}, CountPerAccount: s.CountPerAccount,
		Topics: jsonCol[[]topicJSON]{topics}, Priority: s.Priority, AutoApprove: s.AutoApprove,
		MaxRetries: s.MaxRetries, Enabled: s.Enabled, Misfire: string(s.Misfire), TopicCursor: s.TopicCursor,
		NextRunAt: timeCol(s.NextRunAt), LastRunID: s.LastRunID,
		CreatedAt: timeCol(s.CreatedAt), UpdatedAt: timeCol(s.UpdatedAt), Version: s.Version,
	}
}

func (r scheduleRow) schedule() *domain.Schedule {
	topics := make([]domain.ScheduleTopic, len(r.Topics.V))
	for i, t := range r.Topics.V {
		topics[i] = domain.ScheduleTopic{Topic: t.Topic, Keywords: t.Keywords, Requirements: t.Requirements, Tone: t.Tone, Category: t.Category}
	}
	return domain.RehydrateSchedule(domain.ScheduleSnapshot{
		ID: r.ID, Name: r.Name, Cron: r.Cron, Timezone: r.Timezone, AccountIDs: r.AccountIDs.V,
		CountPerAccount: r.CountPerAccount, Topics: topics, Priority: r.Priority, AutoApprove: r.AutoApprove,
		MaxRetries: r.MaxRetries, Enabled: r.Enabled, Misfire: domain.Misfire(r.Misfire),
		TopicCursor: r.TopicCursor, NextRunAt: r.NextRunAt.Time, LastRunID: r.LastRunID,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time, Version: r.Version,
	})
}

type runRow struct {
	ID             string                  `db:"id"`
	ScheduleID     string                  `db:"schedule_id"`
	FireTime       dbTime                  `db:"fire_time"`
	Trigger        string                  `db:"run_trigger"`
	Status         string                  `db:"status"`
	Error          string                  `db:"error"`
	TaskIDs        jsonList                `db:"task_ids"`
	AccountStats   jsonCol[map[string]int] `db:"account_stats"`
	TotalSubmitted int                     `db:"total_submitted"`
	CreatedAt      dbTime                  `db:"created_at"`
}

var runColumns = []string{
	"id", "schedule_id", "fire_time", "run_trigger", "status", "error", "task_ids", "account_stats",
	"total_submitted", "created_at",
}

var runSelect = strings.Join(runColumns, ", ")

func runRowOf(r domain.ScheduleRun) runRow {
	stats := make(map[string]int, len(r.AccountStats))
	for account, n := range r.AccountStats {
		stats[strconv.FormatInt(account, 10)] = n
	}
	return runRow{
		ID: r.ID, ScheduleID: r.ScheduleID, FireTime: timeCol(r.FireTime), Trigger: string(r.Trigger),
		Status: string(r.Status), Error: r.Error, TaskIDs: r.TaskIDs,
		AccountStats: jsonCol[map[string]int]{stats}, TotalSubmitted: r.TotalSubmitted,
		CreatedAt: timeCol(r.CreatedAt),
	}
}

func (r runRow) run() domain.ScheduleRun {
	stats := make(map[int64]int, len(r.AccountStats.V))
	for account, n := range r.AccountStats.V {
		id, err := strconv.ParseInt(account, 10, 64)
		if err == nil {
			stats[id] = n
		}
	}
	return domain.ScheduleRun{
		ID: r.ID, ScheduleID: r.ScheduleID, FireTime: r.FireTime.Time, Trigger: domain.RunTrigger(r.Trigger),
		Status: domain.RunStatus(r.Status), Error: r.Error, TaskIDs: r.TaskIDs, AccountStats: stats,
		TotalSubmitted: r.TotalSubmitted, CreatedAt: r.CreatedAt.Time,
	}
}

var (
	insertScheduleSQL = insertSQL("schedules", scheduleColumns)
	updateScheduleSQL = func() string {
		sets := make([]string, 0, len(scheduleColumns))
		for _, c := range scheduleColumns[1:] {
			sets = append(sets, c+" = ?")
		}
		return "UPDATE schedules SET " + strings.Join(sets, ", ") + " WHERE id = ? AND version = ?"
	}()
	// Only the fire-time key is a no-op: any other conflict is an error.
	insertRunSQL = insertSQL("schedule_runs", runColumns) + " ON CONFLICT (schedule_id, fire_time) DO NOTHING"
)

// CreateSchedule stores a new schedule; an id that exists is domain.ErrConflict.
func (s *Store) CreateSchedule(ctx context.Context, sch *domain.Schedule) error {
	row := scheduleRowOf(sch.Snapshot())
	return s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(insertScheduleSQL+" ON CONFLICT DO NOTHING"), rowValues(row, scheduleColumns)...)
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return fmt.Errorf("create schedule %s: id exists: %w", row.ID, domain.ErrConflict)
			}
			return fmt.Errorf("create schedule %s: %w", row.ID, err)
		}
		return nil
	})
}

// GetSchedule returns a schedule with its last run.
func (s *Store) GetSchedule(ctx context.Context, id string) (ports.ScheduleItem, error) {
	var items []ports.ScheduleItem
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		items, err = readSchedules(ctx, tx, "WHERE id = ?", id)
		return err
	})
	if err != nil {
		return ports.ScheduleItem{}, err
	}
	if len(items) == 0 {
		return ports.ScheduleItem{}, fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
	}
	return items[0], nil
}

// ListSchedules returns every schedule with its last run, oldest first.
func (s *Store) ListSchedules(ctx context.Context) ([]ports.ScheduleItem, error) {
	var items []ports.ScheduleItem
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		items, err = readSchedules(ctx, tx, "ORDER BY created_at, id")
		return err
	})
	return items, err
}

// readSchedules reads schedules and, with one more query, their last runs.
func readSchedules(ctx context.Context, tx *sqlx.Tx, rest string, args ...any) ([]ports.ScheduleItem, error) {
	var rows []scheduleRow
	if err := tx.SelectContext(ctx, &rows, tx.Rebind("SELECT "+scheduleSelect+" FROM schedules "+rest), args...); err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	var runIDs []string
	for _, r := range rows {
		if r.LastRunID != "" {
			runIDs = append(runIDs, r.LastRunID)
		}
	}
	runs := map[string]domain.ScheduleRun{}
	if len(runIDs) > 0 {
		query, qargs, err := sqlx.In("SELECT "+runSelect+" FROM schedule_runs WHERE id IN (?)", runIDs)
		if err != nil {
			return nil, fmt.Errorf("read last runs: %w", err)
		}
		var runRows []runRow
		if err := tx.SelectContext(ctx, &runRows, tx.Rebind(query), qargs...); err != nil {
			return nil, fmt.Errorf("read last runs: %w", err)
		}
		for _, r := range runRows {
			runs[r.ID] = r.run()
		}
	}
	items := make([]ports.ScheduleItem, len(rows))
	for i, r := range rows {
		items[i].Schedule = r.schedule()
		if run, ok := runs[r.LastRunID]; ok {
			items[i].LastRun = &run
		}
	}
	return items, nil
}

// lockSchedule loads a schedule for the rest of the transaction: its row
// locked on PostgreSQL (SQLite's transactions already exclude each other).
func (s *Store) lockSchedule(ctx context.Context, tx *sqlx.Tx, id string) (*domain.Schedule, error) {
	query := "SELECT " + scheduleSelect + " FROM schedules WHERE id = ?"
	if s.flavor.dialect == Postgres {
		query += " FOR UPDATE"
	}
	var row scheduleRow
	err := tx.GetContext(ctx, &row, tx.Rebind(query), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("load schedule %s: %w", id, err)
	}
	return row.schedule(), nil
}

// saveSchedule writes sch if it is still at the version it was read at.
func saveSchedule(ctx context.Context, tx *sqlx.Tx, sch *domain.Schedule) error {
	snap := sch.Snapshot()
	expected := snap.Version
	snap.Version++
	values := rowValues(scheduleRowOf(snap), scheduleColumns)
	res, err := tx.ExecContext(ctx, tx.Rebind(updateScheduleSQL), append(values[1:], snap.ID, expected)...)
	if err := oneRow(res, err); err != nil {
		if errors.Is(err, errNoRow) {
			return fmt.Errorf("save schedule %s: %w", snap.ID, domain.ErrVersionConflict)
		}
		return fmt.Errorf("save schedule %s: %w", snap.ID, err)
	}
	return nil
}

// UpdateSchedule changes a schedule through fn, in one transaction.
func (s *Store) UpdateSchedule(ctx context.Context, id string, fn func(*domain.Schedule) error) (*domain.Schedule, error) {
	var out *domain.Schedule
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		sch, err := s.lockSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(sch); err != nil {
			return err
		}
		if err := saveSchedule(ctx, tx, sch); err != nil {
			return err
		}
		out = sch
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.MarkSaved(out.Version() + 1)
	return out, nil
}

// DeleteSchedule removes a schedule and its runs; the tasks they created stay.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	return s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		// Runs first: SQLite's foreign keys cascade only when enabled.
		if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM schedule_runs WHERE schedule_id = ?"), id); err != nil {
			return fmt.Errorf("delete schedule %s: runs: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM schedules WHERE id = ?"), id)
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
			}
			return fmt.Errorf("delete schedule %s: %w", id, err)
		}
		return nil
	})
}

// FireSchedule writes what fn plans for the locked schedule: the run (once
// per schedule and fire time), its tasks, the schedule moved on.
func (s *Store) FireSchedule(ctx context.Context, id string, fn ports.FireFunc) (*domain.Schedule, error) {
	var out *domain.Schedule
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		sch, err := s.lockSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		plan, ok, err := fn(sch)
		if err != nil || !ok {
			return err
		}
		if plan.Run != nil {
			res, err := tx.ExecContext(ctx, tx.Rebind(insertRunSQL), rowValues(runRowOf(*plan.Run), runColumns)...)
			if err := oneRow(res, err); err != nil {
				if errors.Is(err, errNoRow) {
					return fmt.Errorf("schedule %s at %s: %w", id, plan.Run.FireTime.Format(time.RFC3339Nano), domain.ErrRunExists)
				}
				return fmt.Errorf("schedule %s: insert run: %w", id, err)
			}
		}
		for _, t := range plan.Tasks {
			if err := insertTask(ctx, tx, t.Snapshot()); err != nil {
				return fmt.Errorf("schedule %s: run %s: %w", id, plan.Run.ID, err)
			}
		}
		if err := saveSchedule(ctx, tx, sch); err != nil {
			return err
		}
		out = sch
		return nil
	})
	if err != nil || out == nil {
		return nil, err
	}
	out.MarkSaved(out.Version() + 1)
	return out, nil
}

// ListRuns returns a schedule's runs, newest first.
func (s *Store) ListRuns(ctx context.Context, scheduleID string, limit int) ([]domain.ScheduleRun, error) {
	if limit <= 0 {
		limit = DefaultRunsLimit
	}
	var rows []runRow
	if err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(
		"SELECT "+runSelect+" FROM schedule_runs WHERE schedule_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"),
		scheduleID, limit); err != nil {
		return nil, fmt.Errorf("list runs of schedule %s: %w", scheduleID, err)
	}
	runs := make([]domain.ScheduleRun, len(rows))
	for i, r := range rows {
		runs[i] = r.run()
	}
	return runs, nil
}

// DueSchedules returns enabled schedules whose next fire time has come.
func (s *Store) DueSchedules(ctx context.Context, now time.Time) ([]string, error) {
	var ids []string
	if err := s.reads.SelectContext(ctx, &ids, s.reads.Rebind(
		"SELECT id FROM schedules WHERE enabled AND next_run_at <= ? ORDER BY next_run_at, id"), timeCol(now)); err != nil {
		return nil, fmt.Errorf("due schedules: %w", err)
	}
	return ids, nil
}

// NextFireTime returns the earliest next fire time of enabled schedules.
func (s *Store) NextFireTime(ctx context.Context) (time.Time, error) {
	var next dbTime
	if err := s.reads.GetContext(ctx, &next, "SELECT MIN(next_run_at) FROM schedules WHERE enabled"); err != nil {
		return time.Time{}, fmt.Errorf("next fire time: %w", err)
	}
	return next.Time, nil
}
