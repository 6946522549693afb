package ports

import "fmt"

// NotReadyError says which readiness check failed; the HTTP adapter names
// it in the /readyz answer.
type NotReadyError struct {
	Check string
	Err   error
}

func (e *NotReadyError) Error() string { return fmt.Sprintf("not ready: %s: %v", e.Check, e.Err) }

func (e *NotReadyError) Unwrap() error { return e.Err }
