// Package manifest owns the decision of whether a manifest pushed to the
// registry (PUT /v2/<name>/manifests/<ref>) is acceptable, and what it
// references.
//
// It accepts OCI image manifests and indexes and Docker schema 2 manifests
// and manifest lists, validates them against the OCI image-spec v1.1 and
// distribution-spec v1.1, and refuses everything else, Docker schema 1 in
// particular. It does no I/O: whether the referenced blobs and manifests
// exist is for the caller to check, using RequiredBlobs and
// RequiredManifests.
package manifest

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest manifest accepted, in bytes. It matches ECR's
// limit for imageManifest (4 MiB).
const MaxSize = 4 << 20

// Manifest media types.
const (
	MediaTypeOCIManifest         = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex            = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// Manifest is a validated manifest. Image manifests have Config and Layers;
// indexes (OCI index, Docker manifest list) have Manifests.
type Manifest struct {
	// MediaType is the resolved type, one of the four accepted ones.
	MediaType string
	// ArtifactType is what the referrers API reports: the manifest's
	// artifactType, or for an image manifest without one, config.mediaType.
	ArtifactType string
	Config       *Descriptor
	Layers       []Descriptor
	Manifests    []Descriptor
	// Subject, if set, is the manifest this one refers to (OCI only).
	Subject     *Descriptor
	Annotations map[string]string
}

// IsManifestMediaType reports whether mt is one of the four manifest media
// types this package accepts.
func IsManifestMediaType(mt string) bool {
	switch mt {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList:
		return true
	}
	return false
}

// IsIndex reports whether m lists other manifests rather than layers.
func (m *Manifest) IsIndex() bool {
	return isIndexType(m.MediaType)
}

func isIndexType(mt string) bool {
	return mt == MediaTypeOCIIndex || mt == MediaTypeDockerManifestList
}

func isDockerType(mt string) bool {
	return mt == MediaTypeDockerManifest || mt == MediaTypeDockerManifestList
}

// Parse validates body, the raw bytes of a manifest PUT, given the request's
// Content-Type (which may be empty or carry parameters). Every error it
// returns is an *Error.
func Parse(contentType string, body []byte) (*Manifest, error) {
	return parse(contentType, body, false)
}

// ParseDeclared is Parse for a manifest whose media type is declared
// beside it rather than in a header (ECR PutImage's
// imageManifestMediaType): a body without mediaType takes the declared
// one, Docker formats included, which is what the parameter is for; a
// body without one and no declared type is refused rather than inferred.
func ParseDeclared(mediaType string, body []byte) (*Manifest, error) {
	return parse(mediaType, body, true)
}

func parse(contentType string, body []byte, declared bool) (*Manifest, error) {
	if len(body) == 0 {
		return nil, invalidf("the request body is empty; send the manifest JSON")
	}
	if len(body) > MaxSize {
		return nil, &Error{Kind: KindTooLarge, Message: fmt.Sprintf(
			"the manifest is %d bytes; the limit is %d bytes: move large content, such as big annotations or data fields, into blobs",
			len(body), MaxSize)}
	}
	if !utf8.Valid(body) {
		// JSON text is UTF-8. Go's decoder would read bad bytes as U+FFFD,
		// so the manifest served back as a JSON string would not be the
		// bytes its digest names.
		return nil, invalidf("the manifest is not valid UTF-8 (byte %d): JSON text must be UTF-8", InvalidUTF8At(body))
	}
	contentType = baseMediaType(contentType)
	if isSchema1Type(contentType) {
		return nil, schema1Error()
	}
	top, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	bodyType, err := top.str("mediaType")
	if err != nil {
		return nil, err
	}
	if isSchema1Type(bodyType) {
		return nil, schema1Error()
	}
	if err := checkSchemaVersion(top); err != nil {
		return nil, err
	}
	mediaType, err := resolveMediaType(contentType, bodyType, top, declared)
	if err != nil {
		return nil, err
	}
	if isIndexType(mediaType) {
		return parseIndex(mediaType, top)
	}
	return parseImage(mediaType, top)
}

// InvalidUTF8At returns the offset of the first byte of b that is not
// valid UTF-8 (len(b) if there is none), for error messages.
func InvalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// baseMediaType strips parameters such as "; charset=utf-8" from a
// Content-Type and lower-cases it (media types are case-insensitive).
func baseMediaType(contentType string) string {
	base, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(base))
}

