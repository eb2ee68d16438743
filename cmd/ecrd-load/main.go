// Command ecrd-load pushes and pulls blobs and manifests through any OCI
// registry and reports throughput and latency, so that ecrd can be
// measured beside its peers on the same machine in the same run.
//
// It speaks plain net/http and keeps per-operation work small (no
// per-blob hashing, reused requests for manifest GETs), so that on a
// small machine the registry, not the client, sets the numbers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usageText = `ecrd-load: push and pull load through any OCI registry

Usage:
  ecrd-load SCENARIO [flags] REGISTRY-URL[,REGISTRY-URL...]

REGISTRY-URL is e.g. http://127.0.0.1:5000 (no scheme means http).
Several URLs, separated by commas, are replicas of one registry (sharing
its stores): operations go to them round robin, operation i to URL
i mod N, each operation's requests to one URL; setup uses the first, and
so does -ecr's login (any replica accepts its token).

Scenarios:
  push          each op pushes a fresh blob of -size (or, with -layers N,
                an image of N layers of -size + config + manifest with tag)
  pull          setup pushes -blobs blobs (untimed); each op GETs one,
                draining the body (with -head, HEAD first as clients do)
  manifest-get  setup pushes one small tagged image; each op is a GET (or
                -method HEAD) of the manifest by tag with OCI/Docker Accept

Flags (anywhere after SCENARIO):
  -c N          concurrent workers (default 1)
  -n N          operations in total (default 100 unless -d is given)
  -d DURATION   run for this long, e.g. 10s (with -n too: whichever first)
  -size SIZE    blob (layer) size: 4096, 1MB, 100MB, 2GB, 1MiB...; MB, GB
                are powers of 10, MiB, GiB powers of 2 (default 1MB)
  -mode MODE    push upload mode (default monolithic):
                  monolithic  POST, then PUT <Location>&digest= with the body
                  single      POST ?digest= with the body (a 202 answer is
                              followed by a PUT and counted as a fallback)
                  chunked     POST, PATCH chunks with Content-Range, PUT ?digest=
  -chunk SIZE   chunk size for -mode chunked (default 5MB)
  -layers N     push: one op = an image of N layers (default 0: plain blobs)
  -blobs N      pull: distinct blobs to spread GETs over (default: -c)
  -head         pull: HEAD each blob before the GET
  -method M     manifest-get: GET or HEAD (default GET)
  -repo PREFIX  repository prefix; the repository is PREFIX/SCENARIO
                (PREFIX/push, PREFIX/image, PREFIX/pull, PREFIX/manifest)
                (default ecrd-load)
  -u USER:PASS  Basic credentials, sent with every request
  -ecr KEY:SECRET  log in to an ECR-style registry (ecrd) instead: call
                GetAuthorizationToken on the registry URL with this access
                key and use the token as -u, and add a ROOT repository
                creation template applied for CREATE_ON_PUSH if missing
  -lazy-auth    send -u credentials only after a 401 Basic challenge
  -k            skip TLS certificate verification (https)
  -watch-pid P  sample /proc/P/status every 10ms while timing and report
                the server's peak VmRSS (and the VmHWM change) and the CPU
                time it and its descendants used (/proc/P/stat, with the
                times of reaped children: PostgreSQL serves each
                connection from a child process). Several processes:
                P,P... or NAME=P,NAME=P... (e.g. ecrd=12,postgres=34);
                "server" reports the first, "servers" each of them
  -json         print the result as one JSON object
  -splice       pull: GET each blob on a plain TCP connection and move its
                body from the socket to /dev/null with splice(2), so that
                the client never copies it (Linux, http only): the figure
                is then the server's, not a client's copy
  -raw          manifest-get: write each request, prepared once, on a plain
                TCP connection and read the response with a minimal parser
                instead of net/http (http only), so that the client costs
                about what wrk does and its latencies stay ecrd-load's
  -wrk PATH     pull and manifest-get: after setup, run wrk (PATH is its
                binary) for -d with -c connections and as many threads
                as cores (at most -c) instead of ecrd-load's workers; a
                Lua script gives it the requests (the pull's blobs in
                turn) and its summary is reported as usual. wrk costs the
                machine much less CPU per request, which matters when it
                and the server share a few cores. Client CPU is wrk's.

