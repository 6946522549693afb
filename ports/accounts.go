package ports

//go:generate go tool mockgen -typed -source=accounts.go -destination=mocks/accounts.go -package=mocks

import (
	"context"
	"time"

	"contenthub/domain"
)

// ClaimQuery asks for the next due tasks under the rules of §11: at most
// Limit of them, no more than Capacity running attempts in all (counted in
// the database, across replicas), shared between accounts by
// domain.FairShare under each account's limits (its own, else Defaults).
type ClaimQuery struct {
	Owner    string        // lease owner: this replica
	Now      time.Time     // due before, lease from
	Lease    time.Duration // how long a claim holds before another replica may recover it
	Limit    int           // tasks this caller can take now
	Capacity int           // CREATOR_MAX_CONCURRENCY: running attempts allowed in all; 0 = no cap
	Defaults domain.AccountLimits
}

// LoadQuery asks for the loads of some accounts (waiting reasons).
type LoadQuery struct {
	AccountIDs []int64
	Now        time.Time
	Defaults   domain.AccountLimits
}

// Loads are the database's counts a waiting reason is decided from.
type Loads struct {
	Accounts map[int64]domain.AccountLoad // one per asked account
	Running  int                          // running attempts of every account
}

// AccountCounts are an account's tasks by what they are doing.
type AccountCounts struct {
	Pending      int // pending, with or without an open attempt
	Running      int // attempts opened and not ended
	Completed24h int // completed in the last 24 hours
	Failed24h    int // failed for good in the last 24 hours
}

// AccountState is an account as the accounts routes show it.
type AccountState struct {
	AccountID int64
	Limits    domain.AccountLimits // in force: its own, else the defaults
	Own       bool                 // the limits are its own
	Counts    AccountCounts
	Load      domain.AccountLoad // for its waiting reason
}

// AccountQuery asks for accounts as of Now, with Defaults for those without limits.
type AccountQuery struct {
	Now      time.Time
	Defaults domain.AccountLimits
}

// AccountStore keeps accounts' limits and reads their load.
type AccountStore interface {
	// PutAccountLimits stores an account's own limits (replacing earlier ones).
	PutAccountLimits(ctx context.Context, accountID int64, l domain.AccountLimits, at time.Time) error
	// GetAccount returns one account's state; an account with neither tasks
	// nor limits is returned with zero counts and the defaults.
	GetAccount(ctx context.Context, accountID int64, q AccountQuery) (AccountState, error)
	// ListAccounts returns every account that has tasks or limits, by id.
	ListAccounts(ctx context.Context, q AccountQuery) ([]AccountState, error)
	// AccountLoads returns the loads of the given accounts and the number of
	// running attempts in all, from one snapshot.
	AccountLoads(ctx context.Context, q LoadQuery) (Loads, error)
}
