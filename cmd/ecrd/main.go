// Command ecrd is a self-hosted container registry that speaks the OCI
// distribution API and the Amazon ECR APIs that manage it.
//
//	ecrd serve [flags]   run the registry
//	ecrd help            list the other commands: administration of a data
//	                     folder, and clients of a running server
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/ecrd/ecrd/internal/audit"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/cloudwatch"
	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/console"
	"github.com/ecrd/ecrd/internal/eventpattern"
	"github.com/ecrd/ecrd/internal/events"
	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metrics"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/remote"
	"github.com/ecrd/ecrd/internal/reqinfo"
	"github.com/ecrd/ecrd/internal/secrets"
	"github.com/ecrd/ecrd/internal/server"
	"github.com/ecrd/ecrd/internal/sigv4"
	"github.com/ecrd/ecrd/internal/version"
	"github.com/ecrd/ecrd/internal/webidentity"
)

// ecrdCommands is ecrd's list of commands.
var ecrdCommands = group{
	about: `ecrd is a container registry that is a drop-in Amazon ECR: the OCI
distribution API and the AWS APIs that manage it (ECR, and slices of IAM,
STS, KMS, EventBridge, Secrets Manager, CloudTrail and CloudWatch) on one
port.`,
	commands: []command{
		serveCmd,
		{name: "account", summary: "create and list accounts in a data folder"},
		{name: "access-key", summary: "create and list root access keys in a data folder"},
		{name: "lifecycle", summary: "run or preview lifecycle policies on a running server"},
		gcCmd,
		eventsCmd,
		importCmd,
		imageTimesCmd,
		consoleURLCmd,
		migrateCmd,
		{name: "vulndb", summary: "load OSV vulnerability exports that image scans match against"},
		{name: "audit", summary: "export the audit trail of a running server as JSON lines"},
		versionCmd,
		{name: "help", summary: "print a command's usage: ecrd help <command>"},
	},
}

var (
	serveCmd   = command{name: "serve", summary: "run the registry"}
	versionCmd = command{name: "version", summary: "print the version", about: "Prints the version of ecrd, its source revision, and the Go it was built with."}
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintln(stdout, version.String())
		return 0
	}
	return ecrdCommands.run(args, stdout, stderr, func(name string, args []string) int {
		switch name {
		case "serve":
			return serve(args, stdout, stderr)
		case "account", "access-key":
			return admin(name, args, stdout, stderr)
		case "lifecycle":
			return lifecycle(args, stdout, stderr)
		case "gc":
			return gc(args, stdout, stderr)
		case "events":
			return eventsCommand(args, stdout, stderr)
		case "import":
			return importImages(args, stdout, stderr)
		case "image-times":
			return imageTimes(args, stdout, stderr)
		case "console-url":
			return consoleURL(args, stdout, stderr)
		case "migrate":
			return migrate(args, stdout, stderr)
		case "vulndb":
			return vulndb(args, stdout, stderr)
		case "audit":
			return auditCmds(args, stdout, stderr)
		case "version":
			fs := versionCmd.flagSet()
			rest, status, ok := versionCmd.parse(fs, args, stdout, stderr)
			if !ok {
				return status
			}
			if !versionCmd.noArgs(fs, rest, stderr) {
				return 2
			}
			fmt.Fprintln(stdout, version.String())
			return 0
		default: // help: its arguments are taken by ecrdCommands.run
			ecrdCommands.usage(stdout)
			return 0
		}
	})
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ecrd serve", flag.ContinueOnError)
	// config prints its usage for --help and for a bad flag: the first
	// goes to stdout, the second to stderr.
	var printed bytes.Buffer
	fs.SetOutput(&printed)
	cfg, err := config.Load(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(printed.Bytes())
		return 0
	}
	if err != nil {
		// After a bad flag, the flag package wrote the error and the usage.
		usage, _ := strings.CutPrefix(printed.String(), err.Error()+"\n")
		if usage != "" {
			usage = "\n" + usage
		}
		fmt.Fprintf(stderr, "ecrd serve: %v\n%s", err, usage)
		return 2
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runServer(ctx, cfg, log); err != nil {
		log.Error("ecrd stopped", "err", err)
		return 1
	}
	return 0
}