Output: ops and failures, wall time, MB/s (bytes moved / wall time, MB =
10^6 bytes), ops/s and HTTP requests/s, per-op latency p50/p99/max from
all successful ops, and the client's own CPU time (client and server
share the machine). Exit status: 0 all ops succeeded, 1 some op failed,
2 bad usage or setup failure.
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain is main without the process exit, so tests can run it.
func realMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecrd-load: %v\nRun 'ecrd-load -h' for usage.\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.ecrKey != "" {
		if err := ecrLogin(ctx, cfg); err != nil {
			fmt.Fprintf(stderr, "ecrd-load: %v\n", err)
			return 2
		}
	}
	res, err := execute(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd-load: %v\n", err)
		return 2
	}

	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.writeText(stdout)
	}
	if res.Errors > 0 {
		for _, s := range res.ErrorSamples {
			fmt.Fprintf(stderr, "ecrd-load: error: %s\n", s)
		}
		return 1
	}
	return 0
}

// config is everything the flags say.
type config struct {
	scenario    string
	registry    *url.URL   // the first of registries
	registries  []*url.URL // replicas, taken round robin
	concurrency int
	ops         int64
	duration    time.Duration
	size        byteSize
	mode        string
	chunk       byteSize
	layers      int
	blobs       int
	head        bool
	method      string
	repoPrefix  string
	user        string
	password    string
	ecrKey      string // AKID:SECRET for -ecr
	lazyAuth    bool
	insecure    bool
	watch       []watchTarget
	jsonOut     bool
	wrk         string // wrk's path for -wrk
	splice      bool
	raw         bool
}

const (
	scenarioPush     = "push"
	scenarioPull     = "pull"
	scenarioManifest = "manifest-get"
)

// parseArgs reads "SCENARIO [flags] URL [flags]". Flags may come after
// the URL too, which the flag package alone does not allow.
func parseArgs(args []string) (*config, error) {
	if len(args) == 0 {
		return nil, errors.New("missing scenario (push, pull or manifest-get)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return nil, flag.ErrHelp
	}
	cfg := &config{
		scenario: args[0],
		size:     1_000_000,
		chunk:    5_000_000,
		mode:     modeMonolithic,
		method:   "GET",
	}
	fs := flag.NewFlagSet("ecrd-load", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by realMain, once
	fs.IntVar(&cfg.concurrency, "c", 1, "")
	fs.Int64Var(&cfg.ops, "n", 0, "")
	fs.DurationVar(&cfg.duration, "d", 0, "")
	fs.Var(&cfg.size, "size", "")
	fs.StringVar(&cfg.mode, "mode", cfg.mode, "")
	fs.Var(&cfg.chunk, "chunk", "")
	fs.IntVar(&cfg.layers, "layers", 0, "")
	fs.IntVar(&cfg.blobs, "blobs", 0, "")
	fs.BoolVar(&cfg.head, "head", false, "")
	fs.StringVar(&cfg.method, "method", cfg.method, "")
	fs.StringVar(&cfg.repoPrefix, "repo", "ecrd-load", "")
	userPass := fs.String("u", "", "")
	fs.StringVar(&cfg.ecrKey, "ecr", "", "")
	fs.BoolVar(&cfg.lazyAuth, "lazy-auth", false, "")
	fs.BoolVar(&cfg.insecure, "k", false, "")
	watch := fs.String("watch-pid", "", "")
	fs.BoolVar(&cfg.jsonOut, "json", false, "")
	fs.StringVar(&cfg.wrk, "wrk", "", "")
	fs.BoolVar(&cfg.splice, "splice", false, "")
	fs.BoolVar(&cfg.raw, "raw", false, "")

	var positional []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return nil, fmt.Errorf("want one registry URL (or several, separated by commas) after the scenario, got %d arguments", len(positional))
	}
	for _, s := range strings.Split(positional[0], ",") {
		u, err := parseRegistryURL(s)
		if err != nil {
			return nil, err
		}
		cfg.registries = append(cfg.registries, u)
	}
	cfg.registry = cfg.registries[0]
	if *watch != "" {
		var err error
		if cfg.watch, err = parseWatch(*watch); err != nil {
			return nil, err
		}
	}
	if *userPass != "" {
		var ok bool
		if cfg.user, cfg.password, ok = strings.Cut(*userPass, ":"); !ok {
			return nil, errors.New("-u wants USER:PASSWORD")
		}
	}
	return cfg, cfg.check()
}

// watchTarget is a process -watch-pid names, with the label it is
// reported under ("" when not given).
type watchTarget struct {
	name string
	pid  int
}

// parseWatch reads -watch-pid: PID or NAME=PID, separated by commas.
func parseWatch(s string) ([]watchTarget, error) {
	var out []watchTarget
	for _, item := range strings.Split(s, ",") {
		name, pidText, named := strings.Cut(item, "=")
		if !named {
			name, pidText = "", item
		}
		pid, err := strconv.Atoi(strings.TrimSpace(pidText))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("-watch-pid %q: want PID or NAME=PID, separated by commas", s)
		}
		out = append(out, watchTarget{name: strings.TrimSpace(name), pid: pid})
	}
	return out, nil
}

