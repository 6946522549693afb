package bootstrap

import (
	"github.com/gin-gonic/gin"
	"go.uber.org/fx"

	"contenthub/adapters/cronspec"
	"contenthub/adapters/httpapi"
	"contenthub/adapters/sqlstore"
	"contenthub/application"
	"contenthub/ports"
)

// SchedulesModule provides scheduled generation (§12): the store's schedule
// port, the cron parser, the use cases and their routes (served where the
// HTTP module runs).
var SchedulesModule = fx.Module("schedules",
	fx.Provide(
		func(s *sqlstore.Store) ports.ScheduleStore { return s },
		func() ports.CronParser { return cronspec.NewParser() },
		application.NewSchedules,
		fx.Annotate(scheduleRoutes, fx.ResultTags(`group:"routes"`)),
	),
)

func scheduleRoutes(u *application.Schedules) func(r gin.IRouter, api gin.IRouter) {
	return httpapi.ScheduleRoutes(u)
}

// SchedulerModule runs the scheduler loop on worker replicas: every worker
// runs one, and the store lets each fire time create its run once.
var SchedulerModule = fx.Module("scheduler",
	fx.Provide(
		NewScheduler,
		AsBackgroundLoop[*application.Scheduler]("scheduler"),
	),
)

// NewScheduler builds this replica's scheduler.
func NewScheduler(u *application.Schedules) *application.Scheduler {
	return application.NewScheduler(u, application.SchedulerConfig{Resync: application.DefaultSchedulerResync})
}
