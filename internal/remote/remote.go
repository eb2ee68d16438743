package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/ecrhost"
)

// SourceHeader names the registry a replication comes from, ACCOUNT/REGION,
// on every write the client makes, so that the remote records the write
// as a replication.
const SourceHeader = "X-Ecrd-Replication-Source"

// Target is a registry to push to: a region served by another ecrd
// deployment (or by ECR), and the credentials used there.
type Target struct {
	// URL is the remote's base URL, http(s)://host[:port]: ecrd serves
	// /v2 and its AWS APIs (POST /) there. An ECR registry host,
	// https://<account>.dkr.ecr.<region>.amazonaws.com, means ECR itself.
	URL    string
	Region string // the destination region
	// Account is the destination registry ID; "" is the credentials' own.
	Account string
	// Profile of the shared credentials file ("" is "default"), and that
	// file ("" is the SDK's lookup: AWS_SHARED_CREDENTIALS_FILE, else
	// ~/.aws/credentials).
	Profile, CredentialsFile string
	// CAFile is a PEM bundle of CAs trusted besides the system roots.
	CAFile string
	// Source is the replicating registry, ACCOUNT/REGION, sent as
	// SourceHeader on every write; "" sends none.
	Source string
}

// Timeouts bound the steps of a request that must not hang. There is no
// overall timeout: a blob of gigabytes takes as long as it takes, and
// the caller's context ends it.
type Timeouts struct {
	Dial           time.Duration // a TCP connection (default 10 s)
	TLSHandshake   time.Duration // its TLS handshake (default 10 s)
	ResponseHeader time.Duration // the answer after the request was sent whole (default 2 min: committing a large blob takes time)
}

// Option configures New.
type Option func(*options)

type options struct {
	log      *slog.Logger
	timeouts Timeouts
}

// WithLogger logs logins (never a credential) to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTimeouts replaces the default timeouts; zero fields keep theirs.
func WithTimeouts(t Timeouts) Option {
	return func(o *options) {
		if t.Dial > 0 {
			o.timeouts.Dial = t.Dial
		}
		if t.TLSHandshake > 0 {
			o.timeouts.TLSHandshake = t.TLSHandshake
		}
		if t.ResponseHeader > 0 {
			o.timeouts.ResponseHeader = t.ResponseHeader
		}
	}
}

// Client pushes to one Target. It is safe for concurrent use.
type Client struct {
	t    Target
	name string // the remote as errors name it
	base *url.URL
	// aws is ECR itself: its API has AWS's endpoint, its /v2 the
	// proxyEndpoint GetAuthorizationToken gives.
	aws  bool
	http *http.Client
	ecr  *ecr.Client
	sts  *sts.Client
	log  *slog.Logger
	now  func() time.Time

	login  chan struct{} // one login at a time; a channel, so that waiters honour their context
	sess   *session      // guarded by login
	caller string        // the credentials' account once known; guarded by login
}

// session is a registry login: how /v2 requests are made until refreshAt.
type session struct {
	authorization string // the Basic header; never logged
	refreshAt     time.Time
	base          *url.URL // where /v2 requests go
	host          string   // the Host they carry, "" for base's
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// New returns a client of t. It reads the credentials profile and the CA
// file now, so that a mistake in either shows at once; it does not
// contact the remote.
func New(t Target, opts ...Option) (*Client, error) {
	o := options{log: slog.New(slog.DiscardHandler), timeouts: Timeouts{Dial: 10 * time.Second, TLSHandshake: 10 * time.Second, ResponseHeader: 2 * time.Minute}}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("remote: the URL must be http(s)://host[:port]")
	}
	u.Path = ""
	name := t.Region + " at " + u.String()
	switch {
	case !regionRE.MatchString(t.Region):
		return nil, fmt.Errorf("remote %s: %q is not a region", name, t.Region)
	case t.Account != "" && !awsid.ValidAccountID(t.Account):
		return nil, fmt.Errorf("remote %s: account %q is not a 12-digit registry ID", name, t.Account)
	case t.Source != "" && !validSource(t.Source):
		return nil, fmt.Errorf("remote %s: source %q is not ACCOUNT/REGION", name, t.Source)
	}
	roots, err := RootsWith(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	hc := newHTTPClient(roots, o.timeouts)

	profile := t.Profile
	if profile == "" {
		profile = "default"
	}
	loads := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(t.Region), awsconfig.WithSharedConfigProfile(profile)}
	if t.CredentialsFile != "" {
		loads = append(loads, awsconfig.WithSharedCredentialsFiles([]string{t.CredentialsFile}))
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), loads...)
	if err != nil {
		// The SDK's message names the profile and the files, never a key.
		return nil, fmt.Errorf("remote %s: loading credentials profile %q: %w", name, profile, err)
	}
	// Set after loading: the SDK applies AWS_CA_BUNDLE only to its own
	// client, and refuses to load with one it cannot change.
	cfg.HTTPClient = hc

	c := &Client{t: t, name: name, base: u, http: hc, log: o.log, now: time.Now, login: make(chan struct{}, 1)}
	c.aws = isAWS(u.Hostname())
	// ecrd serves its AWS APIs at the URL; ECR's have AWS's endpoints.
	var endpoint *string
	if !c.aws {
		endpoint = aws.String(u.String())
	}
	c.ecr = ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		if endpoint != nil {
			o.BaseEndpoint = endpoint
		}
	})
	c.sts = sts.NewFromConfig(cfg, func(o *sts.Options) {
		if endpoint != nil {
			o.BaseEndpoint = endpoint
		}
	})
	return c, nil
}

