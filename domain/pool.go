package domain

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// PoolStatus is where a publish-pool entry stands.
type PoolStatus string

const (
	PoolPending   PoolStatus = "pending"   // waiting for a publisher, from AvailableAt on
	PoolClaimed   PoolStatus = "claimed"   // leased to one publisher until LeaseExpiresAt
	PoolPublished PoolStatus = "published" // done
	PoolFailed    PoolStatus = "failed"    // given up after MaxRetries failures
)

// PoolStatuses lists every status, in the order of the entry's life.
var PoolStatuses = []PoolStatus{PoolPending, PoolClaimed, PoolPublished, PoolFailed}

// Valid reports whether s is a known pool status.
func (s PoolStatus) Valid() bool {
	_, ok := poolMoves[s]
	return ok
}

// Bounds of the publishers' API (§15).
const (
	DefaultPoolMaxRetries = 3
	MinClaimLimit         = 1
	MaxClaimLimit         = 50
	MinClaimLease         = 10 * time.Second
	MaxClaimLease         = time.Hour
	DefaultClaimLease     = 5 * time.Minute
	MaxPublishError       = 2000 // characters of a publisher's error
	MaxPublishURL         = 2048
	MaxPlatformID         = 200
)

// DefaultPoolBackoff spaces a failed entry's next claim: 1 min, 2 min, 4 min …
// up to an hour, with jitter.
var DefaultPoolBackoff = Backoff{Base: time.Minute, Max: time.Hour}

// Sentinel errors of the publishers' moves; both wrap ErrConflict too.
var (
	ErrClaimToken   = errors.New("claim token does not hold this entry")
	ErrLeaseExpired = errors.New("claim lease expired")
)

