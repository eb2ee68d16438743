// Package config holds ecrd's settings and reads them from, in increasing
// precedence: built-in defaults, an optional YAML file, ECRD_* environment
// variables, and command-line flags. Every setting has the same name in
// all three places (flag --upload-ttl, file key upload-ttl, variable
// ECRD_UPLOAD_TTL), and one parser per setting serves them all.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ecrd/ecrd/internal/awsid"
)

// Config is the server's configuration.
type Config struct {
	Listen  string
	DataDir string
	// Metadata and Blobs select the stores: "" for the data folder's
	// (embedded SQLite, files), or a postgres:// and an s3:// URL, which
	// several processes may share.
	Metadata string
	Blobs    string
	// BlobRedirect, when positive, answers blob downloads with a redirect
	// to a presigned URL of the blob store valid this long.
	BlobRedirect    time.Duration
	AccountID       string
	Region          string
	UploadTTL       time.Duration
	ShutdownTimeout time.Duration
	LogLevel        string
	LogFormat       string
	DebugListen     string
	// MetricsListen, if set, is where Prometheus metrics are served
	// (/metrics), without authentication; MetricsRepositories bounds
	// their per-repository series.
	MetricsListen       string
	MetricsRepositories int

	PublicURL            string
	RegistryDomain       string
	ServerKeyFile        string
	AcceptAnyCredentials bool
	ClockSkew            time.Duration

	LifecycleInterval time.Duration
	GCInterval        time.Duration
	GCGrace           time.Duration
	RestoreDelay      time.Duration

	OIDCCAFile   string
	EncryptBlobs bool

	VulnDB              string
	VulnDBCheckInterval time.Duration

	// BodyTimeout is how long a request body may go without bringing
	// MinBodyProgress bytes before the request is dropped.
	BodyTimeout time.Duration
	// MaxConnections caps open connections (0: from the file-descriptor
	// limit); MaxClientConnections caps those of one client address.
	MaxConnections       int
	MaxClientConnections int
	// MinFreeSpace is the free space below which the blob store refuses
	// new uploads and /readyz reports not ready.
	MinFreeSpace int64
	// ManifestCache bounds what the manifests kept in memory for pulls
	// hold.
	ManifestCache int64
	// MemoryLimit is the Go runtime's soft memory limit (0: none), unless
	// GOMEMLIMIT sets one.
	MemoryLimit int64
	// GCPercent is the collector's GOGC: how far the heap may grow past
	// the live heap before a collection, in percent (0: 400 under a
	// memory limit, else the runtime's 100), unless GOGC is set.
	GCPercent int
	// GoMaxProcs is GOMAXPROCS (0: one more than the runtime's own choice),
	// unless GOMAXPROCS is set.
	GoMaxProcs int
	// EventRetention is how long the outbox keeps an event.
	EventRetention time.Duration
	// Console serves the web console under /console/.
	Console bool
	// Audit turns the audit trail on (CloudTrail's record of every call);
	// AuditRetention is how long its records are kept.
	Audit          bool
	AuditRetention time.Duration
	// RemoteRegions maps a region that another ecrd deployment (or ECR)
	// serves to how this server reaches it, for replication there.
	RemoteRegions map[string]RemoteRegion
	// InsecureUpstreams are the upstream registries (host:port) the
	// pull-through cache reaches over plain HTTP.
	InsecureUpstreams []string
}

// VulnDBDir returns the vulnerability data folder: the setting, or vulndb
// in the data folder.
func (c Config) VulnDBDir() string {
	if c.VulnDB != "" {
		return c.VulnDB
	}
	return filepath.Join(c.DataDir, "vulndb")
}

// KeyFile returns the server key file: the setting, or server.key in the
// data folder.
func (c Config) KeyFile() string {
	if c.ServerKeyFile != "" {
		return c.ServerKeyFile
	}
	return filepath.Join(c.DataDir, "server.key")
}

