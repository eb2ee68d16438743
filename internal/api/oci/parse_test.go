package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path string
		want route
	}{
		{"/v2", route{kind: routeBase}},
		{"/v2/", route{kind: routeBase}},
		{"/v2/_catalog", route{kind: routeCatalog}},
		{"/v2/team/app/tags/list", route{kind: routeTags, name: "team/app"}},
		{"/v2/app/manifests/latest", route{kind: routeManifest, name: "app", arg: "latest"}},
		{"/v2/a/b/c/manifests/sha256:abc", route{kind: routeManifest, name: "a/b/c", arg: "sha256:abc"}},
		{"/v2/app/blobs/sha256:abc", route{kind: routeBlob, name: "app", arg: "sha256:abc"}},
		{"/v2/app/blobs/uploads/", route{kind: routeUploads, name: "app"}},
		{"/v2/app/blobs/uploads", route{kind: routeUploads, name: "app"}},
		{"/v2/app/blobs/uploads/0123abcd", route{kind: routeUpload, name: "app", arg: "0123abcd"}},
		{"/v2/app/referrers/sha256:abc", route{kind: routeReferrers, name: "app", arg: "sha256:abc"}},
		// Names may contain the endpoints' words as components.
		{"/v2/blobs/manifests/x", route{kind: routeManifest, name: "blobs", arg: "x"}},
		{"/v2/x/blobs/uploads/manifests/v1", route{kind: routeManifest, name: "x/blobs/uploads", arg: "v1"}},
		{"/v2/tags/list/tags/list", route{kind: routeTags, name: "tags/list"}},
		// Not endpoints.
		{"/v3/app/manifests/x", route{}},
		{"/v2/app", route{}},
		{"/v2/app/manifests/", route{}},
		{"/v2/app/unknown/x", route{}},
		{"/v2/manifests/x", route{kind: routeNone}},
	}
	for _, tt := range tests {
		if got := parseRoute(tt.path); got != tt.want {
			t.Errorf("parseRoute(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/a/b/manifests/latest", "/v2/a/blobs/uploads/id", "/v2/_catalog", "/v2//manifests/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt := parseRoute(path)
		if rt.kind == routeNone || rt.kind == routeBase || rt.kind == routeCatalog {
			return
		}
		// Whatever matched, the parts must rebuild a suffix of the path.
		if !strings.HasPrefix(path, "/v2/"+rt.name+"/") {
			t.Fatalf("parseRoute(%q) = %+v: name is not the path's prefix", path, rt)
		}
		if rt.arg != "" && (strings.Contains(rt.arg, "/") || !strings.HasSuffix(path, "/"+rt.arg)) {
			t.Fatalf("parseRoute(%q) = %+v: argument is not the last segment", path, rt)
		}
	})
}

func TestParseRange(t *testing.T) {
	const size = 2048
	tests := []struct {
		header      string
		want        byteRange
		partial     bool
		unsatisfied bool
	}{
		{"", byteRange{}, false, false},
		{"bytes=500-1499", byteRange{500, 1499}, true, false},
		{"bytes=500-", byteRange{500, 2047}, true, false},
		{"bytes=-500", byteRange{1548, 2047}, true, false},
		{"bytes=-5000", byteRange{0, 2047}, true, false},
		{"bytes=2000-5000", byteRange{2000, 2047}, true, false},
		{"bytes=0-0", byteRange{0, 0}, true, false},
		{"bytes=500-0", byteRange{}, false, true},
		{"bytes=5000-10000", byteRange{}, false, true},
		{"bytes=2048-", byteRange{}, false, true},
		{"bytes=-0", byteRange{}, false, true},
		{"bytes=0-1,5-6", byteRange{}, false, false}, // several ranges: whole blob
		{"items=0-1", byteRange{}, false, false},
		{"bytes=a-b", byteRange{}, false, false},
		{"bytes=-", byteRange{}, false, false},
		{"bytes=+1-2", byteRange{}, false, false},
	}
	for _, tt := range tests {
		got, partial, err := parseRange(tt.header, size)
		if unsatisfied := errors.Is(err, errRangeUnsatisfiable); unsatisfied != tt.unsatisfied || partial != tt.partial || (partial && got != tt.want) {
			t.Errorf("parseRange(%q) = %+v, %v, %v; want %+v, partial %v, unsatisfiable %v", tt.header, got, partial, err, tt.want, tt.partial, tt.unsatisfied)
		}
	}
	if _, _, err := parseRange("bytes=-1", 0); !errors.Is(err, errRangeUnsatisfiable) {
		t.Errorf("a suffix range of an empty blob = %v, want unsatisfiable", err)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=9223372036854775807-", "bytes=1-9223372036854775807"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			return
		}
		r, partial, err := parseRange(header, size)
		if err != nil && !errors.Is(err, errRangeUnsatisfiable) {
			t.Fatalf("unexpected error %v", err)
		}
		if partial && (r.start < 0 || r.end >= size || r.start > r.end || r.length() <= 0) {
			t.Fatalf("parseRange(%q, %d) = %+v: outside the blob", header, size, r)
		}
	})
}

func TestParseContentRange(t *testing.T) {
	good := map[string]byteRange{
		"0-99":           {0, 99},
		"100-100":        {100, 100},
		"bytes 5-10":     {5, 10},
		"bytes 5-10/200": {5, 10},
		" 7-8 ":          {7, 8},
	}
	for h, want := range good {
		got, err := parseContentRange(h)
		if err != nil || got != want {
			t.Errorf("parseContentRange(%q) = %+v, %v; want %+v", h, got, err, want)
		}
	}
	for _, h := range []string{"", "5", "10-5", "a-b", "-1-5", "1-", "-5", "0-9223372036854775807", "1-99999999999999999999"} {
		if got, err := parseContentRange(h); err == nil {
			t.Errorf("parseContentRange(%q) = %+v, want an error", h, got)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-99", "bytes 1-2/3", "5-4", "9223372036854775806-9223372036854775806"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r, err := parseContentRange(header)
		if err != nil {
			return
		}
		if r.start < 0 || r.end < r.start || r.length() <= 0 {
			t.Fatalf("parseContentRange(%q) = %+v: not a valid range", header, r)
		}
	})
}
