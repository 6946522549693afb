// Package domain holds the ContentHub task model: the task aggregate, its
// attempts, the transition table every change goes through, and the rules that
// turn a finished article into content. It uses the standard library only.
package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every layer; adapters translate them to transport
// answers (404, 409, …) with errors.Is.
var (
	ErrNotFound            = errors.New("not found")
	ErrConflict            = errors.New("conflict")
	ErrVersionConflict     = errors.New("version conflict")
	ErrDuplicateDelivery   = errors.New("duplicate delivery")
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
)

// ValidationError names the field a request got wrong.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
