package manifest

import (
	// go-digest only treats an algorithm as available, and so valid, when
	// its hash is linked into the binary.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Descriptor points from a manifest to other content: a config, a layer, a
// child manifest or a subject. The JSON tags follow the OCI descriptor, so a
// Descriptor can be written back out, e.g. in a referrers response.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Platform is set when the JSON carries one, which in practice means
	// children of an index.
	Platform *ocispec.Platform `json:"platform,omitempty"`
	URLs     []string          `json:"urls,omitempty"`
	// Data is the decoded "data" field: the referenced content itself,
	// embedded. Parse has checked it against Size and Digest.
	Data []byte `json:"data,omitempty"`
}

// parseDescriptor decodes and validates the descriptor at path.
func parseDescriptor(raw json.RawMessage, path string) (Descriptor, error) {
	o, err := decodeObject(raw, path)
	if err != nil {
		return Descriptor{}, err
	}
	var d Descriptor
	if d.MediaType, err = requiredMediaType(o, "mediaType"); err != nil {
		return Descriptor{}, err
	}
	if d.Digest, err = parseDigestField(o); err != nil {
		return Descriptor{}, err
	}
	if d.Size, err = parseSize(o); err != nil {
		return Descriptor{}, err
	}
	if d.ArtifactType, err = optionalMediaType(o, "artifactType"); err != nil {
		return Descriptor{}, err
	}
	if d.URLs, err = parseURLs(o); err != nil {
		return Descriptor{}, err
	}
	if _, err = o.decode("annotations", &d.Annotations, "an object of string values"); err != nil {
		return Descriptor{}, err
	}
	if _, err = o.decode("platform", &d.Platform, `a platform object such as {"architecture": "amd64", "os": "linux"}`); err != nil {
		return Descriptor{}, err
	}
	if d.Data, err = parseData(o, d); err != nil {
		return Descriptor{}, err
	}
	return d, nil
}

// parseDescriptors decodes an array of descriptors found at path, e.g. "layers".
func parseDescriptors(elems []json.RawMessage, path string) ([]Descriptor, error) {
	ds := make([]Descriptor, 0, len(elems))
	for i, raw := range elems {
		d, err := parseDescriptor(raw, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// requiredMediaType reads a member that must hold a media type.
func requiredMediaType(o object, key string) (string, error) {
	mt, err := optionalMediaType(o, key)
	if err == nil && mt == "" {
		err = invalidf("%s: required; set it to the media type of the referenced content", o.field(key))
	}
	return mt, err
}

// optionalMediaType reads a member that, when set, must hold a media type.
func optionalMediaType(o object, key string) (string, error) {
	mt, err := o.str(key)
	if err == nil && mt != "" && !validMediaType(mt) {
		err = invalidf("%s %s: not a valid media type: must be type/subtype as in RFC 6838, e.g. application/vnd.oci.image.layer.v1.tar+gzip",
			o.field(key), quote(mt))
	}
	return mt, err
}

// validMediaType reports whether mt is type "/" subtype, each a
// restricted-name per RFC 6838 section 4.2. Parameters are not allowed in
// manifests; a structured-syntax suffix like "+json" is part of the subtype.
func validMediaType(mt string) bool {
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && restrictedName(typ) && restrictedName(sub)
}

// restrictedName implements RFC 6838's restricted-name: an alphanumeric
// followed by up to 126 of alphanumerics and !#$&-^_.+
func restrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune("!#$&-^_.+", rune(s[i])) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// parseDigestField reads the required "digest" member.
func parseDigestField(o object) (digest.Digest, error) {
	s, err := o.str("digest")
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", invalidf("%s: required; set it to the digest of the referenced content, e.g. sha256:<64 hex digits>", o.field("digest"))
	}
	return parseDigest(s, o.field("digest"))
}

// parseDigest accepts sha256 and sha512 digests in canonical form
// (lower-case hex of the right length), the two algorithms the OCI spec
// registers.
func parseDigest(s, field string) (digest.Digest, error) {
	alg, _, ok := strings.Cut(s, ":")
	if !ok || alg == "" {
		return "", invalidf("%s %s: invalid digest: must be <algorithm>:<hex>", field, quote(s))
	}
	a := digest.Algorithm(alg)
	if a != digest.SHA256 && a != digest.SHA512 {
		return "", invalidf("%s %s: unsupported digest algorithm %s: use sha256 or sha512", field, quote(s), quote(alg))
	}
	d := digest.Digest(s)
	if d.Validate() != nil {
		return "", invalidf("%s %s: invalid digest: %s must be followed by %d lower-case hex digits",
			field, quote(s), alg+":", 2*a.Size())
	}
	return d, nil
}

// parseSize reads the required, non-negative "size" member.
func parseSize(o object) (int64, error) {
	var size int64
	ok, err := o.decode("size", &size, "a non-negative integer (the content length in bytes)")
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, invalidf("%s: required; set it to the length of the referenced content in bytes", o.field("size"))
	}
	if size < 0 {
		return 0, invalidf("%s %d: must not be negative", o.field("size"), size)
	}
	return size, nil
}

// parseURLs reads the optional "urls" member: alternative download
// locations, which must be absolute so a client can use them as they are.
func parseURLs(o object) ([]string, error) {
	var urls []string
	if _, err := o.decode("urls", &urls, "an array of strings"); err != nil {
		return nil, err
	}
	for i, s := range urls {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return nil, invalidf("%s[%d] %s: must be an absolute URL, e.g. https://example.com/blob", o.field("urls"), i, quote(s))
		}
	}
	return urls, nil
}

// parseData reads the optional "data" member, embedded content, and checks
// that it is exactly the content d points to.
func parseData(o object, d Descriptor) ([]byte, error) {
	var encoded string
	ok, err := o.decode("data", &encoded, "a base64 string")
	if err != nil || !ok {
		return nil, err
	}
	// The same decoding encoding/json applies to []byte fields, so Go
	// clients see the same bytes we check here.
	data, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, invalidf("%s: not valid base64 (RFC 4648 standard alphabet, with padding)", o.field("data"))
	}
	if int64(len(data)) != d.Size {
		return nil, invalidf("%s: decodes to %d bytes but size is %d; data must be the exact referenced content",
			o.field("data"), len(data), d.Size)
	}
	if got := d.Digest.Algorithm().FromBytes(data); got != d.Digest {
		return nil, invalidf("%s: content has digest %s but digest is %s; data must be the exact referenced content",
			o.field("data"), got, d.Digest)
	}
	return data, nil
}