// holderName names this process in the leases of background jobs: the
// host and the data folder, which one process serves at a time, so that a
// restart takes back the scans it had in flight.
func holderName(dataDir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return host + ":" + dataDir
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runServer opens the stores, recovers from any crash, makes sure the
// default account can sign in, serves until ctx ends, and closes
// everything in order.
func runServer(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	start := time.Now()
	if limit, ok := memoryLimit(cfg, os.Getenv); ok {
		debug.SetMemoryLimit(limit)
	}
	if pct, ok := gcPercent(cfg, os.Getenv); ok {
		debug.SetGCPercent(pct)
	}
	st, err := openStores(ctx, storeSettings{DataDir: cfg.DataDir, KeyFile: cfg.ServerKeyFile, Metadata: cfg.Metadata, Blobs: cfg.Blobs}, log)
	if err != nil {
		return err
	}
	defer st.Close()
	// Only now: the SQLite read pool is sized on the CPUs the runtime
	// found, not on the P added for latency (each connection keeps its
	// own page cache; two more cost 9 MB under the scale benchmark's load).
	if n, ok := procs(cfg, os.Getenv, runtime.GOMAXPROCS(0)); ok {
		runtime.GOMAXPROCS(n)
	}
	// Every process follows the outbox, so that a change made through any
	// process sharing the database drops what this one cached. It starts
	// before anything is read, so that no change made between a read
	// here and its start is missed; handlers subscribe before it runs.
	follower := outbox.NewFollower(st.meta, 0, log)
	if err := follower.Start(ctx); err != nil {
		return fmt.Errorf("reading the outbox: %w", err)
	}
	if cfg.AcceptAnyCredentials {
		log.Warn("DEVELOPMENT MODE: --accept-any-credentials accepts any signature whose access key ID is an account ID, and any registry password. Never expose this server.")
	}
	if err := ensureRootCredentials(ctx, st, holderName(cfg.DataDir), cfg, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	endpoint, err := endpoints(cfg, ln.Addr())
	if err != nil {
		return err
	}
	// KMS seals key material under the server keys, as identity seals
	// secrets; the registry encrypts KMS repositories with its data keys.
	kmsSvc := kms.New(st.meta, st.keys, st.ids, log)
	// EventBridge seals connection secrets under the server keys too.
	eventsSvc := events.New(st.meta, st.keys, st.ids, log)
	// Secrets Manager encrypts each value under a KMS data key.
	secretsSvc := secrets.New(st.meta, kmsSvc, st.ids, log)
	// Events reach the rules' targets from the outbox, in one process at a
	// time (internal/events/delivery).
	deliver := delivery.New(delivery.Config{
		Store: st.meta, Source: eventsSvc, Leases: lease.New(st.meta, holderName(cfg.DataDir), time.Now, log),
		Compile: compilePattern, Decode: eventpattern.Decode, Log: log,
	})
	// CloudWatch's metrics are always kept: pulls and API calls are
	// recorded in memory and written in batches.
	recorder := cloudwatch.NewRecorder(st.meta, nil, log)
	var (
		observers = []reqinfo.Observer{recorder}
		activity  = activities{recorder}
		prom      *metrics.Metrics
		metricsLn net.Listener
	)
	if cfg.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return fmt.Errorf("metrics-listen: %w", err)
		}
		defer metricsLn.Close()
		prom = metrics.New(metrics.Options{Meta: st.meta, Repositories: cfg.MetricsRepositories, Log: log})
		observers, activity = append(observers, prom), append(activity, prom)
	}
	reg := registry.New(st.meta, st.blobs, registry.Options{
		UploadTTL:         cfg.UploadTTL,
		Logger:            log,
		RegistryHost:      func(s metadata.Scope) string { return hostOf(endpoint(s)) },
		LifecycleInterval: cfg.LifecycleInterval,
		GCInterval:        cfg.GCInterval,
		GCGrace:           cfg.GCGrace,
		RestoreDelay:      cfg.RestoreDelay,
		Identity:          st.ids,
		Keys:              registry.KMSKeys(kmsSvc),
		ServerKey:         serverKeyIf(cfg.EncryptBlobs, st.keys),
		Scanner:           openScanner(cfg.VulnDBDir(), log),
		Holder:            holderName(cfg.DataDir),
		ScanDataInterval:  cfg.VulnDBCheckInterval,
		MinFreeSpace:      cfg.MinFreeSpace,
		CacheSize:         cacheSize(cfg.ManifestCache),
		EventRetention:    cfg.EventRetention,
		Shared:            cfg.Shared(),
		BlobRedirect:      cfg.BlobRedirect,
		RemoteTargets:     remoteTargets(cfg.RemoteRegions, log),
		InsecureUpstreams: cfg.InsecureUpstreams,
		Self:              selfURL(ln.Addr()),
		RemoteRegion:      func(region string) bool { _, ok := cfg.RemoteRegions[region]; return ok },
		DeadLetters:       deliver,
		Secrets:           ptcSecrets{secretsSvc},
		Activity:          activity,
	})
	if err := reg.Recover(ctx); err != nil {
		return fmt.Errorf("recovering the data folder: %w", err)
	}
	oidcRoots, err := oidcRoots(cfg.OIDCCAFile)
	if err != nil {
		return err
	}
	st.ids.SetWebIdentityVerifier(webidentity.NewVerifier(webidentity.Options{RootCAs: oidcRoots}))
	authn := &auth.Authenticator{
		IDs:                  st.ids,
		Verifier:             &sigv4.Verifier{MaxSkew: cfg.ClockSkew},
		AcceptAnyCredentials: cfg.AcceptAnyCredentials,
		DefaultScope:         metadata.Scope{Account: cfg.AccountID, Region: cfg.Region},
	}
	trail := audit.New(audit.Options{Store: st.meta, Identity: st.ids, Leases: lease.New(st.meta, holderName(cfg.DataDir), time.Now, log),
		Log: log, Retention: cfg.AuditRetention})
	if cfg.Audit {
		observers = append(observers, trail)
	}
	var consoleHandler http.Handler
	if cfg.Console {
		co := console.Options{Registry: reg, Identity: st.ids, Events: eventsSvc, DefaultRegion: cfg.Region, Log: log}
		if cfg.Audit {
			co.Trail = trail
		}
		consoleHandler = console.New(co)
	}
	srv := server.New(server.Options{Registry: reg, Identity: st.ids, Auth: authn, KMS: kmsSvc, Events: eventsSvc, Secrets: secretsSvc, Endpoint: endpoint, Log: log,
		Limits:    server.Limits{BodyTimeout: cfg.BodyTimeout, MaxConnections: cfg.MaxConnections, MaxClientConnections: cfg.MaxClientConnections},
		Observers: observers, Trail: trail, CloudWatch: cloudwatch.NewService(st.meta, st.ids, nil), Console: consoleHandler})

	if cfg.DebugListen != "" {
		go serveDebug(cfg.DebugListen, log)
	}
	follower.Subscribe(reg.Changed)
	follower.Subscribe(st.ids.Changed)
	follower.Subscribe(kmsSvc.Changed)
	follower.Subscribe(deliver.Notify)
	if cfg.Audit {
		follower.Subscribe(trail.Wake)
	}
	if prom != nil {
		prom.SetRegistry(reg)
		prom.SetDelivery(deliveryStats{deliver})
		follower.Subscribe(prom.Event)
	}
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { reg.Run(bg); close(done) }()
	go follower.Run(bg)
	delivered := make(chan struct{})
	go func() { deliver.Run(bg); close(delivered) }()
	auditDone := make(chan struct{})
	if cfg.Audit {
		go func() { trail.Run(bg); close(auditDone) }()
	} else {
		close(auditDone)
	}
	recorded := make(chan struct{})
	go func() { recorder.Run(bg); close(recorded) }()
	go cloudwatch.NewMaintainer(st.meta, lease.New(st.meta, holderName(cfg.DataDir), time.Now, log), recorder, nil, log).Run(bg)
	if prom != nil {
		go prom.Run(bg)
		go serveMetrics(bg, metricsLn, prom, log)
	}

	log.Info("listening", "addr", ln.Addr().String(), "endpoint", endpoint(authn.DefaultScope), "data", cfg.DataDir,
		"account", cfg.AccountID, "region", cfg.Region, "version", version.Version, "startup", time.Since(start).Round(time.Microsecond).String())
	err = srv.Serve(ctx, ln, cfg.ShutdownTimeout)
	stopBackground()
	<-done
	<-delivered
	<-auditDone
	<-recorded // its last flush
	log.Info("stopped")
	return err
}

