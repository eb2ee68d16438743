// Command ecrd is a self-hosted container registry that speaks the OCI
// distribution API and, as it grows, the Amazon ECR APIs that manage it.
//
//	ecrd serve [flags]   run the registry
//	ecrd version         print the version
package main

import (
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
	"syscall"
	"time"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/server"
	"github.com/ecrd/ecrd/internal/sigv4"
	"github.com/ecrd/ecrd/internal/version"
	"github.com/ecrd/ecrd/internal/webidentity"
)

const usage = `Usage: ecrd <command> [flags]

Commands:
  serve        run the registry (ecrd serve --help for its settings)
  account      create and list accounts (ecrd account --help)
  access-key   create and list access keys (ecrd access-key --help)
  lifecycle    run or preview lifecycle policies on a running server (ecrd lifecycle --help)
  gc           collect garbage on a running server now (ecrd gc --help)
  import       push the images of an OCI layout into a running server, keeping their ages (ecrd import --help)
  vulndb       load OSV vulnerability exports that image scans match against (ecrd vulndb --help)
  version      print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "account", "access-key":
		return admin(args[0], args[1:], stdout, stderr)
	case "lifecycle":
		return lifecycle(args[1:], stdout, stderr)
	case "gc":
		return gc(args[1:], stdout, stderr)
	case "import":
		return importImages(args[1:], stdout, stderr)
	case "vulndb":
		return vulndb(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ecrd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ecrd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecrd serve: %v\n", err)
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
	st, err := openStores(ctx, cfg.DataDir, cfg.KeyFile(), log)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.AcceptAnyCredentials {
		log.Warn("DEVELOPMENT MODE: --accept-any-credentials accepts any signature whose access key ID is an account ID, and any registry password. Never expose this server.")
	}
	if err := ensureRootCredentials(ctx, st.ids, cfg, log); err != nil {
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
	srv := server.New(server.Options{Registry: reg, Identity: st.ids, Auth: authn, KMS: kmsSvc, Endpoint: endpoint, Log: log,
		Limits: server.Limits{BodyTimeout: cfg.BodyTimeout, MaxConnections: cfg.MaxConnections, MaxClientConnections: cfg.MaxClientConnections}})

	if cfg.DebugListen != "" {
		go serveDebug(cfg.DebugListen, log)
	}
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { reg.Run(bg); close(done) }()

	log.Info("listening", "addr", ln.Addr().String(), "endpoint", endpoint(authn.DefaultScope), "data", cfg.DataDir,
		"account", cfg.AccountID, "region", cfg.Region, "version", version.Version, "startup", time.Since(start).Round(time.Microsecond).String())
	err = srv.Serve(ctx, ln, cfg.ShutdownTimeout)
	stopBackground()
	<-done
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
// system's (which honour SSL_CERT_FILE), plus those of caFile.
func oidcRoots(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the OIDC CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the OIDC CA file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// serverKeyIf returns the server keys when AES256 repositories' blobs are
// to be encrypted under them.
func serverKeyIf(on bool, keys *keyring.Keyring) *keyring.Keyring {
	if on {
		return keys
	}
	return nil
}
