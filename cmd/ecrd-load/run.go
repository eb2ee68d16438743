package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// execute runs one scenario end to end: setup (untimed), the timed run
// with an optional RSS watch on the server, and the summary.
func execute(ctx context.Context, cfg *config) (*result, error) {
	c := newClient(cfg)
	s, err := newScenario(cfg, c)
	if err != nil {
		return nil, err
	}
	if err := s.setup(ctx); err != nil {
		return nil, err
	}

	var watch *rssWatch
	if len(cfg.watch) > 0 {
		if watch, err = startRSSWatch(cfg.watch, 10*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if cfg.wrk != "" {
		res, clientCPU, err := runWrk(ctx, cfg, c, s)
		if watch != nil {
			reports := watch.stop()
			if err == nil {
				res.Server = &reports[0]
				if len(reports) > 1 || reports[0].Name != "" {
					res.Servers = reports
				}
			}
		}
		if err != nil {
			return nil, err
		}
		res.ClientCPUSeconds = clientCPU
		return res, nil
	}
	requestsBefore, fallbacksBefore := c.requests.Load(), c.fallbacks.Load()
	sentBefore := map[*client]int64{}
	for _, r := range c.replicas {
		sentBefore[r] = r.sent.Load()
	}
	cpuBefore := ownCPU()
	st := run(ctx, cfg, s)
	if c, ok := s.(interface{ close() }); ok {
		c.close()
	}
	res := summarize(cfg, st)
	res.ClientCPUSeconds = (ownCPU() - cpuBefore).Seconds()
	res.Requests = c.requests.Load() - requestsBefore
	res.ReqPerSec = float64(res.Requests) / st.wall.Seconds()
	res.Fallbacks = c.fallbacks.Load() - fallbacksBefore
	if watch != nil {
		reports := watch.stop()
		res.Server = &reports[0]
		if len(reports) > 1 || reports[0].Name != "" {
			res.Servers = reports
		}
	}
	if len(c.replicas) > 1 {
		for _, r := range c.replicas {
			res.Replicas = append(res.Replicas, replicaReport{URL: r.base, Requests: r.sent.Load() - sentBefore[r]})
		}
	}
	return res, nil
}

// ownCPU is the CPU time this process has used, so the output can show
// how much of the machine the client took.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runStats is what the workers measured.
type runStats struct {
	wall       time.Duration
	ok, failed int64
	bytes      int64
	latencies  []time.Duration // of successful ops
	errSamples []string
}

// workerStats is kept per worker so that recording a successful op
// takes no lock; failures are rare and go through record.
type workerStats struct {
	ok, bytes int64
	latencies []time.Duration
}

// Give up early when this many ops failed and none succeeded: the
// registry is down or refuses everything, and spinning for -d proves
// nothing.
const hopelessFailures = 100

// run starts cfg.concurrency workers that take op numbers from a shared
// counter until -n ops were started or -d has passed. An op that is in
// flight at the deadline is allowed to finish and counts; wall time runs
// until the last one ends, so bytes/wall is honest.
func run(ctx context.Context, cfg *config, s scenario) *runStats {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		next     atomic.Int64
		okTotal  atomic.Int64
		mu       sync.Mutex
		st       runStats
		seenErrs = map[string]bool{}
		workers  = make([]workerStats, cfg.concurrency)
		wg       sync.WaitGroup
	)
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		st.failed++
		if msg := err.Error(); !seenErrs[msg] && len(seenErrs) < 5 {
			seenErrs[msg] = true
			st.errSamples = append(st.errSamples, msg)
		}
		if st.failed >= hopelessFailures && okTotal.Load() == 0 {
			cancel()
		}
	}

	start := time.Now()
	var deadline time.Time
	if cfg.duration > 0 {
		deadline = start.Add(cfg.duration)
	}
	for w := range workers {
		op := s.newOp()
		ws := &workers[w]
		ws.latencies = make([]time.Duration, 0, initialLatencyCap(cfg))
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if cfg.ops > 0 && i >= cfg.ops {
					return
				}
				t0 := time.Now()
				if !deadline.IsZero() && !t0.Before(deadline) {
					return
				}
				n, err := op(ctx, i)
				elapsed := time.Since(t0)
				if err != nil {
					record(err)
					continue
				}
				okTotal.Add(1)
				ws.ok++
				ws.bytes += n
				ws.latencies = append(ws.latencies, elapsed)
			}
		})
	}
	wg.Wait()
	st.wall = time.Since(start)

	for _, ws := range workers {
		st.ok += ws.ok
		st.bytes += ws.bytes
		st.latencies = append(st.latencies, ws.latencies...)
	}
	return &st
}

