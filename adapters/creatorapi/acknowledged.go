package creatorapi

import "container/list"

// DefaultAcknowledgedLimit bounds how many acknowledged ids a Client
// remembers. Forgetting one is safe: an id not remembered is looked for in
// the server's task list (which re-acknowledges it), never asked about
// directly; it only costs a list request.
const DefaultAcknowledgedLimit = 10_000

// acknowledged is the set of ids the server has shown it knows, bounded: the
// least recently used id is forgotten first. Not safe for concurrent use; the
// Client's mutex guards it.
type acknowledged struct {
	limit int
	order *list.List // of string, most recently used at the front
	at    map[string]*list.Element
}

func newAcknowledged(limit int) *acknowledged {
	return &acknowledged{limit: limit, order: list.New(), at: map[string]*list.Element{}}
}

func (a *acknowledged) add(ref string) {
	if e, ok := a.at[ref]; ok {
		a.order.MoveToFront(e)
		return
	}
	a.at[ref] = a.order.PushFront(ref)
	for a.order.Len() > a.limit {
		oldest := a.order.Back()
		a.order.Remove(oldest)
		delete(a.at, oldest.Value.(string))
	}
}

// has reports whether ref is remembered, and counts as a use of it.
func (a *acknowledged) has(ref string) bool {
	e, ok := a.at[ref]
	if ok {
		a.order.MoveToFront(e)
	}
	return ok
}

func (a *acknowledged) len() int { return len(a.at) }
