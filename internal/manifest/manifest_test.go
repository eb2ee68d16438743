package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Fixture bodies use <name> tokens for digests so that they stay readable;
// expand swaps them for real ones.
var tokens = strings.NewReplacer(
	"<cfg>", string(digest.FromString("config")),
	"<l1>", string(digest.FromString("layer 1")),
	"<l2>", string(digest.FromString("layer 2")),
	"<l3>", string(digest.FromString("layer 3")),
	"<l4>", string(digest.FromString("layer 4")),
	"<m1>", string(digest.FromString("manifest 1")),
	"<m2>", string(digest.FromString("manifest 2")),
	"<sub>", string(digest.FromString("subject")),
	"<empty>", string(digest.FromString("{}")), // the OCI empty descriptor's content
	"<s512>", string(digest.SHA512.FromString("sha512 layer")),
)

func expand(s string) string { return tokens.Replace(s) }

// d returns the expanded digest token, for expectations.
func d(token string) digest.Digest { return digest.Digest(expand(token)) }

// edit returns base with the single occurrence of old replaced by new. It
// panics if old does not occur exactly once, so that a fixture edit that no
// longer applies cannot silently turn a test into a no-op.
func edit(base, old, new string) string {
	if n := strings.Count(base, old); n != 1 {
		panic(fmt.Sprintf("edit: %q occurs %d times in the fixture, want 1", old, n))
	}
	return strings.Replace(base, old, new, 1)
}

const ociImage = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "<cfg>", "size": 7023},
  "layers": [
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "<l1>", "size": 32654},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "<l2>", "size": 16724}
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
}`

const ociIndex = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<m1>", "size": 7143,
     "platform": {"architecture": "ppc64le", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<m2>", "size": 7682,
     "platform": {"architecture": "amd64", "os": "linux"}}
  ]
}`

const dockerManifest = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "<cfg>", "size": 7023},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "<l1>", "size": 32654},
    {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": "<l2>", "size": 16724,
     "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/<l2>"]}
  ]
}`

const dockerList = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "<m1>", "size": 7143,
     "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}
  ]
}`

