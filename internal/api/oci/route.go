package oci

import "strings"

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
