// Package ecr serves the Amazon ECR API (AWS JSON 1.1, X-Amz-Target
// AmazonEC2ContainerRegistry_V20150921.<Op>) over the registry core. It
// is an adapter: it decodes and validates a request against the ECR
// model, calls the core, and encodes the answer or the error ECR gives.
package ecr

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// TargetPrefix starts the X-Amz-Target of every ECR operation.
const TargetPrefix = "AmazonEC2ContainerRegistry_V20150921."

// Request body limits. Most operations carry a few names, IDs and tags;
// policies are at most 30 KiB of text (lifecycle), escaped in JSON.
// PutImage carries a manifest of up to 4 MiB, JSON-escaped, and
// UploadLayerPart up to 20 MiB of layer part, base64-encoded.
const (
	defaultBodyLimit  = 256 << 10
	putImageBodyLimit = 10 << 20
	MaxBodySize       = 32 << 20 // UploadLayerPart's; the largest
)

// BodyLimit returns the largest body the operation an X-Amz-Target names
// may have, and false if ecrd serves no such operation.
func (h *Handler) BodyLimit(target string) (int64, bool) {
	name, run := h.api.Lookup(target)
	switch {
	case run == nil:
		return 0, false
	case name == "UploadLayerPart":
		return MaxBodySize, true
	case name == "PutImage":
		return putImageBodyLimit, true
	}
	return defaultBodyLimit, true
}

// Endpoint returns the base URL (scheme://host[:port]) clients use to
// reach a registry, as proxyEndpoint and download URLs show it.
type Endpoint func(metadata.Scope) string

// Handler serves the ECR API.
type Handler struct {
	reg      *registry.Registry
	endpoint Endpoint
	ops      map[string]awsjson.Op // ECR's, by name
	ext      map[string]awsjson.Op // ecrd's own, by name
	api      awsjson.Service
	// consoleSignIn issues the web console's sign-in tokens, if on.
	consoleSignIn ConsoleSignIn
}

// New returns the ECR API handler.
func New(reg *registry.Registry, endpoint Endpoint, log *slog.Logger) *Handler {
	h := &Handler{reg: reg, endpoint: endpoint}
	h.ops = map[string]awsjson.Op{
		"BatchCheckLayerAvailability":         handle(h.batchCheckLayerAvailability),
		"BatchDeleteImage":                    handle(h.batchDeleteImage),
		"BatchGetImage":                       handle(h.batchGetImage),
		"CompleteLayerUpload":                 handle(h.completeLayerUpload),
		"CreateRepository":                    handle(h.createRepository),
		"CreateRepositoryCreationTemplate":    handle(h.createTemplate),
		"DeleteRepository":                    handle(h.deleteRepository),
		"DeleteRepositoryCreationTemplate":    handle(h.deleteTemplate),
		"DescribeImages":                      handle(h.describeImages),
		"DescribeRegistry":                    handle(h.describeRegistry),
		"DescribeRepositories":                handle(h.describeRepositories),
		"DescribeRepositoryCreationTemplates": handle(h.describeTemplates),
		"GetAccountSetting":                   handle(h.getAccountSetting),
		"GetAuthorizationToken":               handle(h.getAuthorizationToken),
		"GetDownloadUrlForLayer":              handle(h.getDownloadURLForLayer),
		"InitiateLayerUpload":                 handle(h.initiateLayerUpload),
		"ListImageReferrers":                  handle(h.listImageReferrers),
		"ListImages":                          handle(h.listImages),
		"ListTagsForResource":                 handle(h.listTagsForResource),
		"PutAccountSetting":                   handle(h.putAccountSetting),
		"PutImage":                            handle(h.putImage),
		"PutImageScanningConfiguration":       handle(h.putImageScanningConfiguration),
		"StartImageScan":                      handle(h.startImageScan),
		"DescribeImageScanFindings":           handle(h.describeImageScanFindings),
		"PutImageTagMutability":               handle(h.putImageTagMutability),
		"TagResource":                         handle(h.tagResource),
		"UntagResource":                       handle(h.untagResource),
		"UpdateRepositoryCreationTemplate":    handle(h.updateTemplate),
		"UploadLayerPart":                     handle(h.uploadLayerPart),

		"PutLifecyclePolicy":                handle(h.putLifecyclePolicy),
		"GetLifecyclePolicy":                handle(h.getLifecyclePolicy),
		"DeleteLifecyclePolicy":             handle(h.deleteLifecyclePolicy),
		"StartLifecyclePolicyPreview":       handle(h.startLifecyclePolicyPreview),
		"GetLifecyclePolicyPreview":         handle(h.getLifecyclePolicyPreview),
		"UpdateImageStorageClass":           handle(h.updateImageStorageClass),
		"RegisterPullTimeUpdateExclusion":   handle(h.registerPullTimeUpdateExclusion),
		"DeregisterPullTimeUpdateExclusion": handle(h.deregisterPullTimeUpdateExclusion),
		"ListPullTimeUpdateExclusions":      handle(h.listPullTimeUpdateExclusions),

		"SetRepositoryPolicy":    handle(h.setRepositoryPolicy),
		"GetRepositoryPolicy":    handle(h.getRepositoryPolicy),
		"DeleteRepositoryPolicy": handle(h.deleteRepositoryPolicy),
		"PutRegistryPolicy":      handle(h.putRegistryPolicy),
		"GetRegistryPolicy":      handle(h.getRegistryPolicy),
		"DeleteRegistryPolicy":   handle(h.deleteRegistryPolicy),

		"PutRegistryScanningConfiguration":        handle(h.putRegistryScanningConfiguration),
		"GetRegistryScanningConfiguration":        handle(h.getRegistryScanningConfiguration),
		"BatchGetRepositoryScanningConfiguration": handle(h.batchGetRepositoryScanningConfiguration),

		"PutReplicationConfiguration":        handle(h.putReplicationConfiguration),
		"DescribeImageReplicationStatus":     handle(h.describeImageReplicationStatus),
		"StartReplicationBackfill":           handle(h.startReplicationBackfill),
		"StopReplicationBackfill":            handle(h.stopReplicationBackfill),
		"ListReplicationBackfills":           handle(h.listReplicationBackfills),
		"DescribeReplicationBackfillResults": handle(h.describeReplicationBackfillResults),

		"CreatePullThroughCacheRule":    handle(h.createPullThroughCacheRule),
		"DescribePullThroughCacheRules": handle(h.describePullThroughCacheRules),
		"UpdatePullThroughCacheRule":    handle(h.updatePullThroughCacheRule),
		"DeletePullThroughCacheRule":    handle(h.deletePullThroughCacheRule),
		"ValidatePullThroughCacheRule":  handle(h.validatePullThroughCacheRule),
	}
	h.ext = map[string]awsjson.Op{
		"StartLifecyclePolicyPreview": handle(h.previewAt),
		"RunLifecyclePolicy":          handle(h.runLifecyclePolicy),
		"SetImageTimes":               handle(h.setImageTimes),
		"CollectGarbage":              handle(h.collectGarbage),
		"ListDeadLetters":             handle(h.listDeadLetters),
		"RedriveDeadLetters":          handle(h.redriveDeadLetters),
		"CreateConsoleSignInToken":    handle(h.createConsoleSignInToken),
	}
	h.api = awsjson.Service{
		Name:       "ECR",
		Targets:    []awsjson.Operations{{Prefix: TargetPrefix, Ops: h.ops}, {Prefix: ExtensionPrefix, Ops: h.ext}},
		Errors:     exception,
		Fault:      awsjson.Error{Type: "ServerException", Message: "internal server error: the registry logged the cause"},
		EmptyLists: true, // ECR answers {"repositories":[]}; the AWS CLI v1's paginators fail on null
		Prepare:    replicationOrigin,
		Log:        log,

		EventSource: "ecr.amazonaws.com",
		Describe:    describe,
	}
	return h
}

