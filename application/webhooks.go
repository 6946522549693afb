package application

import (
	"context"
	"fmt"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// WebhooksConfig tunes the endpoint use cases.
type WebhooksConfig struct {
	// RotationOverlap is NOTIFY_ROTATION_OVERLAP: how long a rotated-out
	// secret keeps signing beside the new one (default 24 h).
	RotationOverlap time.Duration
}

// Webhooks manages the subscribers of outbound notifications (§13) and
// their message log.
type Webhooks struct {
	endpoints ports.WebhookEndpoints
	outbox    ports.Outbox
	secrets   ports.WebhookSecrets
	guard     ports.AddressGuard
	clock     ports.Clock
	ids       ports.IDGenerator
	wake      func() // the notifier's, when this process runs one
	cfg       WebhooksConfig
}

// NewWebhooks builds the endpoint use cases. wake, when not nil, tells this
// process's sender that a replayed message is due.
func NewWebhooks(endpoints ports.WebhookEndpoints, outbox ports.Outbox, secrets ports.WebhookSecrets,
	guard ports.AddressGuard, clock ports.Clock, ids ports.IDGenerator, wake func(), cfg WebhooksConfig) *Webhooks {
	if cfg.RotationOverlap < 0 {
		cfg.RotationOverlap = 0
	}
	if wake == nil {
		wake = func() {}
	}
	return &Webhooks{endpoints: endpoints, outbox: outbox, secrets: secrets, guard: guard, clock: clock, ids: ids,
		wake: wake, cfg: cfg}
}

// EndpointRequest is a client's new endpoint.
type EndpointRequest struct {
	URL         string
	Events      []string
	AccountID   int64
	Description string
}

// CreateEndpoint validates the request, refuses internal addresses (unless
// allowed), and stores the endpoint with a new secret, returned in clear
// this once.
func (w *Webhooks) CreateEndpoint(ctx context.Context, r EndpointRequest) (*domain.WebhookEndpoint, string, error) {
	shown, stored, err := w.secrets.NewSecret()
	if err != nil {
		return nil, "", fmt.Errorf("new endpoint secret: %w", err)
	}
	e, err := domain.NewWebhookEndpoint(domain.NewEndpointParams{
		ID: w.ids.NewID("ep"), URL: r.URL, Events: r.Events, AccountID: r.AccountID,
		Description: r.Description, Secret: stored,
	}, w.clock.Now())
	if err != nil {
		return nil, "", err
	}
	if err := w.guard.CheckURL(ctx, r.URL); err != nil {
		return nil, "", err
	}
	if err := w.endpoints.CreateEndpoint(ctx, e); err != nil {
		return nil, "", err
	}
	return e, shown, nil
}

// Endpoint returns one endpoint.
func (w *Webhooks) Endpoint(ctx context.Context, id string) (*domain.WebhookEndpoint, error) {
	return w.endpoints.GetEndpoint(ctx, id)
}

// Endpoints lists every endpoint.
func (w *Webhooks) Endpoints(ctx context.Context) ([]*domain.WebhookEndpoint, error) {
	return w.endpoints.ListEndpoints(ctx)
}

// EndpointPatch changes what it sets (nil: unchanged).
type EndpointPatch struct {
	URL         *string
	Events      []string // nil: unchanged
	Description *string
	Enabled     *bool
}

// UpdateEndpoint applies a patch.
func (w *Webhooks) UpdateEndpoint(ctx context.Context, id string, p EndpointPatch) (*domain.WebhookEndpoint, error) {
	if p.URL != nil {
		if err := w.guard.CheckURL(ctx, *p.URL); err != nil {
			return nil, err
		}
	}
	now := w.clock.Now()
	return w.endpoints.UpdateEndpoint(ctx, id, func(e *domain.WebhookEndpoint) error {
		if p.URL != nil {
			if err := e.SetURL(*p.URL); err != nil {
				return err
			}
		}
		if p.Events != nil {
			if err := e.SetEvents(p.Events); err != nil {
				return err
			}
		}
		if p.Description != nil {
			if err := e.SetDescription(*p.Description); err != nil {
				return err
			}
		}
		if p.Enabled != nil {
			e.SetEnabled(*p.Enabled, now)
		}
		return nil
	})
}

// DeleteEndpoint removes an endpoint and its log, and returns it as it was.
func (w *Webhooks) DeleteEndpoint(ctx context.Context, id string) (*domain.WebhookEndpoint, error) {
	e, err := w.endpoints.GetEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := w.endpoints.DeleteEndpoint(ctx, id); err != nil {
		return nil, err
	}
	return e, nil
}

// RotateSecret gives the endpoint a new secret, returned in clear this once;
// the previous one signs beside it for the rotation overlap.
func (w *Webhooks) RotateSecret(ctx context.Context, id string) (*domain.WebhookEndpoint, string, error) {
	shown, stored, err := w.secrets.NewSecret()
	if err != nil {
		return nil, "", fmt.Errorf("new endpoint secret: %w", err)
	}
	now := w.clock.Now()
	e, err := w.endpoints.UpdateEndpoint(ctx, id, func(e *domain.WebhookEndpoint) error {
		e.Rotate(stored, w.cfg.RotationOverlap, now)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return e, shown, nil
}

// Messages returns an endpoint's log (domain.ErrNotFound for an unknown
// endpoint).
func (w *Webhooks) Messages(ctx context.Context, q ports.MessageQuery) ([]ports.MessageLog, error) {
	if _, err := w.endpoints.GetEndpoint(ctx, q.EndpointID); err != nil {
		return nil, err
	}
	return w.outbox.ListMessages(ctx, q)
}

// Replay makes a message due now again, with the same webhook-id.
func (w *Webhooks) Replay(ctx context.Context, endpointID, messageID string) (ports.MessageLog, error) {
	m, err := w.outbox.ReplayMessage(ctx, endpointID, messageID, w.clock.Now().UTC())
	if err != nil {
		return ports.MessageLog{}, err
	}
	w.wake()
	return m, nil
}