// ociArtifact is an artifact in the style of the OCI spec's "minimal
// artifact": empty config, artifactType set.
const ociArtifact = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.example+type",
  "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "<empty>", "size": 2},
  "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": "<empty>", "size": 2}]
}`

const subject = `"subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<sub>", "size": 1234}`

type acceptCase struct {
	name         string
	contentType  string
	body         string
	mediaType    string
	artifactType string
	blobs        []digest.Digest // RequiredBlobs, in order
	manifests    []digest.Digest // RequiredManifests, in order
	check        func(t *testing.T, m *Manifest)
}

var acceptCases = []acceptCase{
	{
		name: "OCI image", contentType: MediaTypeOCIManifest, body: ociImage,
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
		check: func(t *testing.T, m *Manifest) {
			if m.Annotations["org.opencontainers.image.created"] != "2024-01-01T00:00:00Z" {
				t.Errorf("annotations = %v", m.Annotations)
			}
			if m.Layers[1].Size != 16724 {
				t.Errorf("layers[1].size = %d", m.Layers[1].Size)
			}
		},
	},
	{
		name: "OCI image without layers", contentType: MediaTypeOCIManifest,
		body:      edit(ociImage, `"layers": [`, `"x-unused-layers": [`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>")},
	},
	{
		name: "OCI image with an empty layer list", contentType: MediaTypeOCIManifest,
		body: `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "<cfg>", "size": 1}, "layers": []}`,
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>")},
	},
	{
		name: "OCI artifact with artifactType and empty config", contentType: MediaTypeOCIManifest, body: ociArtifact,
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.example+type",
		blobs: []digest.Digest{d("<empty>")}, // config and layer are the same blob
	},
	{
		name: "OCI artifact with empty config but no artifactType", contentType: MediaTypeOCIManifest,
		body:      edit(ociArtifact, `"artifactType": "application/vnd.example+type",`, ""),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.empty.v1+json",
		blobs: []digest.Digest{d("<empty>")},
	},
	{
		name: "OCI index", contentType: MediaTypeOCIIndex, body: ociIndex,
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
		check: func(t *testing.T, m *Manifest) {
			if p := m.Manifests[0].Platform; p == nil || p.Architecture != "ppc64le" || p.OS != "linux" {
				t.Errorf("manifests[0].platform = %+v", p)
			}
		},
	},
	{
		name: "OCI index with artifactType", contentType: MediaTypeOCIIndex,
		body:      edit(ociIndex, `"manifests": [`, `"artifactType": "application/vnd.example.bundle", "manifests": [`),
		mediaType: MediaTypeOCIIndex, artifactType: "application/vnd.example.bundle",
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
	},
	{
		name: "nested OCI index", contentType: MediaTypeOCIIndex,
		body:      edit(ociIndex, `"application/vnd.oci.image.manifest.v1+json", "digest": "<m2>"`, `"application/vnd.oci.image.index.v1+json", "digest": "<m2>"`),
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
	},
	{
		name: "empty OCI index", contentType: MediaTypeOCIIndex,
		body:      `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}`,
		mediaType: MediaTypeOCIIndex,
	},
	{
		name: "OCI index child with an unknown media type", contentType: MediaTypeOCIIndex,
		body:      edit(ociIndex, `"application/vnd.oci.image.manifest.v1+json", "digest": "<m2>"`, `"application/vnd.example.future.manifest.v9+json", "digest": "<m2>"`),
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
	},
	{
		name: "index listing the same manifest twice", contentType: MediaTypeOCIIndex,
		body:      edit(ociIndex, `"<m2>"`, `"<m1>"`),
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>")},
	},
	{
		name: "Docker schema 2 with a foreign layer", contentType: MediaTypeDockerManifest, body: dockerManifest,
		mediaType: MediaTypeDockerManifest, artifactType: "application/vnd.docker.container.image.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>")},
		check: func(t *testing.T, m *Manifest) {
			if len(m.Layers) != 2 || len(m.Layers[1].URLs) != 1 {
				t.Errorf("layers = %+v", m.Layers)
			}
		},
	},
	{
		name: "Docker schema 2 ignores OCI-only members", contentType: MediaTypeDockerManifest,
		body:      edit(dockerManifest, `"layers": [`, subject+`, "artifactType": "application/vnd.example", "layers": [`),
		mediaType: MediaTypeDockerManifest, artifactType: "application/vnd.docker.container.image.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>")},
		check: func(t *testing.T, m *Manifest) {
			if m.Subject != nil {
				t.Errorf("subject = %+v, want none for a Docker manifest", m.Subject)
			}
		},
	},
	{
		name: "Docker manifest list", contentType: MediaTypeDockerManifestList, body: dockerList,
		mediaType: MediaTypeDockerManifestList,
		manifests: []digest.Digest{d("<m1>")},
		check: func(t *testing.T, m *Manifest) {
			if !m.IsIndex() || m.Manifests[0].Platform.Variant != "v7" {
				t.Errorf("manifest list = %+v", m)
			}
		},
	},
	{
		name: "OCI image with subject", contentType: MediaTypeOCIManifest,
		body:      edit(ociArtifact, `"config":`, subject+`, "config":`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.example+type",
		blobs: []digest.Digest{d("<empty>")},
		check: func(t *testing.T, m *Manifest) {
			if m.Subject == nil || m.Subject.Digest != d("<sub>") || m.Subject.Size != 1234 {
				t.Errorf("subject = %+v", m.Subject)
			}
		},
	},
	{
		name: "OCI index with subject", contentType: MediaTypeOCIIndex,
		body:      edit(ociIndex, `"manifests": [`, subject+`, "manifests": [`),
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
		check: func(t *testing.T, m *Manifest) {
			if m.Subject == nil || m.Subject.Digest != d("<sub>") {
				t.Errorf("subject = %+v", m.Subject)
			}
		},
	},
	{
		name: "descriptor with data", contentType: MediaTypeOCIManifest,
		body:      edit(ociArtifact, `"digest": "<empty>", "size": 2},`, `"digest": "<empty>", "size": 2, "data": "e30="},`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.example+type",
		blobs: []digest.Digest{d("<empty>")},
		check: func(t *testing.T, m *Manifest) {
			if string(m.Config.Data) != "{}" {
				t.Errorf("config.data = %q, want {}", m.Config.Data)
			}
		},
	},
	{
		name: "non-distributable layers are not required blobs", contentType: MediaTypeOCIManifest,
		body: `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "<cfg>", "size": 7023},
		  "layers": [
		    {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": "<l1>", "size": 1,
		     "urls": ["https://store.example.com/blobs/sha256/1"]},
		    {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar", "digest": "<l2>", "size": 2},
		    {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "digest": "<l3>", "size": 3},
		    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "<l4>", "size": 4},
		    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "<l4>", "size": 4}
		  ]}`,
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l4>")},
	},
	{
		name: "sha512 digests", contentType: MediaTypeOCIManifest,
		body:      edit(ociImage, `"<l2>"`, `"<s512>"`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<s512>")},
	},
	{
		name: "Content-Type with parameters and upper case", contentType: " Application/VND.oci.image.manifest.v1+json ; charset=utf-8",
		body:      ociImage,
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
	},
	{
		name: "generic Content-Type, media type from the body", contentType: "application/json",
		body: dockerList, mediaType: MediaTypeDockerManifestList,
		manifests: []digest.Digest{d("<m1>")},
	},
	{
		name: "no Content-Type, media type from the body", contentType: "",
		body: dockerManifest, mediaType: MediaTypeDockerManifest, artifactType: "application/vnd.docker.container.image.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>")},
	},
	{
		name: "media type from Content-Type only", contentType: MediaTypeOCIIndex,
		body:      edit(ociIndex, `"mediaType": "application/vnd.oci.image.index.v1+json",`, ""),
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
	},
	{
		name: "no media type anywhere, image inferred", contentType: "application/octet-stream",
		body:      edit(ociImage, `"mediaType": "application/vnd.oci.image.manifest.v1+json",`, ""),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
	},
	{
		name: "no media type anywhere, index inferred", contentType: "",
		body:      edit(ociIndex, `"mediaType": "application/vnd.oci.image.index.v1+json",`, ""),
		mediaType: MediaTypeOCIIndex,
		manifests: []digest.Digest{d("<m1>"), d("<m2>")},
	},
	{
		name: "empty-string mediaType counts as absent", contentType: MediaTypeOCIManifest,
		body:      edit(ociImage, `"mediaType": "application/vnd.oci.image.manifest.v1+json",`, `"mediaType": "",`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
	},
	{
		name: "null members count as absent", contentType: MediaTypeOCIManifest,
		body:      edit(ociImage, `"annotations": {`, `"manifests": null, "subject": null, "annotations": {`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
	},
	{
		name: "custom members anywhere", contentType: MediaTypeOCIManifest,
		body: edit(edit(ociImage, `"size": 7023}`, `"size": 7023, "org.example.custom": {"any": [1, "json"]}}`),
			`"schemaVersion": 2,`, `"schemaVersion": 2, "org.example.top": true,`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
	},
	{
		name: "duplicate members, the last one wins", contentType: "",
		body:      edit(ociImage, `"schemaVersion": 2,`, `"schemaVersion": 1, "mediaType": "text/plain", "schemaVersion": 2,`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), d("<l1>"), d("<l2>")},
	},
	{
		name: "empty data for empty content", contentType: MediaTypeOCIManifest,
		body: edit(ociImage, `"digest": "<l1>", "size": 32654}`,
			`"digest": "`+string(digest.FromString(""))+`", "size": 0, "data": ""}`),
		mediaType: MediaTypeOCIManifest, artifactType: "application/vnd.oci.image.config.v1+json",
		blobs: []digest.Digest{d("<cfg>"), digest.FromString(""), d("<l2>")},
	},
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.contentType, []byte(expand(tc.body)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.MediaType != tc.mediaType {
				t.Errorf("MediaType = %q, want %q", m.MediaType, tc.mediaType)
			}
			if m.ArtifactType != tc.artifactType {
				t.Errorf("ArtifactType = %q, want %q", m.ArtifactType, tc.artifactType)
			}
			if m.IsIndex() != (tc.mediaType == MediaTypeOCIIndex || tc.mediaType == MediaTypeDockerManifestList) {
				t.Errorf("IsIndex() = %v for %s", m.IsIndex(), tc.mediaType)
			}
			if got := digests(m.RequiredBlobs()); !slices.Equal(got, tc.blobs) {
				t.Errorf("RequiredBlobs = %v, want %v", got, tc.blobs)
			}
			if got := digests(m.RequiredManifests()); !slices.Equal(got, tc.manifests) {
				t.Errorf("RequiredManifests = %v, want %v", got, tc.manifests)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func digests(ds []Descriptor) []digest.Digest {
	var out []digest.Digest
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	return out
}

type rejectCase struct {
	name        string
	contentType string
	body        string
	kind        Kind
	message     string // a substring of Error.Message
}

var rejectCases = []rejectCase{
	// The body as a whole.
	{"empty body", MediaTypeOCIManifest, "", KindInvalid, "body is empty"},
	{"not JSON", MediaTypeOCIManifest, "{", KindInvalid, "not a JSON object"},
	{"JSON array", MediaTypeOCIManifest, "[]", KindInvalid, "not a JSON object"},
	{"JSON null", MediaTypeOCIManifest, "null", KindInvalid, "not a JSON object"},
	{"trailing data", MediaTypeOCIManifest, ociImage + "{}", KindInvalid, "after top-level value"},
	{"byte order mark", MediaTypeOCIManifest, "\ufeff" + ociImage, KindInvalid, "not a JSON object"},
	{"not UTF-8", MediaTypeOCIManifest, `{"annotations":{"a":"` + "\xff\xfe" + `"},` + ociImage[1:], KindInvalid, "not valid UTF-8 (byte 21)"},

	// Docker schema 1.
	{"schema 1 Content-Type", MediaTypeDockerSchema1, ociImage, KindUnsupported, "schema 1 manifests are not supported"},
	{"signed schema 1 Content-Type", MediaTypeDockerSchema1Signed + "; charset=utf-8", "{}", KindUnsupported, "convert the image"},
	{"schema 1 body mediaType", "", `{"schemaVersion": 1, "mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"}`,
		KindUnsupported, "schema 1 manifests are not supported"},
	{"schemaVersion 1", "application/json", `{"schemaVersion": 1, "name": "library/busybox", "tag": "latest", "fsLayers": []}`,
		KindUnsupported, "skopeo copy --format v2s2"},

	// schemaVersion.
	{"no schemaVersion", MediaTypeOCIManifest, edit(ociImage, `"schemaVersion": 2,`, ""), KindInvalid, "schemaVersion: required"},
	{"schemaVersion 3", MediaTypeOCIManifest, edit(ociImage, `"schemaVersion": 2`, `"schemaVersion": 3`), KindInvalid, "schemaVersion 3: must be 2"},
	{"schemaVersion string", MediaTypeOCIManifest, edit(ociImage, `"schemaVersion": 2`, `"schemaVersion": "2"`), KindInvalid, "schemaVersion: must be the number 2"},
	{"schemaVersion float", MediaTypeOCIManifest, edit(ociImage, `"schemaVersion": 2`, `"schemaVersion": 2.5`), KindInvalid, "schemaVersion: must be the number 2"},

	// Media type resolution.
	{"Content-Type and mediaType differ", MediaTypeOCIIndex, ociImage, KindInvalid,
		`mediaType "application/vnd.oci.image.manifest.v1+json" does not match the Content-Type "application/vnd.oci.image.index.v1+json"`},
	{"Docker Content-Type, OCI body", MediaTypeDockerManifest, ociImage, KindInvalid, "does not match the Content-Type"},
	{"unknown body mediaType", MediaTypeOCIManifest, edit(ociImage, `"mediaType": "application/vnd.oci.image.manifest.v1+json"`, `"mediaType": "application/vnd.oci.artifact.manifest.v1+json"`),
		KindInvalid, "does not match the Content-Type"},
	{"unknown body mediaType, generic Content-Type", "application/json", edit(ociImage, `"mediaType": "application/vnd.oci.image.manifest.v1+json"`, `"mediaType": "application/vnd.oci.artifact.manifest.v1+json"`),
		KindUnsupported, `mediaType "application/vnd.oci.artifact.manifest.v1+json": unsupported manifest media type`},
	{"body mediaType in upper case", "", edit(ociImage, `"mediaType": "application/vnd.oci.image.manifest.v1+json"`, `"mediaType": "application/vnd.OCI.image.manifest.v1+json"`),
		KindUnsupported, "unsupported manifest media type"},
	{"nothing to infer from", "", `{"schemaVersion": 2, "layers": []}`, KindInvalid, "cannot tell the manifest type"},
	{"unknown Content-Type, nothing to infer from", "text/plain", `{"schemaVersion": 2}`, KindInvalid, "cannot tell the manifest type"},
	{"Docker Content-Type without body mediaType", MediaTypeDockerManifest,
		edit(dockerManifest, `"mediaType": "application/vnd.docker.distribution.manifest.v2+json",`, ""), KindInvalid, "mediaType: required in a Docker manifest"},
	{"Docker list Content-Type without body mediaType", MediaTypeDockerManifestList,
		edit(dockerList, `"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",`, ""), KindInvalid, "mediaType: required in a Docker manifest"},
	{"mediaType not a string", "", edit(ociImage, `"mediaType": "application/vnd.oci.image.manifest.v1+json"`, `"mediaType": 7`), KindInvalid, "mediaType: must be a string"},

	// Image manifest or index, never both.
	{"image with manifests", MediaTypeOCIManifest, edit(ociImage, `"annotations":`, `"manifests": [], "annotations":`), KindInvalid, "manifests: not allowed"},
	{"index with config", MediaTypeOCIIndex, edit(ociIndex, `"manifests": [`, `"config": {}, "manifests": [`), KindInvalid, "config: not allowed"},
	{"index with layers", MediaTypeOCIIndex, edit(ociIndex, `"manifests": [`, `"layers": [], "manifests": [`), KindInvalid, "layers: not allowed"},
	{"inferred, both config and manifests", "", `{"schemaVersion": 2, "config": {}, "manifests": []}`, KindInvalid, "config: not allowed"},

	// Required members.
	{"image without config", MediaTypeOCIManifest, `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}`,
		KindInvalid, "config: required"},
	{"Docker manifest without layers", MediaTypeDockerManifest, edit(dockerManifest, `"layers": [`, `"x-layers": [`), KindInvalid, "layers: required in a Docker schema 2 manifest"},
	{"index without manifests", MediaTypeOCIIndex, `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}`, KindInvalid, "manifests: required"},
	{"index with null manifests", MediaTypeOCIIndex, `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": null}`, KindInvalid, "manifests: required"},
	{"index child without mediaType", MediaTypeOCIIndex, edit(ociIndex, `"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<m2>"`, `"digest": "<m2>"`),
		KindInvalid, "manifests[1].mediaType: required"},
	{"Docker list child that is not a manifest", MediaTypeDockerManifestList,
		edit(dockerList, `"application/vnd.docker.distribution.manifest.v2+json", "digest"`, `"application/vnd.docker.image.rootfs.diff.tar.gzip", "digest"`),
		KindInvalid, `manifests[0].mediaType "application/vnd.docker.image.rootfs.diff.tar.gzip": a Docker manifest list can only list manifests`},

	// Member types.
	{"config not an object", MediaTypeOCIManifest, `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": "sha256:x"}`,
		KindInvalid, "config: must be a JSON object"},
	{"layers not an array", MediaTypeOCIManifest, edit(ociImage, `"layers": [`, `"layers": 5, "x": [`), KindInvalid, "layers: must be an array"},
	{"null layer", MediaTypeOCIManifest, edit(ociImage, `"layers": [`, `"layers": [null, `), KindInvalid, "layers[0]: must be a JSON object"},
	{"annotation not a string", MediaTypeOCIManifest, edit(ociImage, `"2024-01-01T00:00:00Z"`, `2024`), KindInvalid, "annotations: must be an object of string values"},
	{"descriptor annotations not strings", MediaTypeOCIManifest, edit(ociImage, `"size": 7023}`, `"size": 7023, "annotations": {"a": 1}}`),
		KindInvalid, "config.annotations: must be an object of string values"},
	{"platform not an object", MediaTypeOCIIndex, edit(ociIndex, `{"architecture": "amd64", "os": "linux"}`, `"linux/amd64"`), KindInvalid, "manifests[1].platform: must be a platform object"},
	{"member name differs only in case", MediaTypeOCIManifest, edit(ociImage, `"layers": [`, `"Layers": [], "layers": [`),
		KindInvalid, `layers: member "Layers" differs from "layers" only in letter case`},
	{"descriptor member name differs only in case", MediaTypeOCIManifest, edit(ociImage, `"size": 7023}`, `"size": 7023, "Digest": "<l4>"}`),
		KindInvalid, `config.digest: member "Digest" differs from "digest" only in letter case`},
	{"member name differs only in case, no exact match", "", edit(ociImage, `"layers": [`, `"LAYERS": [`),
		KindInvalid, `layers: member "LAYERS" differs`},

	// Descriptor media types.
	{"mediaType not type/subtype", MediaTypeOCIManifest, edit(ociImage, `"application/vnd.oci.image.config.v1+json"`, `"notamediatype"`),
		KindInvalid, `config.mediaType "notamediatype": not a valid media type`},
	{"mediaType with parameters", MediaTypeOCIManifest, edit(ociImage, `"application/vnd.oci.image.config.v1+json"`, `"application/json; charset=utf-8"`),
		KindInvalid, `config.mediaType "application/json; charset=utf-8": not a valid media type`},
	{"mediaType starting with a symbol", MediaTypeOCIManifest, edit(ociImage, `"application/vnd.oci.image.config.v1+json"`, `"application/+json"`),
		KindInvalid, "not a valid media type"},
	{"mediaType too long", MediaTypeOCIManifest, edit(ociImage, `"application/vnd.oci.image.config.v1+json"`, `"application/`+strings.Repeat("x", 128)+`"`),
		KindInvalid, "not a valid media type"},
	{"descriptor without mediaType", MediaTypeOCIManifest, edit(ociImage, `"mediaType": "application/vnd.oci.image.config.v1+json", `, ""),
		KindInvalid, "config.mediaType: required"},

	// Digests.
	{"digest with bad hex", MediaTypeOCIManifest, edit(ociImage, `"<l2>"`, `"sha256:zz"`), KindInvalid,
		`layers[1].digest "sha256:zz": invalid digest: sha256: must be followed by 64 lower-case hex digits`},
	{"digest with upper-case hex", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `"`+strings.ToUpper(string(d("<l1>")))+`"`), KindInvalid,
		`unsupported digest algorithm "SHA256"`},
	{"digest with upper-case hex only", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `"sha256:`+strings.ToUpper(d("<l1>").Encoded())+`"`), KindInvalid,
		"64 lower-case hex digits"},
	{"digest too short", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `"`+string(d("<l1>"))[:70]+`"`), KindInvalid, "64 lower-case hex digits"},
	{"digest without algorithm", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `"`+d("<l1>").Encoded()+`"`), KindInvalid,
		"invalid digest: must be <algorithm>:<hex>"},
	{"digest with empty algorithm", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `":abc"`), KindInvalid, "must be <algorithm>:<hex>"},
	{"digest with unsupported algorithm", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `"md5:d41d8cd98f00b204e9800998ecf8427e"`), KindInvalid,
		`unsupported digest algorithm "md5": use sha256 or sha512`},
	{"sha384 digest", MediaTypeOCIManifest, edit(ociImage, `"<l1>"`, `"`+string(digest.SHA384.FromString("x"))+`"`), KindInvalid,
		`unsupported digest algorithm "sha384"`},
	{"descriptor without digest", MediaTypeOCIManifest, edit(ociImage, `"digest": "<cfg>", `, ""), KindInvalid, "config.digest: required"},
	{"digest not a string", MediaTypeOCIManifest, edit(ociImage, `"<cfg>"`, `42`), KindInvalid, "config.digest: must be a string"},

	// Sizes.
	{"descriptor without size", MediaTypeOCIManifest, edit(ociImage, `, "size": 7023`, ""), KindInvalid, "config.size: required"},
	{"negative size", MediaTypeOCIManifest, edit(ociImage, `"size": 16724`, `"size": -1`), KindInvalid, "layers[1].size -1: must not be negative"},
	{"fractional size", MediaTypeOCIManifest, edit(ociImage, `"size": 16724`, `"size": 1.5`), KindInvalid, "layers[1].size: must be a non-negative integer"},
	{"size as a string", MediaTypeOCIManifest, edit(ociImage, `"size": 16724`, `"size": "16724"`), KindInvalid, "layers[1].size: must be a non-negative integer"},
	{"size beyond int64", MediaTypeOCIManifest, edit(ociImage, `"size": 16724`, `"size": 9223372036854775808`), KindInvalid, "layers[1].size: must be a non-negative integer"},

	// Embedded data.
	{"data not base64", MediaTypeOCIManifest, edit(ociArtifact, `"size": 2},`, `"size": 2, "data": "e30"},`), KindInvalid, "config.data: not valid base64"},
	{"data not a string", MediaTypeOCIManifest, edit(ociArtifact, `"size": 2},`, `"size": 2, "data": [123, 125]},`), KindInvalid, "config.data: must be a base64 string"},
	{"data of the wrong size", MediaTypeOCIManifest, edit(ociArtifact, `"size": 2},`, `"size": 2, "data": "e30K"},`), KindInvalid,
		"config.data: decodes to 3 bytes but size is 2"},
	{"data with the wrong digest", MediaTypeOCIManifest, edit(ociArtifact, `"size": 2},`, `"size": 2, "data": "W10="},`), KindInvalid,
		"config.data: content has digest " + string(digest.FromString("[]"))},

	// URLs.
	{"relative URL", MediaTypeDockerManifest, edit(dockerManifest, `"https://mcr.microsoft.com/v2/windows/servercore/blobs/<l2>"`, `"/v2/blobs/<l2>"`),
		KindInvalid, `layers[1].urls[0] "/v2/blobs/`},
	{"unparsable URL", MediaTypeDockerManifest, edit(dockerManifest, `"https://mcr.microsoft.com/v2/windows/servercore/blobs/<l2>"`, `"https://a b/"`),
		KindInvalid, "must be an absolute URL"},
	{"urls not strings", MediaTypeDockerManifest, edit(dockerManifest, `["https://mcr.microsoft.com/v2/windows/servercore/blobs/<l2>"]`, `[1]`),
		KindInvalid, "layers[1].urls: must be an array of strings"},

	// artifactType.
	{"descriptor artifactType malformed", MediaTypeOCIIndex, edit(ociIndex, `"size": 7143,`, `"size": 7143, "artifactType": "sbom",`),
		KindInvalid, `manifests[0].artifactType "sbom": not a valid media type`},
	{"manifest artifactType malformed", MediaTypeOCIManifest, edit(ociArtifact, `"application/vnd.example+type"`, `"application/"`),
		KindInvalid, `artifactType "application/": not a valid media type`},
	{"manifest artifactType not a string", MediaTypeOCIManifest, edit(ociArtifact, `"application/vnd.example+type"`, `{}`),
		KindInvalid, "artifactType: must be a string"},

	// subject.
	{"subject without size", MediaTypeOCIManifest, edit(ociImage, `"config":`, `"subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<sub>"}, "config":`),
		KindInvalid, "subject.size: required"},
	{"subject not an object", MediaTypeOCIIndex, edit(ociIndex, `"manifests": [`, `"subject": "<sub>", "manifests": [`),
		KindInvalid, "subject: must be a JSON object"},
}

