package identity

import (
	"context"
	"net"
	"net/http"
)

type principalKey struct{}

// NewContext returns a context that carries the principal a request was
// authenticated as. Protocol adapters set it once; the domain core reads
// it wherever it decides access, so that no adapter decides on its own.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of a request, if it is authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

type originKey struct{}

// Origin is where a request came from, for the condition keys policies
// test (aws:SourceIp, aws:SecureTransport).
type Origin struct {
	SourceIP string // the TCP peer's address (proxies' X-Forwarded-For is not trusted)
	Secure   bool   // the request came over TLS
}

// OriginOf returns the origin of an HTTP request.
func OriginOf(r *http.Request) Origin {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return Origin{SourceIP: ip, Secure: r.TLS != nil}
}

// WithOrigin returns a context that carries a request's origin.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFromContext returns a request's origin, if the adapter set it.
func OriginFromContext(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}