// serveDebug serves Go's profiler on its own (loopback) address, apart from
// the registry's port.
func serveDebug(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("debug server listening", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("debug server stopped", "err", err)
	}
}

// oidcRoots returns the CAs trusted for OpenID Connect issuers: the
// system's plus those of caFile.
func oidcRoots(caFile string) (*x509.CertPool, error) {
	pool, err := remote.RootsWith(caFile)
	if err != nil {
		return nil, fmt.Errorf("oidc-ca-file: %w", err)
	}
	return pool, nil
}

// memoryLimit is the soft memory limit ecrd sets: memory-limit, unless it
// is 0 or GOMEMLIMIT set one (the runtime read it at start).
func memoryLimit(cfg config.Config, getenv func(string) string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" || cfg.MemoryLimit <= 0 {
		return 0, false
	}
	return cfg.MemoryLimit, true
}

// defaultGCPercent is gc-percent's automatic value under a memory limit.
// Serving requests, the live heap is small (a few MB, the manifest cache
// aside) and the runtime's 100 made the collector run 40 times a second
// at 25,000 manifest GETs a second, each collection taking a core from
// two; at 400 it runs 11 times, and the limit still caps the heap.
const defaultGCPercent = 400

// gcPercent is the GOGC ecrd sets: gc-percent if given, else
// defaultGCPercent while a memory limit (memory-limit or GOMEMLIMIT)
// bounds the heap; nothing when GOGC is set (the runtime read it at
// start) or when no limit bounds a larger headroom.
func gcPercent(cfg config.Config, getenv func(string) string) (int, bool) {
	switch {
	case getenv("GOGC") != "":
		return 0, false
	case cfg.GCPercent > 0:
		return cfg.GCPercent, true
	}
	if env := getenv("GOMEMLIMIT"); (env != "" && env != "off") || (env == "" && cfg.MemoryLimit > 0) {
		return defaultGCPercent, true
	}
	return 0, false
}

