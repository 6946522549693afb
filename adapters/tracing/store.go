package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"contenthub/domain"
	"contenthub/ports"
)

// Store decorates every role of a ports.TaskStore with a span per call
// (go-clean-template's repository tracing decorator). Bootstrap hands its
// roles out as it does the store's.
type Store struct {
	next   ports.TaskStore
	tracer trace.Tracer
}

var _ ports.TaskStore = (*Store)(nil)

// NewStore wraps next.
func NewStore(next ports.TaskStore, tp trace.TracerProvider) *Store {
	return &Store{next: next, tracer: tp.Tracer(ScopeName)}
}

func (s *Store) start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, "store."+name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

func taskAttr(id string) attribute.KeyValue { return attribute.String(ports.AttrTaskID, id) }

// CreateTask implements ports.TaskWriter.
func (s *Store) CreateTask(ctx context.Context, t *domain.Task, key *ports.IdempotencyKey) (*domain.Task, bool, error) {
	ctx, span := s.start(ctx, "CreateTask", taskAttr(t.ID()))
	stored, replayed, err := s.next.CreateTask(ctx, t, key)
	span.SetAttributes(attribute.Bool("contenthub.replayed", replayed))
	endSpan(span, err)
	return stored, replayed, err
}

// UpdateTask implements ports.TaskWriter.
func (s *Store) UpdateTask(ctx context.Context, id string, fn ports.UpdateFunc) error {
	ctx, span := s.start(ctx, "UpdateTask", taskAttr(id))
	err := s.next.UpdateTask(ctx, id, fn)
	endSpan(span, err)
	return err
}

// UpdateTaskAt implements ports.TaskWriter.
func (s *Store) UpdateTaskAt(ctx context.Context, t *domain.Task, fn ports.UpdateFunc) error {
	ctx, span := s.start(ctx, "UpdateTaskAt", taskAttr(t.ID()), attribute.Int(ports.AttrAttempt, t.Attempt()))
	err := s.next.UpdateTaskAt(ctx, t, fn)
	endSpan(span, err)
	return err
}

// ClaimDue implements ports.TaskClaimer.
func (s *Store) ClaimDue(ctx context.Context, q ports.ClaimQuery, open ports.UpdateFunc) ([]*domain.Task, error) {
	ctx, span := s.start(ctx, "ClaimDue", attribute.Int("contenthub.limit", q.Limit))
	tasks, err := s.next.ClaimDue(ctx, q, open)
	span.SetAttributes(attribute.Int(ports.AttrCount, len(tasks)))
	endSpan(span, err)
	return tasks, err
}

// FindStale implements ports.StaleTasks.
func (s *Store) FindStale(ctx context.Context, q ports.StaleQuery) ([]*domain.Task, error) {
	ctx, span := s.start(ctx, "FindStale")
	tasks, err := s.next.FindStale(ctx, q)
	span.SetAttributes(attribute.Int(ports.AttrCount, len(tasks)))
	endSpan(span, err)
	return tasks, err
}

// MarkPolled implements ports.StaleTasks.
func (s *Store) MarkPolled(ctx context.Context, ids []string, at time.Time) error {
	ctx, span := s.start(ctx, "MarkPolled", attribute.Int(ports.AttrCount, len(ids)))
	err := s.next.MarkPolled(ctx, ids, at)
	endSpan(span, err)
	return err
}

// ObserveProgress implements ports.StaleTasks.
func (s *Store) ObserveProgress(ctx context.Context, taskID string, attempt int, mark string, at time.Time) (time.Time, error) {
	ctx, span := s.start(ctx, "ObserveProgress", taskAttr(taskID), attribute.Int(ports.AttrAttempt, attempt))
	since, err := s.next.ObserveProgress(ctx, taskID, attempt, mark, at)
	endSpan(span, err)
	return since, err
}

// RecordDelivery implements ports.DeliveryLog.
func (s *Store) RecordDelivery(ctx context.Context, d domain.Delivery) error {
	ctx, span := s.start(ctx, "RecordDelivery", taskAttr(d.TaskID), attribute.Int(ports.AttrAttempt, d.Attempt))
	err := s.next.RecordDelivery(ctx, d)
	endSpan(span, err)
	return err
}

// HasDelivery implements ports.DeliveryLog.
func (s *Store) HasDelivery(ctx context.Context, taskID, deliveryID string) (bool, error) {
	ctx, span := s.start(ctx, "HasDelivery", taskAttr(taskID))
	seen, err := s.next.HasDelivery(ctx, taskID, deliveryID)
	endSpan(span, err)
	return seen, err
}

// ListDeliveries implements ports.DeliveryLog.
func (s *Store) ListDeliveries(ctx context.Context, taskID string) ([]domain.Delivery, error) {
	ctx, span := s.start(ctx, "ListDeliveries", taskAttr(taskID))
	ds, err := s.next.ListDeliveries(ctx, taskID)
	endSpan(span, err)
	return ds, err
}

// GetTask implements ports.TaskReader.
func (s *Store) GetTask(ctx context.Context, id string) (*domain.Task, error) {
	ctx, span := s.start(ctx, "GetTask", taskAttr(id))
	t, err := s.next.GetTask(ctx, id)
	endSpan(span, err)
	return t, err
}

// GetTaskAndDelivery implements ports.TaskReader.
func (s *Store) GetTaskAndDelivery(ctx context.Context, id, deliveryID string) (*domain.Task, bool, error) {
	ctx, span := s.start(ctx, "GetTaskAndDelivery", taskAttr(id))
	t, seen, err := s.next.GetTaskAndDelivery(ctx, id, deliveryID)
	endSpan(span, err)
	return t, seen, err
}

// ListTasks implements ports.TaskReader.
func (s *Store) ListTasks(ctx context.Context, q ports.TaskQuery) (ports.TaskPage, error) {
	ctx, span := s.start(ctx, "ListTasks")
	page, err := s.next.ListTasks(ctx, q)
	span.SetAttributes(attribute.Int(ports.AttrCount, len(page.Items)))
	endSpan(span, err)
	return page, err
}

// GetContent implements ports.TaskReader.
func (s *Store) GetContent(ctx context.Context, id string) (domain.Content, error) {
	ctx, span := s.start(ctx, "GetContent", attribute.String("contenthub.content_id", id))
	c, err := s.next.GetContent(ctx, id)
	endSpan(span, err)
	return c, err
}

// ListPoolItems implements ports.TaskReader.
func (s *Store) ListPoolItems(ctx context.Context, q ports.PoolQuery) ([]ports.PoolItem, error) {
	ctx, span := s.start(ctx, "ListPoolItems")
	items, err := s.next.ListPoolItems(ctx, q)
	endSpan(span, err)
	return items, err
}
