package registry

import (
	"context"
	"errors"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// DownloadURLTTL is how long a layer download URL works.
const DownloadURLTTL = time.Hour

// errNoIdentity is a registry built without the identity service, which
// issues tokens and signs URLs.
var errNoIdentity = errors.New("registry: no identity service to issue credentials")

// Login is what ecr:GetAuthorizationToken gives a caller: the password
// (for user AWS) of a registry token that names the caller in a region,
// and when it expires.
type Login struct {
	Password  string
	ExpiresAt time.Time
}

// Login checks that the request's caller may get a registry token in
// scope's account and region (ecr:GetAuthorizationToken) and issues it one
// for that region.
func (r *Registry) Login(ctx context.Context, scope metadata.Scope) (Login, error) {
	if err := r.AuthorizeLogin(ctx, scope); err != nil {
		return Login{}, err
	}
	p, ok := identity.FromContext(ctx)
	if !ok { // AuthorizeLogin refuses anonymous callers; be sure anyway
		return Login{}, &DeniedError{Action: ActionGetAuthorizationToken, Anonymous: true}
	}
	if r.ids == nil {
		return Login{}, errNoIdentity
	}
	password, expires := r.ids.IssueRegistryToken(p, scope.Region)
	return Login{Password: password, ExpiresAt: expires}, nil
}

// LayerDownload is what ecr:GetDownloadUrlForLayer gives a caller: the
// layer's digest and the path of its blob with a query that lets anyone
// holding it GET the blob as the caller until DownloadURLTTL has passed.
type LayerDownload struct {
	Digest string
	Path   string // /v2/<name>/blobs/<digest>?<signature>
}

// LayerDownloadURL authorizes a layer download as GetDownloadURLForLayer
// does and signs the layer's blob path for the request's caller. An
// anonymous caller (of a repository that allows anonymous pulls) gets the
// path alone, which needs no signature.
func (r *Registry) LayerDownloadURL(ctx context.Context, key metadata.RepoKey, dgst string) (LayerDownload, error) {
	b, err := r.GetDownloadURLForLayer(ctx, key, dgst)
	if err != nil {
		return LayerDownload{}, err
	}
	d := LayerDownload{Digest: string(b.Digest), Path: "/v2/" + key.Name + "/blobs/" + string(b.Digest)}
	p, ok := identity.FromContext(ctx)
	if !ok {
		return d, nil
	}
	if r.ids == nil {
		return LayerDownload{}, errNoIdentity
	}
	d.Path += "?" + r.ids.SignDownloadURL(p, key.Region, d.Path, DownloadURLTTL).Encode()
	return d, nil
}