func isSchema1Type(mt string) bool {
	return strings.EqualFold(mt, MediaTypeDockerSchema1) || strings.EqualFold(mt, MediaTypeDockerSchema1Signed)
}

func schema1Error() error {
	// crane copy is not suggested: it copies schema 1 manifests unchanged.
	return unsupportedf("Docker schema 1 manifests are not supported; convert the image to Docker schema 2 or OCI " +
		"and push that, e.g. with `skopeo copy --format v2s2 docker://SOURCE docker://DESTINATION`, " +
		"or by pulling it with a docker that can still read schema 1 and pushing it again")
}

// decodeBody reads the whole body as one JSON object. json.Unmarshal
// refuses anything after the object; duplicate members are accepted and the
// last one wins, as it does for Go clients.
func decodeBody(body []byte) (object, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return object{}, invalidf("the body is not a JSON object: %v", err)
	}
	if members == nil {
		return object{}, invalidf("the body is not a JSON object: got null")
	}
	return object{members: members}, nil
}

// checkSchemaVersion requires "schemaVersion": 2, the only version of every
// accepted format; 1 is Docker schema 1.
func checkSchemaVersion(top object) error {
	var version int
	ok, err := top.decode("schemaVersion", &version, "the number 2")
	switch {
	case err != nil:
		return err
	case !ok:
		return invalidf(`schemaVersion: required; set "schemaVersion": 2`)
	case version == 1:
		return schema1Error()
	case version != 2:
		return invalidf("schemaVersion %d: must be 2", version)
	}
	return nil
}

// resolveMediaType decides which of the four formats body is, from the
// request's Content-Type (or declared type) and the body's own mediaType
// member.
func resolveMediaType(contentType, bodyType string, top object, declared bool) (string, error) {
	// Only a manifest Content-Type says anything; clients also send
	// application/json, application/octet-stream or nothing at all.
	headerKnown := IsManifestMediaType(contentType)
	if declared && bodyType == "" {
		switch {
		case headerKnown:
			return contentType, nil
		case contentType == "":
			return "", invalidf("image manifest mediatype not provided in manifest or parameter")
		}
		return "", unsupportedManifestType(contentType)
	}
	switch {
	case bodyType != "" && headerKnown && bodyType != contentType:
		return "", invalidf("mediaType %s does not match the Content-Type %s; send the manifest's media type in both",
			quote(bodyType), quote(contentType))
	case bodyType != "":
		if !IsManifestMediaType(bodyType) {
			return "", unsupportedManifestType(bodyType)
		}
		return bodyType, nil
	case headerKnown && isDockerType(contentType):
		return "", invalidf("mediaType: required in a Docker manifest; set it to %s", quote(contentType))
	case headerKnown:
		return contentType, nil
	}
	return inferMediaType(top)
}

func unsupportedManifestType(mt string) error {
	return unsupportedf("mediaType %s: unsupported manifest media type; push one of %s, %s, %s or %s",
		quote(mt), MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList)
}

// inferMediaType handles a body with no media type anywhere, which the OCI
// spec allows: only OCI formats can be meant, since Docker schema 2 always
// sets mediaType.
func inferMediaType(top object) (string, error) {
	hasManifests, err := top.has("manifests")
	if err != nil {
		return "", err
	}
	hasConfig, err := top.has("config")
	switch {
	case err != nil:
		return "", err
	case hasManifests:
		return MediaTypeOCIIndex, nil
	case hasConfig:
		return MediaTypeOCIManifest, nil
	}
	return "", invalidf("mediaType: cannot tell the manifest type: set mediaType (or the Content-Type) to %s or %s",
		MediaTypeOCIManifest, MediaTypeOCIIndex)
}