// validator is an input that checks itself against the ECR model.
type validator[I any] interface {
	*I
	validate() error
}

// handle makes an operation from a typed one: decode, validate, run.
func handle[I any, PI validator[I], O any](fn func(context.Context, auth.Caller, *I) (*O, error)) awsjson.Op {
	return awsjson.Operation(fn, func(in *I) error { return PI(in).validate() })
}

// Serve runs the operation an X-Amz-Target names for an authenticated
// caller and writes the answer.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, target string, body []byte) {
	h.api.Serve(w, r, c, target, body)
}

// scope returns the registry an operation addresses: registryId if given,
// else the caller's own, in the region the request was signed for.
func scope(c auth.Caller, registryID *string) metadata.Scope {
	s := metadata.Scope{Account: c.Principal.Account, Region: c.Region}
	if registryID != nil {
		s.Account = *registryID
	}
	return s
}

func repoKey(c auth.Caller, registryID, name *string) metadata.RepoKey {
	return metadata.RepoKey{Scope: scope(c, registryID), Name: deref(name)}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// describe notes the registry and repository a call addressed.
func describe(info *reqinfo.Info, c auth.Caller) {
	if id := str(info.Params["registryId"]); id != "" {
		info.Account = id
	}
	name := str(info.Params["repositoryName"])
	if name == "" {
		return
	}
	key := metadata.RepoKey{Scope: metadata.Scope{Account: info.Account, Region: info.Region}, Name: name}
	info.Repository = key.Name
	info.Resources = []string{registry.RepositoryARN(key)}
}

// str is a string parameter's value, "" if absent.
func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case *string:
		if s != nil {
			return *s
		}
	}
	return ""
}

// replicationOrigin marks the calls another ecrd makes while it
// replicates into this one (its deletions), as /v2 does.
func replicationOrigin(ctx context.Context, r *http.Request) (context.Context, error) {
	v := r.Header.Get(registry.OriginHeader)
	if v == "" {
		return ctx, nil
	}
	o, err := registry.ParseOrigin(v)
	if err != nil {
		return ctx, err
	}
	return registry.WithReplicationOrigin(ctx, o), nil
}
