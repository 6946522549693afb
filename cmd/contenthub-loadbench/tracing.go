package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// tracingVariant is one build or configuration of the tracing A/B.
type tracingVariant struct {
	name   string
	binary func(o options) string
	env    []string
	target float64 // the most CPU per 1,000 callbacks may grow against compiled out; 0: the reference
}

var tracingVariants = []tracingVariant{
	{name: "tracing compiled out (-tags notrace)", binary: func(o options) string { return o.notraceBinary }},
	{name: "tracing on, no exporter", binary: func(o options) string { return o.binary }, target: 0.03},
	{name: "tracing on, in-process exporter (TRACING_DISCARD)", binary: func(o options) string { return o.binary },
		env: []string{"TRACING_DISCARD=true"}, target: 0.15},
}

// runTracingAB measures the service's CPU per 1,000 first deliveries for
// each tracing variant, on a fresh database and service per variant and
// round, the variants' order rotating each round.
func runTracingAB(ctx context.Context, o options, store, article, self string, out io.Writer) error {
	cpu := make([][]float64, len(tracingVariants))
	for round := 1; round <= o.rounds; round++ {
		for k := range tracingVariants {
			i := (k + round) % len(tracingVariants)
			m, err := measureTracingVariant(ctx, o, store, article, self, tracingVariants[i])
			if err != nil {
				return fmt.Errorf("tracing A/B, %s: %w", tracingVariants[i].name, err)
			}
			fmt.Fprintf(os.Stderr, "tracing A/B: round %d: %s: %.3f CPU s per 1,000 callbacks\n", round, tracingVariants[i].name, m)
			cpu[i] = append(cpu[i], m)
		}
	}
	fmt.Fprintf(out, "## Tracing A/B (%s, %d callbacks at concurrency %d per variant and round, %d rounds; medians)\n\n",
		store, o.tracingN, o.tracingC, o.rounds)
	fmt.Fprintf(out, "| variant | CPU s per 1,000 callbacks | against compiled out | target | |\n|---|---|---|---|---|\n")
	ref := median(cpu[0])
	for i, v := range tracingVariants {
		got := median(cpu[i])
		if v.target == 0 {
			fmt.Fprintf(out, "| %s | %.3f | | | |\n", v.name, got)
			continue
		}
		growth := got/ref - 1
		verdict := "met"
		if growth > v.target {
			verdict = "not met"
		}
		fmt.Fprintf(out, "| %s | %.3f | %+.1f %% | ≤ %.0f %% | %s |\n", v.name, got, 100*growth, 100*v.target, verdict)
	}
	fmt.Fprintln(out)
	return nil
}

func measureTracingVariant(ctx context.Context, o options, store, article, self string, v tracingVariant) (float64, error) {
	workDir, err := os.MkdirTemp("", "contenthub-loadbench-tracing-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(workDir)
	databaseURL := "sqlite://" + filepath.Join(workDir, "contenthub.db")
	settle := func(context.Context) error { return nil }
	if store == "postgres" {
		schemas, err := newPostgresSchemas(ctx, o.postgresURL)
		if err != nil {
			return 0, err
		}
		defer schemas.dropAll()
		settle = schemas.settle
		if databaseURL, err = schemas.create(ctx, "contenthub_loadbench_tracing"); err != nil {
			return 0, err
		}
	}
	binary := v.binary(o)
	if err := migrate(ctx, binary, databaseURL); err != nil {
		return 0, err
	}
	secret := "loadbench-" + randomHex(16)
	svc, err := startService(ctx, serviceConfig{binary: binary, databaseURL: databaseURL, workDir: workDir, self: self,
		secret: secret, env: append(append([]string(nil), o.env...), v.env...)})
	if err != nil {
		return 0, err
	}
	defer svc.stop()
	ids, err := svc.createTasks(ctx, 1, o.tracingN, func(i int) string { return fmt.Sprintf("边缘计算入门（追踪 第 %d 篇）", i+1) })
	if err != nil {
		return 0, err
	}
	urls, err := svc.waitSubmitted(ctx, workDir, ids)
	if err != nil {
		return 0, err
	}
	if err := settle(ctx); err != nil {
		return 0, err
	}
	cbs := callbacksFor(ids, urls, article, secret)
	m, err := measureService(ctx, svc, len(cbs), o.tracingC, func(ctx context.Context, i int) error {
		return deliver(ctx, svc.client, cbs[i], false)
	})
	if err != nil {
		return 0, err
	}
	return m.cpuPer1000(), nil
}
