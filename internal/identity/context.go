package identity

import "context"

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
