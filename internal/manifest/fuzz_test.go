package manifest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
)

// FuzzParse checks that Parse never panics, only ever returns *Error, and
// that whatever it accepts is internally consistent.
func FuzzParse(f *testing.F) {
	for _, tc := range acceptCases {
		f.Add(tc.contentType, []byte(expand(tc.body)))
	}
	for _, tc := range rejectCases {
		f.Add(tc.contentType, []byte(expand(tc.body)))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		m, err := Parse(contentType, body)
		again, errAgain := Parse(contentType, body)
		if !reflect.DeepEqual(m, again) || !reflect.DeepEqual(err, errAgain) {
			t.Fatalf("Parse is not deterministic: %v / %v", err, errAgain)
		}
		if err != nil {
			checkError(t, m, err)
			return
		}
		checkManifest(t, m)
	})
}

func checkError(t *testing.T, m *Manifest, err error) {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Kind != KindInvalid && e.Kind != KindUnsupported && e.Kind != KindTooLarge {
		t.Fatalf("unknown Kind %v", e.Kind)
	}
	if e.Message == "" {
		t.Fatal("empty error message")
	}
	if m != nil {
		t.Fatal("a manifest was returned with an error")
	}
}

func checkManifest(t *testing.T, m *Manifest) {
	if !IsManifestMediaType(m.MediaType) {
		t.Fatalf("resolved media type %q is not one of the four", m.MediaType)
	}
	if m.IsIndex() {
		if m.Config != nil || m.Layers != nil {
			t.Fatal("an index has a config or layers")
		}
	} else if m.Config == nil || m.Manifests != nil || m.ArtifactType == "" {
		t.Fatal("an image manifest lacks a config or artifact type, or has manifests")
	}
	all := append(append([]Descriptor(nil), m.Layers...), m.Manifests...)
	if m.Config != nil {
		all = append(all, *m.Config)
	}
	if m.Subject != nil {
		all = append(all, *m.Subject)
	}
	for _, d := range all {
		checkDescriptor(t, d)
	}

	// RequiredBlobs must be a subset of config+layers that still covers
	// the config and every distributable layer.
	blobs := m.RequiredBlobs()
	checkUnique(t, blobs)
	allowed, required := map[digest.Digest]bool{}, map[digest.Digest]bool{}
	if m.Config != nil {
		allowed[m.Config.Digest], required[m.Config.Digest] = true, true
	}
	for _, l := range m.Layers {
		allowed[l.Digest] = true
		required[l.Digest] = required[l.Digest] || !isNonDistributable(l.MediaType)
	}
	listed := map[digest.Digest]bool{}
	for _, b := range blobs {
		if !allowed[b.Digest] {
			t.Fatalf("required blob %s is neither the config nor a layer", b.Digest)
		}
		listed[b.Digest] = true
	}
	for dgst, req := range required {
		if req && !listed[dgst] {
			t.Fatalf("blob %s is required but missing from RequiredBlobs", dgst)
		}
	}

	children := m.RequiredManifests()
	checkUnique(t, children)
	if len(children) > len(m.Manifests) || (len(children) == 0) != (len(m.Manifests) == 0) {
		t.Fatalf("%d required manifests for %d children", len(children), len(m.Manifests))
	}
}

func checkDescriptor(t *testing.T, d Descriptor) {
	if err := d.Digest.Validate(); err != nil {
		t.Fatalf("returned digest %q does not validate: %v", d.Digest, err)
	}
	if a := d.Digest.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		t.Fatalf("returned digest %q uses %s", d.Digest, a)
	}
	if !validMediaType(d.MediaType) || d.Size < 0 {
		t.Fatalf("returned descriptor %+v is malformed", d)
	}
	if d.Data != nil && (int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest) {
		t.Fatalf("returned data does not match size %d and digest %s", d.Size, d.Digest)
	}
}

func checkUnique(t *testing.T, ds []Descriptor) {
	seen := map[digest.Digest]bool{}
	for _, d := range ds {
		if seen[d.Digest] {
			t.Fatalf("digest %s listed twice", d.Digest)
		}
		seen[d.Digest] = true
	}
}