// DefaultDataDir is $XDG_DATA_HOME/ecrd, else ~/.local/share/ecrd, else
// ./ecrd-data.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ecrd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "ecrd")
	}
	return "ecrd-data"
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Listen:              "127.0.0.1:5000",
		DataDir:             DefaultDataDir(),
		AccountID:           "123456789012",
		Region:              "us-east-1",
		UploadTTL:           24 * time.Hour,
		ShutdownTimeout:     30 * time.Second,
		LogLevel:            "info",
		MetricsRepositories: 100,
		LogFormat:           "text",
		ClockSkew:           15 * time.Minute,

		LifecycleInterval: 24 * time.Hour,
		GCInterval:        6 * time.Hour,
		GCGrace:           24 * time.Hour,

		VulnDBCheckInterval: time.Minute,

		BodyTimeout:          30 * time.Second,
		MaxClientConnections: 512,
		MinFreeSpace:         512 << 20,
		ManifestCache:        16 << 20,
		MemoryLimit:          80 << 20,
		EventRetention:       24 * time.Hour,
		Audit:                true,
		Console:              true,
		AuditRetention:       90 * 24 * time.Hour,
	}
}

// setting is one configurable value.
type setting struct {
	name  string // flag and file key; the variable is ECRD_ + upper snake case
	usage string
	value flag.Value
}

