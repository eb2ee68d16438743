package oci

import (
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// routeKind names the endpoints of the distribution API.
type routeKind int

const (
	routeNone      routeKind = iota
	routeBase                // /v2/
	routeCatalog             // /v2/_catalog
	routeTags                // /v2/<name>/tags/list
	routeManifest            // /v2/<name>/manifests/<reference>
	routeBlob                // /v2/<name>/blobs/<digest>
	routeUploads             // /v2/<name>/blobs/uploads/
	routeUpload              // /v2/<name>/blobs/uploads/<id>
	routeReferrers           // /v2/<name>/referrers/<digest>
)

// route is a parsed request path.
type route struct {
	kind routeKind
	name string // repository name
	arg  string // reference, digest or upload ID
}

// parseRoute splits a /v2 path. Repository names contain slashes, so the
// endpoint is recognised from the end of the path.
func parseRoute(path string) route {
	if path == "/v2" || path == "/v2/" {
		return route{kind: routeBase}
	}
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}
	}
	if p == "_catalog" {
		return route{kind: routeCatalog}
	}
	if name, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return route{kind: routeTags, name: name}
	}
	if name, ok := strings.CutSuffix(p, "/blobs/uploads/"); ok {
		return route{kind: routeUploads, name: name}
	}
	if name, ok := strings.CutSuffix(p, "/blobs/uploads"); ok {
		return route{kind: routeUploads, name: name}
	}
	rest, last, ok := cutLast(p)
	if !ok || last == "" {
		return route{}
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads"); ok {
		return route{kind: routeUpload, name: name, arg: last}
	}
	name, endpoint, ok := cutLast(rest)
	if !ok {
		return route{}
	}
	switch endpoint {
	case "manifests":
		return route{kind: routeManifest, name: name, arg: last}
	case "blobs":
		return route{kind: routeBlob, name: name, arg: last}
	case "referrers":
		return route{kind: routeReferrers, name: name, arg: last}
	}
	return route{}
}

// cutLast splits s at its last slash.
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// operations are the ECR actions each route and method is authorized as
// (docs/authentication-and-iam.md, "Registry routes and ECR actions"):
// the operation a /v2 request is recorded and measured as. The version
// check (/v2/) is none: it only tests a login.
var operations = [routeReferrers + 1]map[string]string{
	routeCatalog:   {"GET": "DescribeRepositories"},
	routeTags:      {"GET": "ListImages"},
	routeManifest:  {"GET": "BatchGetImage", "HEAD": "BatchGetImage", "PUT": "PutImage", "DELETE": "BatchDeleteImage"},
	routeBlob:      {"GET": "GetDownloadUrlForLayer", "HEAD": "BatchCheckLayerAvailability", "DELETE": "BatchDeleteImage"},
	routeUploads:   {"POST": "InitiateLayerUpload"},
	routeUpload:    {"GET": "UploadLayerPart", "PATCH": "UploadLayerPart", "PUT": "CompleteLayerUpload", "DELETE": "UploadLayerPart"},
	routeReferrers: {"GET": "BatchGetImage"},
}

// noteRequest records in the request's info what it is: the ECR action,
// the registry and repository, the caller, and the parameters that say
// what it addressed, named as ECR's API names them.
func noteRequest(req *http.Request, rt route, scope metadata.Scope, principal *identity.Principal) {
	info := reqinfo.From(req.Context())
	if info.RequestID == "" {
		info.RequestID = awsid.NewUUID()
	}
	info.Service = "ecr.amazonaws.com"
	info.Operation = operations[rt.kind][req.Method]
	info.ReadOnly = req.Method == http.MethodGet || req.Method == http.MethodHead
	info.Account, info.Region = scope.Account, scope.Region
	if principal != nil {
		identity.NoteCaller(info, *principal, "")
	}
	if rt.name == "" {
		return
	}
	key := metadata.RepoKey{Scope: scope, Name: rt.name}
	info.Repository = rt.name
	info.Resources = []string{registry.RepositoryARN(key)}
	params := map[string]any{"registryId": scope.Account, "repositoryName": rt.name}
	switch rt.kind {
	case routeManifest, routeReferrers:
		id := map[string]string{"imageDigest": rt.arg}
		if !strings.Contains(rt.arg, ":") {
			id = map[string]string{"imageTag": rt.arg}
		}
		params["imageIds"] = []map[string]string{id}
	case routeBlob:
		if req.Method == http.MethodHead {
			params["layerDigests"] = []string{rt.arg}
		} else {
			params["layerDigest"] = rt.arg
		}
	case routeUpload:
		params["uploadId"] = rt.arg
		if d := req.URL.Query().Get("digest"); d != "" {
			params["layerDigests"] = []string{d}
		}
	case routeUploads:
		if m := req.URL.Query().Get("mount"); m != "" {
			params["mount"] = m
			params["from"] = req.URL.Query().Get("from")
		}
	}
	info.Params = params
}
