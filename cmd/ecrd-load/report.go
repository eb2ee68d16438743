package main

import (
	"fmt"
	"io"
)

// result is what one run reports; -json prints it as is. Sizes and byte
// counts are bytes; MB is 10^6 bytes; latencies are per op, successful
// ops only.
type result struct {
	Scenario    string `json:"scenario"`
	Mode        string `json:"mode,omitempty"` // upload mode, or GET/HEAD for manifest-get
	Registry    string `json:"registry"`
	Repository  string `json:"repository"`
	SizeBytes   int64  `json:"size_bytes,omitempty"`
	ChunkBytes  int64  `json:"chunk_bytes,omitempty"`
	Layers      int    `json:"layers,omitempty"`
	Blobs       int    `json:"blobs,omitempty"`
	Head        bool   `json:"head,omitempty"`
	Splice      bool   `json:"splice,omitempty"`
	Raw         bool   `json:"raw,omitempty"`
	Concurrency int    `json:"concurrency"`
	// Client is "wrk" when wrk made the requests (-wrk), else empty.
	Client string `json:"client,omitempty"`

	Ops         int64   `json:"ops"`    // succeeded
	Errors      int64   `json:"errors"` // failed
	Requests    int64   `json:"http_requests"`
	Fallbacks   int64   `json:"single_request_fallbacks,omitempty"`
	WallSeconds float64 `json:"wall_seconds"`
	Bytes       int64   `json:"bytes"` // payload moved by successful ops
	MBPerSec    float64 `json:"mb_per_s"`
	OpsPerSec   float64 `json:"ops_per_s"`
	ReqPerSec   float64 `json:"http_req_per_s"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`

	ClientCPUSeconds float64 `json:"client_cpu_seconds"`

	// Server is the first process -watch-pid names; Servers all of them,
	// when it names several or names them.
	Server  *rssReport  `json:"server,omitempty"`
	Servers []rssReport `json:"servers,omitempty"`
	// Replicas are the registry URLs with the requests each got, when
	// there are several.
	Replicas     []replicaReport `json:"replicas,omitempty"`
	ErrorSamples []string        `json:"error_samples,omitempty"`
}

// replicaReport is one registry URL of several and what it was sent.
type replicaReport struct {
	URL      string `json:"url"`
	Requests int64  `json:"http_requests"`
}

func (r *result) writeText(w io.Writer) {
	fmt.Fprintf(w, "scenario    %s\n", r.label())
	workers := "workers"
	if r.Client == "wrk" {
		workers = "connections of wrk"
	}
	fmt.Fprintf(w, "registry    %s, repository %s, %d %s\n", r.Registry, r.Repository, r.Concurrency, workers)
	fmt.Fprintf(w, "ops         %d ok, %d failed, %d HTTP requests", r.Ops, r.Errors, r.Requests)
	if r.Fallbacks > 0 {
		fmt.Fprintf(w, " (%d single-request uploads answered 202 and finished with a PUT)", r.Fallbacks)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "wall        %.3f s\n", r.WallSeconds)
	fmt.Fprintf(w, "throughput  %.1f MB/s (%d bytes; MB = 10^6 bytes)\n", r.MBPerSec, r.Bytes)
	fmt.Fprintf(w, "rate        %.1f ops/s, %.1f HTTP req/s\n", r.OpsPerSec, r.ReqPerSec)
	fmt.Fprintf(w, "latency     p50 %.2f ms, p99 %.2f ms, max %.2f ms (per op)\n", r.P50Ms, r.P99Ms, r.MaxMs)
	fmt.Fprintf(w, "client CPU  %.2f s%s\n", r.ClientCPUSeconds, perOp(r.ClientCPUSeconds, r.Ops+r.Errors))
	for _, rep := range r.Replicas {
		fmt.Fprintf(w, "replica     %s: %d HTTP requests\n", rep.URL, rep.Requests)
	}
	servers := r.Servers
	if servers == nil && r.Server != nil {
		servers = []rssReport{*r.Server}
	}
	for _, s := range servers {
		name := "server"
		if s.Name != "" {
			name = "server " + s.Name
		}
		fmt.Fprintf(w, "%-11s pid %d: peak VmRSS %.1f MB (%.1f MB at start), VmHWM %+.1f MB, %d samples\n",
			name, s.PID, float64(s.PeakRSSBytes)/1e6, float64(s.StartRSSBytes)/1e6,
			float64(s.HWMEndBytes-s.HWMStartBytes)/1e6, s.Samples)
		fmt.Fprintf(w, "%-11s %.2f s%s\n", name+" CPU", s.CPUSeconds, perOp(s.CPUSeconds, r.Ops+r.Errors))
	}
}

// perOp writes CPU seconds per operation in microseconds.
func perOp(seconds float64, ops int64) string {
	if ops == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.1f µs per op)", seconds*1e6/float64(ops))
}