func (s setting) env() string {
	return "ECRD_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

func (c *Config) settings() []setting {
	return []setting{
		{"listen", "address to listen on, host:port (port 0 picks a free port; the address bound is logged)", (*stringValue)(&c.Listen)},
		{"data", "data folder: metadata database, blobs, server key, first credentials (with --metadata and --blobs set, scratch space only)", (*stringValue)(&c.DataDir)},
		{"metadata", "metadata store: empty for the embedded database in the data folder, or postgres://user[:password]@host:port/db?sslmode=... (shared by replicas)", (*stringValue)(&c.Metadata)},
		{"blob-redirect", "0s streams blobs through ecrd; a duration answers blob downloads with a redirect to a presigned URL of the S3 store valid that long, as ECR does (blobs of encrypted repositories always stream)", (*durationValue)(&c.BlobRedirect)},
		{"blobs", "blob store: empty for files in the data folder, or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true (credentials from the AWS chain; without endpoint, AWS S3)", (*stringValue)(&c.Blobs)},
		{"account-id", "12-digit ID of the default account, created with a root access key on first start", (*stringValue)(&c.AccountID)},
		{"region", "default region: the registry anonymous /v2 requests address", (*stringValue)(&c.Region)},
		{"public-url", "base URL clients reach ecrd at (proxyEndpoint, repository URIs, download URLs); default http://<listen address>", (*stringValue)(&c.PublicURL)},
		{"registry-domain", "DNS suffix for ECR-shaped registry hosts <account>.dkr.ecr.<region>.<domain>; when set, repository URIs use them", (*stringValue)(&c.RegistryDomain)},
		{"server-key-file", "file of server keys that seal stored secrets and sign tokens (created if missing; ECRD_SERVER_KEY may hold the keys instead); default <data>/server.key", (*stringValue)(&c.ServerKeyFile)},
		{"accept-any-credentials", "DEVELOPMENT ONLY: accept any signature whose access key ID is a 12-digit account ID, and any registry password", (*boolValue)(&c.AcceptAnyCredentials)},
		{"clock-skew", "how far a signed request's time may be from the server's", (*durationValue)(&c.ClockSkew)},
		{"upload-ttl", "how long an unfinished blob upload is kept after its last chunk", (*durationValue)(&c.UploadTTL)},
		{"lifecycle-interval", "how often each repository's lifecycle policy runs (ECR: within 24 hours); negative: only on demand (ecrd lifecycle run)", (*durationValue)(&c.LifecycleInterval)},
		{"gc-interval", "how often garbage collection frees blobs nothing references; negative: only on demand (ecrd gc)", (*durationValue)(&c.GCInterval)},
		{"gc-grace", "how long an unreferenced blob stays before garbage collection frees it (protects pushes in flight)", (*durationValue)(&c.GCGrace)},
		{"restore-delay", "how long a restore from the archive storage class takes (the image is ACTIVATING meanwhile)", (*durationValue)(&c.RestoreDelay)},
		{"encrypt-blobs", "encrypt the blobs of AES256 repositories created from now on under data keys the server key wraps (KMS repositories' blobs are always encrypted, under their KMS key)", (*boolValue)(&c.EncryptBlobs)},
		{"oidc-ca-file", "PEM file of CA certificates trusted, besides the system roots, for OpenID Connect issuers (AssumeRoleWithWebIdentity fetches their keys over TLS)", (*stringValue)(&c.OIDCCAFile)},
		{"vulndb", "vulnerability data folder that image scans match against, as scripts/vulndb and ecrd vulndb load write it; default <data>/vulndb", (*stringValue)(&c.VulnDB)},
		{"vulndb-check-interval", "how often the vulnerability data folder is checked for new data, which continuous scanning then applies to stored images", (*durationValue)(&c.VulnDBCheckInterval)},
		{"body-timeout", "how long a request body may go without bringing 64 KiB (or its end) before the request is dropped", (*durationValue)(&c.BodyTimeout)},
		{"max-connections", "most connections served at once; beyond 15/16 of them only health checks and requests with credentials are served (0: from the file-descriptor limit)", (*intValue)(&c.MaxConnections)},
		{"max-client-connections", "most connections one client address may hold open (0: no limit)", (*intValue)(&c.MaxClientConnections)},
		{"min-free-space", "free space the blob store keeps: below it uploads are refused and /readyz is not ready (bytes, or with KiB, MiB, GiB, TiB)", (*sizeValue)(&c.MinFreeSpace)},
		{"manifest-cache", "memory the manifests kept for pulls may hold, tags and records included (bytes, or with KiB, MiB, GiB, TiB); 0 turns the cache off", (*sizeValue)(&c.ManifestCache)},
		{"memory-limit", "soft limit on the memory the Go runtime holds (heap, stacks, its own): nearing it, the collector runs more often, so that resident memory stays put under load; a process that needs more still gets it (bytes, or with KiB, MiB, GiB, TiB; 0: no limit; GOMEMLIMIT, if set, wins)", (*sizeValue)(&c.MemoryLimit)},
		{"gc-percent", "how far, in percent of the live heap, the heap may grow before the collector runs, as GOGC (0: 400 while a memory limit bounds the heap, otherwise the Go runtime's 100; GOGC, if set, wins)", (*intValue)(&c.GCPercent)},
		{"gomaxprocs", "how many threads run Go code at once, as GOMAXPROCS (0: one more than the CPUs the Go runtime finds, so that a thread the kernel gives to another process, or one running a long background task, does not hold up requests queued behind it; GOMAXPROCS, if set, wins)", (*intValue)(&c.GoMaxProcs)},
		{"remote-regions", "regions another ecrd serves, for replication to them: comma-separated REGION=URL, the URL of that ecrd with optional ?profile=NAME (of the shared credentials file; default: default), &credentials-file=PATH (default: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) and &ca-file=PATH (PEM CAs trusted besides the system roots, for https)", (*remoteRegionsValue)(&c.RemoteRegions)},
		{"insecure-upstreams", "upstream registries of pull-through cache rules reached over plain HTTP, for tests and labs: comma-separated host:port (every other upstream is reached over HTTPS)", (*insecureUpstreamsValue)(&c.InsecureUpstreams)},
		{"event-retention", "how long the outbox keeps the record of a change (every change is one; processes sharing the database follow it)", (*durationValue)(&c.EventRetention)},
		{"audit", "keep the audit trail: CloudTrail's record of every AWS API call and /v2 request, read with aws cloudtrail lookup-events (--audit=false turns it off)", (*boolValue)(&c.Audit)},
		{"console", "serve the web console under /console/ (--console=false turns it off)", (*boolValue)(&c.Console)},
		{"audit-retention", "how long the audit trail keeps a record", (*durationValue)(&c.AuditRetention)},
		{"shutdown-timeout", "how long SIGTERM waits for requests in flight", (*durationValue)(&c.ShutdownTimeout)},
		{"log-level", "debug, info, warn or error (debug logs every request)", (*stringValue)(&c.LogLevel)},
		{"log-format", "text or json", (*stringValue)(&c.LogFormat)},
		{"debug-listen", "if set, a loopback host:port serving Go's /debug/pprof profiles", (*stringValue)(&c.DebugListen)},
		{"metrics-listen", "if set, a host:port serving Prometheus metrics at /metrics, WITHOUT authentication: keep it on loopback or a private network", (*stringValue)(&c.MetricsListen)},
		{"metrics-repositories", "most repositories given their own Prometheus series (pulls, pushes, storage); the rest are counted under repository \"other\"", (*intValue)(&c.MetricsRepositories)},
	}
}

// Load builds the configuration for `ecrd serve` from args (without the
// subcommand), the environment (getenv) and the file named by --config or
// ECRD_CONFIG. It returns flag.ErrHelp when -h or --help is given, after
// printing usage to fs's output.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	settings := cfg.settings()
	var file string
	fs.StringVar(&file, "config", "", "optional YAML file of settings (keys are the flag names); also ECRD_CONFIG")
	for _, s := range settings {
		fs.Var(s.value, s.name, s.usage+" (env "+s.env()+")")
	}
	fs.Usage = func() { usage(fs) }
	// Parse once to find --config and -h; flags are applied last, below.
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]string{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String() })

	cfg = Default()
	settings = cfg.settings()
	if file == "" {
		file = getenv("ECRD_CONFIG")
	}
	if file != "" {
		if err := applyFile(file, settings); err != nil {
			return cfg, err
		}
	}
	for _, s := range settings {
		if v, ok := lookupEnv(getenv, s.env()); ok {
			if err := s.value.Set(v); err != nil {
				return cfg, fmt.Errorf("%s: %w", s.env(), err)
			}
		}
		if v, ok := explicit[s.name]; ok {
			if err := s.value.Set(v); err != nil {
				return cfg, fmt.Errorf("--%s: %w", s.name, err)
			}
		}
	}
	return cfg, cfg.Validate()
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func applyFile(path string, settings []setting) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	var values map[string]string
	if err := yaml.Unmarshal(b, &values); err != nil {
		return fmt.Errorf("config file %s: %w (expected a map of setting: value)", path, err)
	}
	byName := map[string]setting{}
	for _, s := range settings {
		byName[s.name] = s
	}
	for k, v := range values {
		s, ok := byName[k]
		if !ok {
			return fmt.Errorf("config file %s: unknown setting %q (see ecrd serve --help)", path, k)
		}
		if err := s.value.Set(v); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
	}
	return nil
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// Validate checks the configuration and says what to change.
func (c Config) Validate() error {
	var errs []error
	if !awsid.ValidAccountID(c.AccountID) {
		errs = append(errs, fmt.Errorf("account ID %q must be 12 digits", c.AccountID))
	}
	if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region %q does not look like a region (for example us-east-1)", c.Region))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("the data folder must be set"))
	}
	if err := checkStoreURL("metadata", c.Metadata, "postgres", "postgresql"); err != nil {
		errs = append(errs, err)
	}
	if err := checkStoreURL("blobs", c.Blobs, "s3"); err != nil {
		errs = append(errs, err)
	}
	if c.BlobRedirect != 0 && (c.BlobRedirect < time.Minute || c.BlobRedirect > 12*time.Hour) {
		errs = append(errs, fmt.Errorf("blob redirect %s: use 0s (off), or 1m to 12h", c.BlobRedirect))
	}
	if c.BlobRedirect != 0 && c.Blobs == "" {
		errs = append(errs, errors.New("blob redirect needs an S3 blob store (--blobs s3://...): the data folder's blobs have no URL of their own"))
	}
	if c.UploadTTL < time.Minute {
		errs = append(errs, fmt.Errorf("upload TTL %s is too short: use at least 1m", c.UploadTTL))
	}
	if c.LifecycleInterval == 0 || c.GCInterval == 0 {
		errs = append(errs, errors.New("lifecycle and GC intervals must not be 0: give a duration, or a negative one to run only on demand"))
	}
	if c.GCGrace < time.Second {
		errs = append(errs, fmt.Errorf("GC grace %s is too short: use at least 1s (pushes in flight need time to reference their blobs)", c.GCGrace))
	}
	if c.RestoreDelay < 0 {
		errs = append(errs, errors.New("restore delay must not be negative"))
	}
	if c.VulnDBCheckInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("vulnerability data check interval %s is too short: use at least 100ms", c.VulnDBCheckInterval))
	}
	if c.EventRetention < time.Minute {
		errs = append(errs, fmt.Errorf("event retention %s is too short: use at least 1m", c.EventRetention))
	}
	if c.AuditRetention < time.Hour {
		errs = append(errs, fmt.Errorf("audit retention %s is too short: use at least 1h", c.AuditRetention))
	}
	if c.BodyTimeout < time.Second {
		errs = append(errs, fmt.Errorf("body timeout %s is too short: use at least 1s", c.BodyTimeout))
	}
	if c.MaxConnections < 0 || c.MaxClientConnections < 0 {
		errs = append(errs, errors.New("connection limits must not be negative"))
	}
	if c.GoMaxProcs < 0 {
		errs = append(errs, fmt.Errorf("gomaxprocs %d must not be negative", c.GoMaxProcs))
	}
	if c.GCPercent < 0 {
		errs = append(errs, fmt.Errorf("gc-percent %d must not be negative", c.GCPercent))
	}
	if c.MinFreeSpace < 0 {
		errs = append(errs, errors.New("minimum free space must not be negative"))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("shutdown timeout must not be negative"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q must be text or json", c.LogFormat))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w (use host:port, e.g. 127.0.0.1:5000)", c.Listen, err))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("public URL %q must be http(s)://host[:port]", c.PublicURL))
		}
	}
	if c.ClockSkew < time.Minute {
		errs = append(errs, fmt.Errorf("clock skew %s is too short: use at least 1m", c.ClockSkew))
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics listen address %q: %w (use host:port, e.g. 127.0.0.1:9464)", c.MetricsListen, err))
		}
	}
	if c.MetricsRepositories < 1 {
		errs = append(errs, fmt.Errorf("metrics-repositories %d must be at least 1", c.MetricsRepositories))
	}
	if c.DebugListen != "" {
		if err := checkLoopback(c.DebugListen); err != nil {
			errs = append(errs, fmt.Errorf("debug: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkStoreURL refuses a store URL (other than "", the data folder's
// store) whose scheme is not one of schemes. The store checks the rest
// when it opens. The URL is not quoted back: it may hold a password.
func checkStoreURL(setting, raw string, schemes ...string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		return fmt.Errorf("%s: not a %s:// URL (leave it empty for the data folder's store)", setting, schemes[0])
	}
	return nil
}

// Shared reports whether the stores are outside the data folder, where
// other processes may use them too.
func (c Config) Shared() bool { return c.Metadata != "" || c.Blobs != "" }

// checkLoopback refuses an address that is not loopback: the profiler
// must not be reachable from other machines.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w (use host:port, e.g. 127.0.0.1:5000)", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("address %q is not a loopback address: use 127.0.0.1, ::1 or localhost", addr)
}

func usage(fs *flag.FlagSet) {
	out := fs.Output()
	fmt.Fprintf(out, `Usage: ecrd serve [flags]

Runs the registry on one port: the OCI distribution API under /v2/, the
AWS APIs (ECR, STS) at POST /, and /healthz and /readyz. With no settings
it keeps everything in the data folder (%s): metadata in SQLite
(ecrd.db), blobs as files, the server key (server.key) and, on first
start, the default account's root credentials (credentials). The root
key can be given instead with ECRD_ROOT_ACCESS_KEY_ID and
ECRD_ROOT_SECRET_ACCESS_KEY.

Settings come from, lowest precedence first: defaults, the YAML file given
by --config or ECRD_CONFIG, ECRD_* environment variables, flags.

Flags:
`, DefaultDataDir())
	fs.PrintDefaults()
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = intValue(n)
	return nil
}

// sizeValue is a number of bytes, optionally with a binary unit.
type sizeValue int64

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

func (v *sizeValue) String() string {
	for _, u := range sizeUnits {
		if n := int64(*v); n != 0 && u.shift > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*v), 10)
}

func (v *sizeValue) Set(s string) error {
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return fmt.Errorf("%q is not a size (for example 536870912, 512MiB, 2GiB)", s)
	}
	*v = sizeValue(n << shift)
	return nil
}

type boolValue bool

func (v *boolValue) String() string { return fmt.Sprint(bool(*v)) }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

// IsBoolFlag lets the flag be given without a value.
func (v *boolValue) IsBoolFlag() bool { return true }

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (for example 30s, 24h)", s)
	}
	*v = durationValue(d)
	return nil
}