func validSource(s string) bool {
	account, region, ok := strings.Cut(s, "/")
	return ok && awsid.ValidAccountID(account) && regionRE.MatchString(region)
}

// isAWS reports an ECR registry host of AWS's own domains.
func isAWS(host string) bool {
	h, ok := ecrhost.Parse(host)
	return ok && (h.Domain == "amazonaws.com" || h.Domain == "amazonaws.com.cn")
}

// RootsWith returns the system's CA roots (which honour SSL_CERT_FILE)
// plus those of the PEM file caFile, if one is given.
func RootsWith(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the CA file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// newHTTPClient returns the client of the remote's /v2 and APIs: TLS
// verified against roots, bounded connection set-up and wait for an
// answer, no overall timeout (blobs stream for as long as they need),
// and no redirects followed (a write is never sent elsewhere).
func newHTTPClient(roots *x509.CertPool, to Timeouts) *http.Client {
	dialer := &net.Dialer{Timeout: to.Dial, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   to.TLSHandshake,
		ResponseHeaderTimeout: to.ResponseHeader,
		// A blob PUT waits this long for "100 Continue", so that a refused
		// login costs no upload of the body.
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// session returns the current login, logging in again when it is about
// to expire or is stale (the one a 401 answered).
func (c *Client) session(ctx context.Context, stale *session) (*session, error) {
	select {
	case c.login <- struct{}{}:
	case <-ctx.Done():
		return nil, c.transportError(ctx, "logging in", ctx.Err())
	}
	defer func() { <-c.login }()
	if s := c.sess; s != nil && s != stale && c.now().Before(s.refreshAt) {
		return s, nil
	}
	s, err := c.newSession(ctx)
	if err != nil {
		return nil, err
	}
	c.sess = s
	return s, nil
}

// newSession logs in with GetAuthorizationToken, and works out how /v2
// requests address the destination registry (see the package doc).
func (c *Client) newSession(ctx context.Context) (*session, error) {
	const op = "logging in (GetAuthorizationToken)"
	// No registryIds: deprecated, the token is good for every registry
	// the principal may use, and the destination's host is built below.
	in := &ecr.GetAuthorizationTokenInput{}
	out, err := c.ecr.GetAuthorizationToken(ctx, in)
	if err != nil {
		return nil, c.apiError(ctx, op, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return nil, &Error{Remote: c.name, Op: op, Message: "the answer holds no authorization data"}
	}
	data := out.AuthorizationData[0]
	token := *data.AuthorizationToken
	if b, err := base64.StdEncoding.DecodeString(token); err != nil || !strings.HasPrefix(string(b), "AWS:") {
		return nil, &Error{Remote: c.name, Op: op, Message: "the authorization token is not base64 of AWS:<password>"}
	}
	now := c.now()
	expires := now.Add(time.Hour)
	if data.ExpiresAt != nil {
		expires = *data.ExpiresAt
	}
	// Refresh a little before the end: a push started just before expiry
	// should not meet a 401 half-way.
	margin := min(10*time.Minute, expires.Sub(now)/5)
	s := &session{authorization: "Basic " + token, refreshAt: expires.Add(-margin), base: c.base}

	proxy, _ := url.Parse(aws.ToString(data.ProxyEndpoint))
	var proxyHost ecrhost.Host
	proxyShaped := false
	if proxy != nil && proxy.Host != "" {
		proxyHost, proxyShaped = ecrhost.Parse(proxy.Host)
	}
	if proxyShaped {
		// The destination's host: the login's with its account.
		proxyHost.Region = c.t.Region
		if c.t.Account != "" {
			proxyHost.Account = c.t.Account
		}
	}
	switch {
	case c.aws:
		// ECR: /v2 is at the registry's own host.
		if proxy == nil || proxy.Scheme != "https" || !proxyShaped || !isAWS(proxy.Hostname()) {
			return nil, &Error{Remote: c.name, Op: op, Message: "ECR answered no registry endpoint (proxyEndpoint)"}
		}
		s.base = &url.URL{Scheme: "https", Host: proxyHost.String()}
	case proxyShaped:
		// The remote names registries by host (its registry-domain is
		// set): address the destination's, reached at the URL given.
		s.host = proxyHost.String()
	case c.t.Account != "":
		// The login's own registry needs no host name; another account's
		// does. ecrd reads an ECR-shaped Host of any domain.
		caller, err := c.callerAccount(ctx)
		if err != nil {
			return nil, err
		}
		if caller != c.t.Account {
			domain := c.base.Hostname()
			if net.ParseIP(domain) != nil {
				domain = "localhost" // an IP literal cannot end a host name
			}
			s.host = ecrhost.Host{Account: c.t.Account, Region: c.t.Region, Domain: domain, Port: c.base.Port()}.String()
		}
	}
	c.log.Debug("logged in to remote registry", "remote", c.name, "registry", c.t.Account, "host", s.host, "refresh_at", s.refreshAt)
	return s, nil
}

// callerAccount returns the credentials' account, asked of the remote's
// STS once.
func (c *Client) callerAccount(ctx context.Context) (string, error) {
	if c.caller != "" {
		return c.caller, nil
	}
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", c.apiError(ctx, "finding the credentials' account (GetCallerIdentity)", err)
	}
	c.caller = aws.ToString(out.Account)
	return c.caller, nil
}
