package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// groupCommit is SQLite's write path: one goroutine owns the single writer
// connection and runs, in one transaction with one commit (one fsync of the
// WAL), every write transaction queued while the previous commit ran. Each
// write runs inside a SAVEPOINT of its own, so a write that fails (a
// duplicate delivery, a version conflict, a key taken) rolls back only its
// own changes and returns its own error, and its neighbours commit. Every
// caller is answered only after the commit returned: with synchronous=FULL
// an answered write is in the fsynced WAL, as with a transaction of its own.
type groupCommit struct {
	db    *sqlx.DB
	after func(context.Context) // run between groups, the connection free
	queue chan *groupWrite
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// maxGroup bounds a group: a longer one keeps its first writer waiting for
// little more saving.
const maxGroup = 128

// A groupWrite is one caller's transaction body, waiting for its group.
type groupWrite struct {
	ctx    context.Context
	fn     func(tx *sqlx.Tx) error
	state  atomic.Int32 // writeQueued, then writeTaken (by the committer) or writeWithdrawn (by the caller)
	answer chan groupAnswer
}

const (
	writeQueued int32 = iota
	writeTaken
	writeWithdrawn
)

// groupAnswer is a write's outcome; panicked carries a panic of fn to
// re-raise in the caller's goroutine.
type groupAnswer struct {
	err      error
	panicked any
}

// errStoreClosed answers writes after Close: unavailable (IsUnavailable),
// as database/sql's closed pool is.
var errStoreClosed = fmt.Errorf("store closed: %w", sql.ErrConnDone)

func newGroupCommit(db *sqlx.DB, after func(context.Context)) *groupCommit {
	g := &groupCommit{db: db, after: after, queue: make(chan *groupWrite, maxGroup),
		stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// close stops the committer once the group under way is answered; writes
// still queued are answered errStoreClosed.
func (g *groupCommit) close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
}

// run queues fn and waits for its answer: fn's error, the commit's, or nil
// once committed. A caller whose ctx ends before its write is taken leaves
// with nothing written; once taken, it waits for the commit (quick: the
// statements run in process), so that an error always means not written.
func (g *groupCommit) run(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	select {
	case <-g.stop:
		return fmt.Errorf("begin transaction: %w", errStoreClosed)
	default:
	}
	w := &groupWrite{ctx: ctx, fn: fn, answer: make(chan groupAnswer, 1)}
	select {
	case g.queue <- w:
	case <-ctx.Done():
		return fmt.Errorf("begin transaction: %w", ctx.Err())
	case <-g.stop:
		return fmt.Errorf("begin transaction: %w", errStoreClosed)
	}
	var a groupAnswer
	select {
	case a = <-w.answer:
	case <-ctx.Done():
		if w.state.CompareAndSwap(writeQueued, writeWithdrawn) {
			return fmt.Errorf("begin transaction: %w", ctx.Err())
		}
		a = <-w.answer
	case <-g.done:
		// The committer has stopped: a write it never took is refused; one
		// it took was answered before it stopped.
		if w.state.CompareAndSwap(writeQueued, writeWithdrawn) {
			return fmt.Errorf("begin transaction: %w", errStoreClosed)
		}
		a = <-w.answer
	}
	if a.panicked != nil {
		panic(a.panicked)
	}
	return a.err
}

func (g *groupCommit) loop() {
	defer close(g.done)
	group := make([]*groupWrite, 0, maxGroup)
	for {
		select {
		case w := <-g.queue:
			group = append(group[:0], w)
		case <-g.stop:
			g.refuseQueued()
			return
		}
	drain:
		for len(group) < maxGroup {
			select {
			case w := <-g.queue:
				group = append(group, w)
			default:
				break drain
			}
		}
		g.commit(g.take(group))
		clear(group)
		g.after(context.Background())
	}
}

func (g *groupCommit) refuseQueued() {
	for {
		select {
		case w := <-g.queue:
			if w.state.CompareAndSwap(writeQueued, writeTaken) {
				w.answer <- groupAnswer{err: fmt.Errorf("begin transaction: %w", errStoreClosed)}
			}
		default:
			return
		}
	}
}

// take keeps the writes whose callers still wait; one whose context ended
// in the queue is answered without running.
func (g *groupCommit) take(group []*groupWrite) []*groupWrite {
	kept := group[:0]
	for _, w := range group {
		if !w.state.CompareAndSwap(writeQueued, writeTaken) {
			continue // withdrawn
		}
		if err := w.ctx.Err(); err != nil {
			w.answer <- groupAnswer{err: fmt.Errorf("begin transaction: %w", err)}
			continue
		}
		kept = append(kept, w)
	}
	return kept
}

// commit runs a group in one transaction. A write alone runs as it always
// did, without a savepoint. If the group's transaction itself breaks (a
// savepoint that cannot be rolled back to: SQLite rolled the whole
// transaction back, e.g. on an interrupted statement), the writes not yet
// answered run again one transaction each, so one write's failure never
// becomes its neighbours'.
func (g *groupCommit) commit(group []*groupWrite) {
	switch len(group) {
	case 0:
		return
	case 1:
		g.alone(group[0])
		return
	}
	tx, err := g.db.BeginTxx(context.Background(), nil)
	if err != nil {
		for _, w := range group {
			w.answer <- groupAnswer{err: fmt.Errorf("begin transaction: %w", err)}
		}
		return
	}
	answers := make([]groupAnswer, len(group))
	for i, w := range group {
		a, ran, broken := g.inSavepoint(tx, w)
		if broken != nil {
			_ = tx.Rollback()
			// The write that broke the transaction keeps its own error;
			// the others, none of them written, run again on their own.
			for j, other := range group {
				if j == i && ran {
					w.answer <- a
					continue
				}
				g.alone(other)
			}
			return
		}
		answers[i] = a
	}
	if err := tx.Commit(); err != nil {
		for i := range answers {
			if answers[i].err == nil && answers[i].panicked == nil {
				answers[i].err = fmt.Errorf("commit: %w", err)
			}
		}
	}
	for i, w := range group {
		w.answer <- answers[i]
	}
}

// inSavepoint runs one write of a group: ran reports whether fn ran (its
// outcome then is a's, whatever happens to the group), broken a
// transaction the group cannot go on with.
func (g *groupCommit) inSavepoint(tx *sqlx.Tx, w *groupWrite) (a groupAnswer, ran bool, broken error) {
	if _, err := tx.Exec("SAVEPOINT group_write"); err != nil {
		return groupAnswer{}, false, err
	}
	a = callWrite(w.fn, tx)
	if a.err == nil && a.panicked == nil {
		if _, err := tx.Exec("RELEASE group_write"); err != nil {
			return groupAnswer{}, false, err // written, then lost: run it again
		}
		return a, true, nil
	}
	if _, err := tx.Exec("ROLLBACK TO group_write"); err != nil {
		return a, true, err
	}
	if _, err := tx.Exec("RELEASE group_write"); err != nil {
		return a, true, err
	}
	return a, true, nil
}

// alone runs one write in a transaction of its own.
func (g *groupCommit) alone(w *groupWrite) {
	var a groupAnswer
	func() {
		defer func() {
			if p := recover(); p != nil {
				a = groupAnswer{panicked: p} // inTx rolled back
			}
		}()
		a.err = inTx(context.Background(), g.db, nil, w.fn)
	}()
	w.answer <- a
}

// callWrite runs fn, turning a panic into an answer for its caller.
func callWrite(fn func(tx *sqlx.Tx) error, tx *sqlx.Tx) (a groupAnswer) {
	defer func() {
		if p := recover(); p != nil {
			a = groupAnswer{panicked: p}
		}
	}()
	return groupAnswer{err: fn(tx)}
}