// initialLatencyCap sizes each worker's latency slice so that appending
// rarely reallocates during a run.
func initialLatencyCap(cfg *config) int {
	if cfg.ops > 0 {
		return int(min(cfg.ops/int64(cfg.concurrency)+1, 1<<20))
	}
	return 1 << 14
}

// percentile returns the nearest-rank percentile p (0..1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func summarize(cfg *config, st *runStats) *result {
	slices.Sort(st.latencies)
	r := &result{
		Scenario:     cfg.scenario,
		Registry:     registryList(cfg),
		Repository:   cfg.repo(),
		Concurrency:  cfg.concurrency,
		Ops:          st.ok,
		Errors:       st.failed,
		WallSeconds:  st.wall.Seconds(),
		Bytes:        st.bytes,
		MBPerSec:     float64(st.bytes) / 1e6 / st.wall.Seconds(),
		OpsPerSec:    float64(st.ok) / st.wall.Seconds(),
		P50Ms:        ms(percentile(st.latencies, 0.50)),
		P99Ms:        ms(percentile(st.latencies, 0.99)),
		MaxMs:        ms(percentile(st.latencies, 1)),
		ErrorSamples: st.errSamples,
	}
	switch cfg.scenario {
	case scenarioPush:
		r.Mode = cfg.mode
		r.SizeBytes = int64(cfg.size)
		r.Layers = cfg.layers
		if cfg.mode == modeChunked {
			r.ChunkBytes = int64(cfg.chunk)
		}
	case scenarioPull:
		r.SizeBytes = int64(cfg.size)
		r.Blobs = cfg.blobs
		r.Head = cfg.head
		r.Splice = cfg.splice
	case scenarioManifest:
		r.Mode = cfg.method
		r.Raw = cfg.raw
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// label names the scenario for the text output, e.g. "push monolithic,
// 1MB blobs" or "push monolithic, images of 10 x 1MB layers".
func (r *result) label() string {
	switch r.Scenario {
	case scenarioPush:
		what := fmt.Sprintf("%s blobs", formatSize(r.SizeBytes))
		if r.Layers > 0 {
			what = fmt.Sprintf("images of %d x %s layers + config + manifest", r.Layers, formatSize(r.SizeBytes))
		}
		if r.ChunkBytes > 0 {
			what += fmt.Sprintf(" in %s chunks", formatSize(r.ChunkBytes))
		}
		return fmt.Sprintf("push %s, %s", r.Mode, what)
	case scenarioPull:
		head := ""
		if r.Head {
			head = ", HEAD first"
		}
		if r.Splice {
			head += ", bodies spliced to /dev/null"
		}
		return fmt.Sprintf("pull %s blobs (%d distinct%s)", formatSize(r.SizeBytes), r.Blobs, head)
	default:
		if r.Raw {
			return fmt.Sprintf("manifest %s by tag, raw HTTP", r.Mode)
		}
		return fmt.Sprintf("manifest %s by tag", r.Mode)
	}
}

// registryList is the registry URLs as given, comma-separated.
func registryList(cfg *config) string {
	urls := make([]string, len(cfg.registries))
	for i, u := range cfg.registries {
		urls[i] = u.String()
	}
	return strings.Join(urls, ",")
}
