// Package cronspec parses the cron expressions of schedules (§12) with
// github.com/robfig/cron/v3 — standard 5-field cron and descriptors such as
// @hourly — in an IANA time zone, and answers domain.Cron's Next.
//
// Zones come from the Go time zone database embedded in the binary
// (time/tzdata), so a machine without /usr/share/zoneinfo parses them too.
//
// Daylight saving time follows cron(8) (cronie, Vixie) for jobs with a fixed
// hour: a time the clock skips (02:30 when it jumps from 02:00 to 03:00) fires
// when the clock jumps, once; a time the clock repeats (01:30 when it falls
// back from 02:00 to 01:00) fires once, the first time. Jobs whose hour is a
// wildcard (every 5 minutes) run by the clock as it is.
package cronspec

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"

	"contenthub/domain"
	"contenthub/ports"
)

var _ ports.CronParser = (*Parser)(nil)

// Parser parses cron expressions; safe for concurrent use.
type Parser struct{ p cron.Parser }

// Option tunes NewParser.
type Option func(*cron.ParseOption)

// WithSeconds takes a leading seconds field ("*/2 * * * * *"): for tests of
// schedulers that cannot wait minutes. The API never offers it.
func WithSeconds() Option {
	return func(o *cron.ParseOption) { *o |= cron.Second }
}

// NewParser returns a parser of standard 5-field cron with descriptors.
func NewParser(opts ...Option) *Parser {
	o := cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor
	for _, opt := range opts {
		opt(&o)
	}
	return &Parser{p: cron.NewParser(o)}
}

// Parse parses expr in zone ("" is UTC). A bad expression is a
// *domain.ValidationError on field "cron", an unknown zone on "timezone".
func (p *Parser) Parse(expr, zone string) (domain.Cron, error) {
	loc, err := Location(zone)
	if err != nil {
		return nil, err
	}
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return nil, &domain.ValidationError{Field: "cron", Message: "is required"}
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, &domain.ValidationError{Field: "cron", Message: "give the zone in timezone, not in the expression"}
	case strings.HasPrefix(expr, "@every"):
		// Not anchored to the clock: replicas and restarts would disagree
		// on its fire times, and fire times are what makes a run unique.
		return nil, &domain.ValidationError{Field: "cron", Message: "@every is not supported: use a cron expression such as */5 * * * *"}
	}
	parsed, err := p.p.Parse(expr)
	if err != nil {
		return nil, &domain.ValidationError{Field: "cron", Message: "does not parse: " + err.Error()}
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, &domain.ValidationError{Field: "cron", Message: fmt.Sprintf("unsupported schedule %T", parsed)}
	}
	spec.Location = loc
	return schedule{spec: spec, fixedHour: spec.Hour&starBit == 0}, nil
}

// starBit is robfig/cron's mark of a field written as "*".
const starBit = 1 << 63

// Location loads an IANA zone; "" is UTC. "Local" is refused: the fire
// times must not depend on the machine.
func Location(zone string) (*time.Location, error) {
	if zone == "" {
		return time.UTC, nil
	}
	if zone == "Local" {
		return nil, &domain.ValidationError{Field: "timezone", Message: "must be an IANA zone name such as Asia/Shanghai"}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, &domain.ValidationError{Field: "timezone", Message: fmt.Sprintf("unknown zone %q: want an IANA name such as Asia/Shanghai", zone)}
	}
	return loc, nil
}

type schedule struct {
	spec      *cron.SpecSchedule
	fixedHour bool
}

// maxRepeats bounds the skipping of repeated wall-clock times.
const maxRepeats = 64

// Next returns the first fire time strictly after after, in UTC; zero when
// the expression matches nothing in the next five years (robfig/cron's
// horizon).
func (s schedule) Next(after time.Time) time.Time {
	after = after.In(s.spec.Location)
	for range maxRepeats {
		n := s.spec.Next(after)
		if n.IsZero() || !s.fixedHour {
			return n.UTC()
		}
		if jump, ok := s.skippedBefore(after, n); ok {
			return jump.UTC()
		}
		if !s.repeated(n) {
			return n.UTC()
		}
		after = n
	}
	return time.Time{}
}

// repeated reports whether n's wall-clock time already happened an hour
// earlier (the clock fell back across it): that earlier time fired.
func (s schedule) repeated(n time.Time) bool {
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		earlier := n.Add(-back)
		if wall(earlier) == wall(n) {
			return true
		}
	}
	return false
}

// skippedBefore finds a wall-clock time the schedule matches that the clock
// skipped between after and n (a jump forward); it fires at the jump.
func (s schedule) skippedBefore(after, n time.Time) (time.Time, bool) {
	for t := after; ; {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(n) {
			return time.Time{}, false
		}
		_, before := t.Zone()
		_, afterJump := end.Zone()
		if afterJump > before {
			// The same expression on the clock as it was before the jump:
			// a fire time from end on, within the jump, is a skipped one.
			unshifted := *s.spec
			unshifted.Location = time.FixedZone("", before)
			g := unshifted.Next(t.In(unshifted.Location))
			gap := time.Duration(afterJump-before) * time.Second
			if !g.IsZero() && !g.Before(end) && g.Before(end.Add(gap)) && end.After(after) {
				return end, true
			}
		}
		t = end
	}
}

func wall(t time.Time) [6]int {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return [6]int{y, int(mo), d, h, mi, sec}
}