// PoolEntry queues approved content for publishing.
type PoolEntry struct {
	ID        string
	ContentID string
	TaskID    string
	AccountID int64
	Priority  int // higher first
	Status    PoolStatus
	// ScheduledAt is when the reviewer wants it published; AvailableAt is when
	// it may be claimed next (ScheduledAt, later after a failure's backoff).
	ScheduledAt time.Time
	AvailableAt time.Time
	RetryCount  int
	MaxRetries  int
	// The current (or last) claim: the hash of its secret, never the token.
	ClaimTokenHash string
	ClaimedAt      time.Time
	LeaseExpiresAt time.Time
	PublishedAt    time.Time
	PublishedURL   string
	PlatformID     string
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NewPoolEntry queues content c with a priority, claimable from scheduled on.
func NewPoolEntry(id string, c Content, priority int, scheduled, at time.Time) PoolEntry {
	return PoolEntry{
		ID: id, ContentID: c.ID, TaskID: c.TaskID, AccountID: c.AccountID, Priority: priority,
		Status: PoolPending, ScheduledAt: scheduled, AvailableAt: scheduled,
		MaxRetries: DefaultPoolMaxRetries, CreatedAt: at, UpdatedAt: at,
	}
}

// PoolAction is what happens to an entry.
type PoolAction string

const (
	PoolClaim         PoolAction = "claim"
	PoolMarkPublished PoolAction = "published"
	PoolMarkFailed    PoolAction = "failed"
	PoolLeaseExpired  PoolAction = "lease_expired"
)

type poolMove int

const (
	poolRefuse  poolMove = iota // wrong state: ErrConflict
	poolNothing                 // nothing to do (a lease that is not there to expire)
	poolRepeat                  // the same outcome again, with the token that made it: no-op
	poolClaimMove
	poolPublishMove
	poolFailMove
	poolReleaseMove
)

// poolMoves is the publish pool's life as data. The store's claim and lease
// release statements are the claim and release cells written in SQL (a
// claim takes many entries in one statement); PoolEntry's methods read the
// rest.
var poolMoves = map[PoolStatus]map[PoolAction]poolMove{
	PoolPending: {PoolClaim: poolClaimMove, PoolMarkPublished: poolRefuse, PoolMarkFailed: poolRefuse,
		PoolLeaseExpired: poolNothing},
	PoolClaimed: {PoolClaim: poolRefuse, PoolMarkPublished: poolPublishMove, PoolMarkFailed: poolFailMove,
		PoolLeaseExpired: poolReleaseMove},
	PoolPublished: {PoolClaim: poolRefuse, PoolMarkPublished: poolRepeat, PoolMarkFailed: poolRefuse,
		PoolLeaseExpired: poolNothing},
	PoolFailed: {PoolClaim: poolRefuse, PoolMarkPublished: poolRefuse, PoolMarkFailed: poolRepeat,
		PoolLeaseExpired: poolNothing},
}

func (e *PoolEntry) move(action PoolAction) (poolMove, error) {
	row, ok := poolMoves[e.Status]
	if !ok {
		return poolRefuse, fmt.Errorf("pool entry %s has unknown status %q", e.ID, e.Status)
	}
	m := row[action]
	if m == poolRefuse {
		return m, fmt.Errorf("%s a %s pool entry %s: %w", action, e.Status, e.ID, ErrConflict)
	}
	return m, nil
}

// Claim is one publisher's lease on the entries it took: a secret shared by
// the claim (stored hashed) and the lease's end. Each entry's token is the
// secret and the entry's id (ClaimToken), so a token names its entry.
type Claim struct {
	SecretHash     string
	At             time.Time
	LeaseExpiresAt time.Time
}

// NewClaim checks a lease and makes the claim for secret, a random string
// without dots that the caller generated.
func NewClaim(secret string, at time.Time, lease time.Duration) (Claim, error) {
	if lease < MinClaimLease || lease > MaxClaimLease {
		return Claim{}, invalid("lease", "must be between %s and %s", MinClaimLease, MaxClaimLease)
	}
	if secret == "" || strings.Contains(secret, ".") {
		return Claim{}, fmt.Errorf("claim secret must be non-empty and without dots")
	}
	at = at.UTC()
	return Claim{SecretHash: HashToken(secret), At: at, LeaseExpiresAt: at.Add(lease)}, nil
}

// ClaimToken is the token a publisher gets for one entry of its claim.
func ClaimToken(secret, entryID string) string { return secret + "." + entryID }

// CheckClaimLimit validates how many entries a claim asks for.
func CheckClaimLimit(n int) error {
	if n < MinClaimLimit || n > MaxClaimLimit {
		return invalid("limit", "must be between %d and %d", MinClaimLimit, MaxClaimLimit)
	}
	return nil
}

// Claim leases a pending entry to c. The store's claim statement makes the
// same change for many entries at once.
func (e *PoolEntry) Claim(c Claim) error {
	if _, err := e.move(PoolClaim); err != nil {
		return err
	}
	if e.AvailableAt.After(c.At) {
		return fmt.Errorf("pool entry %s is not due before %s: %w", e.ID, e.AvailableAt.Format(time.RFC3339), ErrConflict)
	}
	e.Status, e.ClaimTokenHash, e.ClaimedAt, e.LeaseExpiresAt, e.UpdatedAt =
		PoolClaimed, c.SecretHash, c.At, c.LeaseExpiresAt, c.At
	return nil
}

// holds reports whether token is this entry's token of its current (or
// last) claim. Hashes are compared in constant time.
func (e *PoolEntry) holds(token string) bool {
	secret, id, ok := strings.Cut(token, ".")
	if !ok || id != e.ID || e.ClaimTokenHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashToken(secret)), []byte(e.ClaimTokenHash)) == 1
}

// checkHolder refuses a token that is not the entry's, and a lease that
// has ended (a claimed entry only).
func (e *PoolEntry) checkHolder(token string, at time.Time) error {
	if !e.holds(token) {
		return fmt.Errorf("pool entry %s: %w: %w", e.ID, ErrClaimToken, ErrConflict)
	}
	if e.Status == PoolClaimed && !at.Before(e.LeaseExpiresAt) {
		return fmt.Errorf("pool entry %s: lease ended at %s: %w: %w", e.ID,
			e.LeaseExpiresAt.Format(time.RFC3339), ErrLeaseExpired, ErrConflict)
	}
	return nil
}

// Publication is a publisher's report that an entry is out.
type Publication struct {
	ClaimToken string
	URL        string
	PlatformID string
}

// Validate names the first field of p that is missing or out of bounds.
func (p Publication) Validate() error {
	if p.ClaimToken == "" {
		return invalid("claim_token", "is required")
	}
	if len(p.URL) > MaxPublishURL {
		return invalid("url", "must be at most %d bytes", MaxPublishURL)
	}
	if p.URL != "" && !strings.HasPrefix(p.URL, "https://") && !strings.HasPrefix(p.URL, "http://") {
		return invalid("url", "must be an http or https URL")
	}
	if utf8.RuneCountInString(p.PlatformID) > MaxPlatformID {
		return invalid("platform_id", "must be at most %d characters", MaxPlatformID)
	}
	return nil
}