// parseRegistryURL accepts "http://host:port", "https://host" or a bare
// "host:port" (taken as http, the main case being 127.0.0.1).
func parseRegistryURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("registry URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("registry URL %q: want http://host:port or https://host", s)
	}
	// Only scheme and host matter: every path starts with /v2/.
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func (cfg *config) check() error {
	switch cfg.scenario {
	case scenarioPush, scenarioPull, scenarioManifest:
	default:
		return fmt.Errorf("unknown scenario %q (want push, pull or manifest-get)", cfg.scenario)
	}
	switch cfg.mode {
	case modeMonolithic, modeSingle, modeChunked:
	default:
		return fmt.Errorf("unknown -mode %q (want monolithic, single or chunked)", cfg.mode)
	}
	cfg.method = strings.ToUpper(cfg.method)
	if cfg.method != "GET" && cfg.method != "HEAD" {
		return fmt.Errorf("-method %q: want GET or HEAD", cfg.method)
	}
	switch {
	case cfg.concurrency < 1:
		return errors.New("-c must be at least 1")
	case cfg.ops < 0 || cfg.duration < 0:
		return errors.New("-n and -d must not be negative")
	case cfg.layers < 0 || cfg.blobs < 0:
		return errors.New("-layers and -blobs must not be negative")
	case int64(cfg.size) < minBlob:
		return fmt.Errorf("-size must be at least %d bytes", minBlob)
	}
	if cfg.wrk != "" {
		switch {
		case cfg.scenario == scenarioPush:
			return errors.New("-wrk runs pull and manifest-get, not push")
		case cfg.duration < time.Second || cfg.ops > 0:
			return errors.New("-wrk runs for a duration: give -d of a second or more, and no -n")
		case len(cfg.registries) > 1:
			return errors.New("-wrk takes one registry URL")
		case cfg.head:
			return errors.New("-wrk GETs blobs without -head")
		}
	}
	if cfg.splice {
		switch {
		case cfg.scenario != scenarioPull:
			return errors.New("-splice is for pull")
		case cfg.head || cfg.wrk != "":
			return errors.New("-splice GETs blobs itself: not with -head or -wrk")
		}
		for _, u := range cfg.registries {
			if u.Scheme != "http" {
				return errors.New("-splice reads plain http only")
			}
		}
	}
	if cfg.raw {
		switch {
		case cfg.scenario != scenarioManifest:
			return errors.New("-raw is for manifest-get")
		case cfg.wrk != "":
			return errors.New("-raw sends the requests itself: not with -wrk")
		}
		for _, u := range cfg.registries {
			if u.Scheme != "http" {
				return errors.New("-raw speaks plain http only")
			}
		}
	}
	if cfg.ops == 0 && cfg.duration == 0 {
		cfg.ops = 100
	}
	if cfg.blobs == 0 {
		cfg.blobs = cfg.concurrency
	}
	return nil
}

// repo is the repository a scenario works in: PREFIX/push and so on.
func (cfg *config) repo() string {
	name := cfg.scenario
	switch {
	case cfg.scenario == scenarioPush && cfg.layers > 0:
		name = "image"
	case cfg.scenario == scenarioManifest:
		name = "manifest"
	}
	return strings.Trim(cfg.repoPrefix, "/") + "/" + name
}