// procs is the GOMAXPROCS ecrd sets: the gomaxprocs setting, or one more
// than the runtime chose (cpus: its CPUs, or its container's CPU limit);
// nothing when GOMAXPROCS is set. With as many Ps as CPUs, goroutines
// queued on a P whose thread the kernel has given to another process (a
// client on the same machine, a sidecar), or whose goroutine runs a long
// batch (the audit trail's inserts), wait until that thread runs again
// or another P runs out of work to steal them. Under wrk at 64
// connections on two cores, one P more halved the p99 of manifest GETs
// (docs/benchmarks.md) and cost no throughput.
func procs(cfg config.Config, getenv func(string) string, cpus int) (int, bool) {
	switch {
	case getenv("GOMAXPROCS") != "":
		return 0, false
	case cfg.GoMaxProcs > 0:
		return cfg.GoMaxProcs, true
	}
	return cpus + 1, true
}

// cacheSize is the manifest-cache setting as registry.Options takes it:
// there 0 means the default, and a negative size no cache.
func cacheSize(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// serverKeyIf returns the server keys when AES256 repositories' blobs are
// to be encrypted under them.
func serverKeyIf(on bool, keys *keyring.Keyring) *keyring.Keyring {
	if on {
		return keys
	}
	return nil
}

// compilePattern compiles an event pattern for delivery (a nil Matcher,
// not a typed nil, with an error).
func compilePattern(p string) (delivery.Matcher, error) {
	m, err := eventpattern.Compile(p)
	if err != nil {
		return nil, err
	}
	return m, nil
}
