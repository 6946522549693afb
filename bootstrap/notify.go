package bootstrap

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/notify"
	"contenthub/adapters/sqlstore"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// NotifyModule provides outbound notifications' endpoints, secrets, guard
// and routes (§13) to every role.
var NotifyModule = fx.Module("notify",
	fx.Provide(
		NewSecretBox,
		NewAddressGuard,
		func(s *sqlstore.Store) ports.WebhookEndpoints { return s },
		func(s *sqlstore.Store) ports.Outbox { return s },
		func(reg *prometheus.Registry) ports.NotifyMetrics { return metrics.NewNotify(reg) },
		NewWebhooks,
		fx.Annotate(webhookRoutes, fx.ResultTags(`group:"routes"`)),
	),
)

// NotifierModule runs the sender of outbound notifications on worker roles.
var NotifierModule = fx.Module("notifier",
	fx.Provide(NewNotifier, AsBackgroundLoop[*application.Notifier]("notifier")),
)

// NewSecretBox seals endpoint secrets with NOTIFY_SECRETS_KEY, or warns
// that they are stored as they are.
func NewSecretBox(cfg Config, log *zap.Logger) (*notify.SecretBox, error) {
	box, err := notify.NewSecretBox(cfg.NotifySecretsKey)
	if err != nil {
		return nil, &ConfigError{Variable: "NOTIFY_SECRETS_KEY", Problem: err.Error()}
	}
	if !box.Sealing() {
		log.Warn("NOTIFY_SECRETS_KEY is unset: webhook endpoint secrets are stored unencrypted, so a copy of the database can sign messages (set it to `openssl rand -base64 32`, the same on every replica)")
	}
	return box, nil
}

// NewAddressGuard refuses internal endpoint addresses unless
// NOTIFY_ALLOW_PRIVATE is on.
func NewAddressGuard(cfg Config, log *zap.Logger) *notify.Guard {
	if cfg.NotifyAllowPrivate {
		log.Warn("NOTIFY_ALLOW_PRIVATE=true: webhook endpoints may point at loopback, private and link-local addresses (local runs and tests only)")
	}
	return &notify.Guard{AllowPrivate: cfg.NotifyAllowPrivate}
}

// notifierWake is the local notifier, when this role runs one.
type notifierWake struct {
	fx.In
	Notifier *application.Notifier `optional:"true"`
}

// NewWebhooks builds the endpoint use cases.
func NewWebhooks(cfg Config, endpoints ports.WebhookEndpoints, outbox ports.Outbox, box *notify.SecretBox,
	guard *notify.Guard, clk ports.Clock, gen ports.IDGenerator, local notifierWake) *application.Webhooks {
	var wake func()
	if local.Notifier != nil {
		wake = local.Notifier.Wake
	}
	return application.NewWebhooks(endpoints, outbox, box, guard, clk, gen, wake,
		application.WebhooksConfig{RotationOverlap: cfg.NotifyRotationOverlap})
}

func webhookRoutes(w *application.Webhooks) func(r gin.IRouter, api gin.IRouter) {
	return func(_ gin.IRouter, api gin.IRouter) { httpapi.RegisterWebhookRoutes(api, w) }
}

// NewNotifier builds the sender loop with this replica's claim name.
func NewNotifier(lc fx.Lifecycle, cfg Config, outbox ports.Outbox, box *notify.SecretBox, guard *notify.Guard,
	events ports.EventSubscriber, clk ports.Clock, gen ports.IDGenerator, m ports.NotifyMetrics,
	log *zap.Logger) (*application.Notifier, error) {
	schedule, err := cfg.NotifySchedule()
	if err != nil {
		return nil, &ConfigError{Variable: "NOTIFY_RETRY_SCHEDULE", Problem: err.Error()}
	}
	sender := notify.NewSender(notify.SenderConfig{Timeout: cfg.NotifyTimeout, Guard: guard, Secrets: box})
	lc.Append(fx.Hook{OnStop: func(context.Context) error { sender.Close(); return nil }})
	host, _ := os.Hostname()
	return application.NewNotifier(outbox, sender, events, clk, gen, m, log, application.NotifierConfig{
		Owner:       fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ids.Random{}.NewID("n")),
		Timeout:     cfg.NotifyTimeout,
		Interval:    cfg.NotifyPollInterval,
		Concurrency: cfg.NotifyConcurrency,
		PerEndpoint: cfg.NotifyEndpointConcurrency,
		Policy:      domain.NotifyRetryPolicy{Schedule: schedule, Jitter: 0.2, FailureLimit: 72 * time.Hour},
	}), nil
}
