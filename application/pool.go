package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// PoolConfig tunes the publishers' use cases.
type PoolConfig struct {
	// Backoff spaces a failed entry's next claim; zero means
	// domain.DefaultPoolBackoff.
	Backoff domain.Backoff
	// LeaseSweep is how often expired leases are returned to pending; zero
	// means DefaultLeaseSweep.
	LeaseSweep time.Duration
}

// DefaultLeaseSweep is how often the pool's expired leases are released.
const DefaultLeaseSweep = 5 * time.Second

// Pool are the publish pool's use cases (§15): the list with its counts,
// and the publishers' claim, published and failed.
type Pool struct {
	deps  Deps
	store ports.PublishPool
	cfg   PoolConfig
}

// NewPool builds the pool use cases on the store's pool port.
func NewPool(deps Deps, store ports.PublishPool, cfg PoolConfig) *Pool {
	if cfg.Backoff == (domain.Backoff{}) {
		cfg.Backoff = domain.DefaultPoolBackoff
	}
	if cfg.LeaseSweep <= 0 {
		cfg.LeaseSweep = DefaultLeaseSweep
	}
	return &Pool{deps: deps, store: store, cfg: cfg}
}

// List returns entries in claim order with the counts per status (of the
// account, when given).
func (u *Pool) List(ctx context.Context, q ports.PoolEntryQuery) ([]ports.PoolItem, ports.PoolCounts, error) {
	if q.Status != "" && !q.Status.Valid() {
		return nil, nil, &domain.ValidationError{Field: "status", Message: "unknown publish-pool status"}
	}
	if q.Limit < 0 || q.Limit > 200 {
		return nil, nil, &domain.ValidationError{Field: "limit", Message: "must be between 1 and 200"}
	}
	if q.Limit == 0 {
		q.Limit = 200
	}
	items, err := u.store.ListPoolEntries(ctx, q)
	if err != nil {
		return nil, nil, unavailable("list publish pool", err)
	}
	counts, err := u.store.CountPool(ctx, q.AccountID)
	if err != nil {
		return nil, nil, unavailable("count publish pool", err)
	}
	return items, counts, nil
}

// Get returns one entry.
func (u *Pool) Get(ctx context.Context, id string) (ports.PoolItem, error) {
	if !domain.ValidTaskID(id) {
		return ports.PoolItem{}, fmt.Errorf("pool entry %q: %w", id, domain.ErrNotFound)
	}
	item, err := u.store.GetPoolEntry(ctx, id)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return item, unavailable("get pool entry", err)
	}
	return item, err
}

// ClaimRequest is a publisher's request for work.
type ClaimRequest struct {
	Limit     int
	Lease     time.Duration // 0 means domain.DefaultClaimLease
	AccountID int64
}

// ClaimedEntry is an entry leased to the caller, with the token that
// proves it (shown this once).
type ClaimedEntry struct {
	Entry domain.PoolEntry
	Token string
}

// Claim leases up to r.Limit due entries to the caller.
func (u *Pool) Claim(ctx context.Context, r ClaimRequest) ([]ClaimedEntry, error) {
	if err := domain.CheckClaimLimit(r.Limit); err != nil {
		return nil, err
	}
	if r.Lease == 0 {
		r.Lease = domain.DefaultClaimLease
	}
	if r.AccountID < 0 {
		return nil, &domain.ValidationError{Field: "account_id", Message: "must be a positive integer"}
	}
	secret := u.deps.IDs.NewToken()
	claim, err := domain.NewClaim(secret, u.deps.now(), r.Lease)
	if err != nil {
		return nil, err
	}
	entries, err := u.store.ClaimPool(ctx, ports.PoolClaimQuery{Claim: claim, Limit: r.Limit, AccountID: r.AccountID})
	if err != nil {
		return nil, unavailable("claim pool entries", err)
	}
	out := make([]ClaimedEntry, len(entries))
	for i, e := range entries {
		out[i] = ClaimedEntry{Entry: e, Token: domain.ClaimToken(secret, e.ID)}
	}
	return out, nil
}

// Published records that the holder of an entry's claim published it.
func (u *Pool) Published(ctx context.Context, id string, p domain.Publication) (domain.PoolEntry, error) {
	if err := p.Validate(); err != nil {
		return domain.PoolEntry{}, err
	}
	now := u.deps.now()
	return u.update(ctx, id, func(e *domain.PoolEntry) (domain.PoolOutcome, error) { return e.MarkPublished(p, now) })
}

// Failed records that publishing failed: retried after a backoff, or failed
// for good once the entry's retries are spent.
func (u *Pool) Failed(ctx context.Context, id string, f domain.PublishFailure) (domain.PoolEntry, error) {
	if err := f.Validate(); err != nil {
		return domain.PoolEntry{}, err
	}
	now := u.deps.now()
	return u.update(ctx, id, func(e *domain.PoolEntry) (domain.PoolOutcome, error) {
		f.Backoff = u.cfg.Backoff.Delay(e.RetryCount+1, u.deps.IDs.Jitter())
		return e.MarkFailed(f, now)
	})
}

func (u *Pool) update(ctx context.Context, id string, move func(*domain.PoolEntry) (domain.PoolOutcome, error)) (domain.PoolEntry, error) {
	if !domain.ValidTaskID(id) {
		return domain.PoolEntry{}, fmt.Errorf("pool entry %q: %w", id, domain.ErrNotFound)
	}
	e, err := u.store.UpdatePoolEntry(ctx, id, func(e *domain.PoolEntry) (ports.PoolChanges, error) {
		out, err := move(e)
		if err != nil {
			return ports.PoolChanges{}, err
		}
		return ports.PoolChanges{SaveEntry: out.Changed, Notify: u.deps.outbox(out.Announcement)}, nil
	})
	var ve *domain.ValidationError
	switch {
	case err == nil:
		return e, nil
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrConflict), errors.As(err, &ve):
		return domain.PoolEntry{}, err
	}
	return domain.PoolEntry{}, unavailable("update pool entry", err)
}

// Run returns entries whose lease expired to pending every LeaseSweep until
// ctx ends: a publisher that died does not hold its entries for ever.
func (u *Pool) Run(ctx context.Context) {
	tick := time.NewTicker(u.cfg.LeaseSweep)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := u.store.ReleaseExpiredLeases(ctx, u.deps.now())
		switch {
		case err != nil && ctx.Err() == nil:
			u.deps.Log.Warn("release expired pool leases", zap.Error(err))
		case n > 0:
			u.deps.Log.Info("pool leases expired: entries back to pending", zap.Int("entries", n))
		}
	}
}
