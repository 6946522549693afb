package application

// Wakeup tells the dispatcher there may be work, without blocking the caller.
// Many notifications collapse into one.
type Wakeup struct{ ch chan struct{} }

// NewWakeup returns a ready Wakeup.
func NewWakeup() *Wakeup { return &Wakeup{ch: make(chan struct{}, 1)} }

// Notify signals that work may be due.
func (w *Wakeup) Notify() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// C is received from when work may be due.
func (w *Wakeup) C() <-chan struct{} { return w.ch }