// PoolOutcome is what a publisher's move decided. Changed false is a
// repeat: nothing is to be written.
type PoolOutcome struct {
	Changed      bool
	Announcement *Announcement // to write with the change (§15 notifications)
}

// MarkPublished ends a claimed entry as published. The holder of the claim
// repeating it is a no-op; a wrong token, or a lease that ended, is
// ErrConflict (ErrClaimToken, ErrLeaseExpired).
func (e *PoolEntry) MarkPublished(p Publication, at time.Time) (PoolOutcome, error) {
	if err := p.Validate(); err != nil {
		return PoolOutcome{}, err
	}
	m, err := e.move(PoolMarkPublished)
	if err != nil {
		return PoolOutcome{}, err
	}
	at = at.UTC()
	if err := e.checkHolder(p.ClaimToken, at); err != nil || m == poolRepeat {
		return PoolOutcome{}, err
	}
	e.Status, e.PublishedAt, e.PublishedURL, e.PlatformID = PoolPublished, at, p.URL, p.PlatformID
	e.LeaseExpiresAt, e.UpdatedAt = time.Time{}, at
	return PoolOutcome{Changed: true, Announcement: &Announcement{
		Event: EventPoolPublished, At: at, AccountID: e.AccountID, TaskID: e.TaskID, ContentID: e.ContentID,
		PoolEntryID: e.ID, URL: p.URL, PlatformID: p.PlatformID,
	}}, nil
}

// PublishFailure is a publisher's report that publishing failed.
type PublishFailure struct {
	ClaimToken string
	Error      string
	// Backoff is the wait before the entry may be claimed again; the caller
	// computes it (DefaultPoolBackoff with jitter) for the retry count reached.
	Backoff time.Duration
}

// Validate names the first field of f that is missing or out of bounds.
func (f PublishFailure) Validate() error {
	if f.ClaimToken == "" {
		return invalid("claim_token", "is required")
	}
	if strings.TrimSpace(f.Error) == "" {
		return invalid("error", "is required")
	}
	if utf8.RuneCountInString(f.Error) > MaxPublishError {
		return invalid("error", "must be at most %d characters", MaxPublishError)
	}
	return nil
}

// MarkFailed counts a failed publication: the entry goes back to pending
// after f.Backoff, or ends failed once RetryCount reaches MaxRetries (then
// with the pool.failed notification). Tokens as in MarkPublished.
func (e *PoolEntry) MarkFailed(f PublishFailure, at time.Time) (PoolOutcome, error) {
	if err := f.Validate(); err != nil {
		return PoolOutcome{}, err
	}
	m, err := e.move(PoolMarkFailed)
	if err != nil {
		return PoolOutcome{}, err
	}
	at = at.UTC()
	if err := e.checkHolder(f.ClaimToken, at); err != nil || m == poolRepeat {
		return PoolOutcome{}, err
	}
	e.RetryCount++
	e.LastError, e.LeaseExpiresAt, e.UpdatedAt = f.Error, time.Time{}, at
	if e.RetryCount < e.MaxRetries {
		e.Status, e.AvailableAt = PoolPending, at.Add(max(f.Backoff, 0))
		return PoolOutcome{Changed: true}, nil
	}
	e.Status = PoolFailed
	return PoolOutcome{Changed: true, Announcement: &Announcement{
		Event: EventPoolFailed, At: at, AccountID: e.AccountID, TaskID: e.TaskID, ContentID: e.ContentID,
		PoolEntryID: e.ID, Error: f.Error, RetryCount: e.RetryCount,
	}}, nil
}

// ReleaseExpired returns a claimed entry whose lease ended at or before at
// to pending, claimable at once, its retry count unchanged. It reports
// whether it changed e. The store's release statement makes the same change
// for every such entry at once.
func (e *PoolEntry) ReleaseExpired(at time.Time) bool {
	m, err := e.move(PoolLeaseExpired)
	if err != nil || m != poolReleaseMove || at.Before(e.LeaseExpiresAt) {
		return false
	}
	at = at.UTC()
	e.Status, e.AvailableAt, e.LeaseExpiresAt, e.UpdatedAt = PoolPending, at, time.Time{}, at
	return true
}
