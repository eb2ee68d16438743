// Package server puts ecrd's protocols on one port: it routes each request
// to its adapter, answers health checks, logs requests and shuts down
// gracefully.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/api/cloudtrail"
	cwapi "github.com/ecrd/ecrd/internal/api/cloudwatch"
	"github.com/ecrd/ecrd/internal/api/ecr"
	ebapi "github.com/ecrd/ecrd/internal/api/eventbridge"
	"github.com/ecrd/ecrd/internal/api/iam"
	kmsapi "github.com/ecrd/ecrd/internal/api/kms"
	"github.com/ecrd/ecrd/internal/api/oci"
	smapi "github.com/ecrd/ecrd/internal/api/secretsmanager"
	"github.com/ecrd/ecrd/internal/api/sts"
	"github.com/ecrd/ecrd/internal/audit"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/cloudwatch"
	"github.com/ecrd/ecrd/internal/events"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
	"github.com/ecrd/ecrd/internal/secrets"
)

// Server is ecrd's HTTP server.
type Server struct {
	reg     *registry.Registry
	auth    *auth.Authenticator
	ecr     *ecr.Handler
	sts     *sts.Handler
	iam     *iam.Handler
	kms     *kmsapi.Handler // nil: KMS calls are unknown operations
	events  *ebapi.Handler  // nil: EventBridge calls are unknown operations
	secrets *smapi.Handler  // nil: Secrets Manager calls are unknown operations
	cw      *cwapi.Handler  // nil: CloudWatch calls are unknown operations
	log     *slog.Logger
	limits  Limits
	handler http.Handler
	// observers see every finished request (Options.Observers).
	observers []reqinfo.Observer
	// cloudtrail serves LookupEvents, when Options.Trail is set.
	cloudtrail *cloudtrail.Handler
}

// Options are what a Server serves.
type Options struct {
	Registry *registry.Registry
	Identity *identity.Service
	Auth     *auth.Authenticator
	// KMS serves the KMS API (TrentService), if set.
	KMS *kms.Service
	// Events serves the EventBridge API (AWSEvents), if set.
	Events *events.Service
	// Secrets serves the Secrets Manager API (secretsmanager.), if set.
	Secrets *secrets.Service
	// Endpoint is the base URL of a registry (proxyEndpoint, download
	// URLs); its value for the default scope is the realm of 401s.
	Endpoint ecr.Endpoint
	Log      *slog.Logger
	// Limits bound what one client may hold of the server.
	Limits Limits
	// Observers see every finished request with what the adapters learned
	// of it (internal/reqinfo): the audit trail, metrics.
	Observers []reqinfo.Observer
	// Trail, if set, is the audit trail CloudTrail's LookupEvents reads.
	Trail *audit.Trail
	// CloudWatch serves CloudWatch's metric reads, if set.
	CloudWatch *cloudwatch.Service
	// Console serves the web console under /console/, if set; ecrd's
	// CreateConsoleSignInToken then issues its sign-in tokens.
	Console http.Handler
}

// New returns a Server for the OCI API under /v2 and the AWS APIs at /.
func New(o Options) *Server {
	s := &Server{reg: o.Registry, auth: o.Auth, log: o.Log, limits: o.Limits, observers: o.Observers,
		ecr: ecr.New(o.Registry, o.Endpoint, o.Log), sts: sts.New(o.Identity, o.Auth.DefaultScope.Region, o.Log), iam: iam.New(o.Identity, o.Log)}
	if o.Trail != nil {
		s.cloudtrail = cloudtrail.New(o.Trail, o.Log)
	}
	if o.KMS != nil {
		s.kms = kmsapi.New(o.KMS, o.Log)
	}
	if o.Events != nil {
		s.events = ebapi.New(o.Events, o.Log)
	}
	if o.Secrets != nil {
		s.secrets = smapi.New(o.Secrets, o.Log)
	}
	if o.CloudWatch != nil {
		s.cw = cwapi.New(o.CloudWatch, o.Log)
	}
	ociHandler := oci.New(o.Registry, o.Log, o.Auth.Registry, o.Endpoint(o.Auth.DefaultScope)+"/")
	mux := http.NewServeMux()
	mux.Handle("/v2/", ociHandler)
	mux.Handle("/v2", ociHandler)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("POST /{$}", s.serveAWS)
	mux.HandleFunc("POST /service/{service}/operation/{operation}", s.serveRPC)
	if o.Console != nil {
		mux.Handle("/console/", o.Console)
		mux.Handle("/console", o.Console)
		s.ecr.SetConsoleSignIn(o.Identity.IssueConsoleSignIn)
	}
	mux.HandleFunc("/", notFound)
	s.handler = s.logRequests(s.guard(mux))
	return s
}

// Handler returns the server's root handler (tests serve it directly).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until ctx ends, then stops accepting,
// lets requests in flight finish (up to shutdownTimeout) and returns.
// Connections are capped as the Limits say.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:     s.handler,
		ConnContext: connContext,
		// Headers must arrive promptly; bodies (multi-gigabyte layers) may
		// take as long as they take, as long as they keep moving (guard).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(newConnLimiter(ln, s.limits)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: waiting for requests in flight", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.reg.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready: "+err.Error()+"\n")
		return
	}
	io.WriteString(w, "ok\n")
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]string{"message": "not found: ecrd serves /v2/ (registry), POST / (AWS APIs), /healthz and /readyz"})
}

// logRequests logs each request (at debug level, or error for a 5xx) and
// turns a panic into a 500, logged with its stack, instead of a dropped
// connection.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		info := &reqinfo.Info{Start: start, SourceIP: clientIP(req), UserAgent: req.UserAgent()}
		req = req.WithContext(reqinfo.With(req.Context(), info))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", "method", req.Method, "path", req.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !rec.wrote {
					http.Error(rec, "internal server error", http.StatusInternalServerError)
				}
				rec.status = http.StatusInternalServerError
			}
			// A 500 is a fault, logged by its adapter with the cause; other
			// 5xx (not ready, storage full, connection limits) are states
			// the server is in, and a 500 an adapter marks as one is too.
			level := slog.LevelDebug
			switch {
			case rec.status == http.StatusInternalServerError && !rec.expected:
				level = slog.LevelError
			case rec.status >= 500:
				level = slog.LevelWarn
			}
			if s.log.Enabled(req.Context(), level) {
				s.log.Log(req.Context(), level, "request",
					"method", req.Method, "path", redactPath(req.URL.Path), "status", rec.status,
					"bytes", rec.bytes, "duration", time.Since(start), "remote", req.RemoteAddr)
			}
			if len(s.observers) > 0 {
				info.Status, info.BytesOut, info.Duration = rec.status, rec.bytes, time.Since(start)
				if req.ContentLength > 0 {
					info.BytesIn = req.ContentLength
				}
				for _, o := range s.observers {
					o.Observe(info)
				}
			}
		}()
		next.ServeHTTP(rec, req)
	})
}

// clientIP is the request's source address without its port.
func clientIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// redactPath keeps paths short in logs.
func redactPath(p string) string {
	if len(p) > 512 {
		return p[:512] + "..."
	}
	return strings.ToValidUTF8(p, "?")
}

// recorder notes the status and size of a response. It passes ReadFrom
// through so that blob bodies still go out with sendfile.
type recorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	wrote    bool
	expected bool
}

// ExpectedFailure marks a 500 as a state of the server (its storage is
// full) rather than a fault: it is logged as a warning.
func (r *recorder) ExpectedFailure() { r.expected = true }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (n int64, err error) {
	r.wrote = true
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		// HTTP/2 writers have no ReadFrom; hide ours from io.Copy.
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