func TestParseRejects(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.contentType, []byte(expand(tc.body)))
			if err == nil {
				t.Fatalf("Parse accepted the manifest: %+v", m)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v (%v)", e.Kind, tc.kind, err)
			}
			if want := expand(tc.message); !strings.Contains(e.Message, want) {
				t.Errorf("message %q does not contain %q", e.Message, want)
			}
			if m != nil {
				t.Errorf("Parse returned a manifest with an error")
			}
		})
	}
}

// TestMaxSize checks both sides of the limit: exactly MaxSize bytes is
// accepted, one more is refused as too large.
func TestMaxSize(t *testing.T) {
	body := []byte(expand(ociImage))
	padded := append(body, strings.Repeat(" ", MaxSize-len(body))...)
	if _, err := Parse(MediaTypeOCIManifest, padded); err != nil {
		t.Fatalf("Parse of exactly MaxSize bytes: %v", err)
	}
	_, err := Parse(MediaTypeOCIManifest, append(padded, ' '))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindTooLarge || !strings.Contains(e.Message, "the limit is 4194304 bytes") {
		t.Fatalf("Parse of MaxSize+1 bytes: %v, want a KindTooLarge error", err)
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("", nil)
	if got, want := err.Error(), "manifest invalid: the request body is empty; send the manifest JSON"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestIsManifestMediaType(t *testing.T) {
	for _, mt := range []string{MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList} {
		if !IsManifestMediaType(mt) {
			t.Errorf("IsManifestMediaType(%q) = false", mt)
		}
	}
	for _, mt := range []string{MediaTypeDockerSchema1, MediaTypeDockerSchema1Signed, "application/json", "", strings.ToUpper(MediaTypeOCIIndex)} {
		if IsManifestMediaType(mt) {
			t.Errorf("IsManifestMediaType(%q) = true", mt)
		}
	}
}

// TestQuoteTruncates checks that long client values are shortened in
// messages without splitting a UTF-8 character.
func TestQuoteTruncates(t *testing.T) {
	long := strings.Repeat("é", 100) // 2 bytes each, so byte 64 starts a rune
	if got := quote(long); got != `"`+strings.Repeat("é", 32)+`"...` {
		t.Errorf("quote = %s", got)
	}
	odd := "x" + long // byte 64 is now in the middle of a rune
	if got := quote(odd); got != `"x`+strings.Repeat("é", 31)+`"...` {
		t.Errorf("quote = %s", got)
	}
}

// TestParseDeclared: ECR PutImage's imageManifestMediaType stands in for
// a body's missing mediaType, Docker formats included; with neither, the
// manifest is refused rather than inferred.
func TestParseDeclared(t *testing.T) {
	docker := edit(expand(dockerManifest), `"mediaType": "application/vnd.docker.distribution.manifest.v2+json",`, "")
	m, err := ParseDeclared(MediaTypeDockerManifest, []byte(docker))
	if err != nil || m.MediaType != MediaTypeDockerManifest {
		t.Errorf("a Docker manifest without mediaType, declared: %+v, %v", m, err)
	}
	if _, err := Parse(MediaTypeDockerManifest, []byte(docker)); err == nil {
		t.Error("Parse took a Docker manifest without mediaType")
	}
	oci := edit(expand(ociImage), `"mediaType": "application/vnd.oci.image.manifest.v1+json",`, "")
	_, err = ParseDeclared("", []byte(oci))
	if err == nil || !strings.Contains(err.Error(), "image manifest mediatype not provided in manifest or parameter") {
		t.Errorf("neither declared nor in the body: %v", err)
	}
	if _, err := Parse("", []byte(oci)); err != nil {
		t.Errorf("Parse no longer infers an OCI manifest: %v", err)
	}
	if _, err := ParseDeclared("application/json", []byte(oci)); err == nil {
		t.Error("a declared type that is not a manifest type was taken")
	}
	if m, err := ParseDeclared("", []byte(expand(ociImage))); err != nil || m.MediaType != MediaTypeOCIManifest {
		t.Errorf("mediaType in the body only: %+v, %v", m, err)
	}
}
