package manifest

import "github.com/opencontainers/go-digest"

// parseImage reads an image manifest (OCI or Docker schema 2).
func parseImage(mediaType string, top object) (*Manifest, error) {
	// A body that could be read as either an image manifest or an index
	// means different things to different clients (CVE-2021-41190).
	if err := forbid(top, mediaType, "manifests"); err != nil {
		return nil, err
	}
	m := &Manifest{MediaType: mediaType}
	rawConfig, ok, err := top.get("config")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidf("config: required in an image manifest; set it to the descriptor of the image configuration")
	}
	config, err := parseDescriptor(rawConfig, "config")
	if err != nil {
		return nil, err
	}
	m.Config = &config

	// OCI allows an image without layers (e.g. an artifact); Docker
	// schema 2 always writes the array, possibly empty.
	rawLayers, ok, err := top.array("layers")
	if err != nil {
		return nil, err
	}
	if !ok && isDockerType(mediaType) {
		return nil, invalidf("layers: required in a Docker schema 2 manifest; use [] for an image without layers")
	}
	if m.Layers, err = parseDescriptors(rawLayers, "layers"); err != nil {
		return nil, err
	}

	if mediaType == MediaTypeOCIManifest {
		if err := parseOCIFields(m, top); err != nil {
			return nil, err
		}
	}
	// The OCI spec says an image with an empty config MUST set
	// artifactType, but clients often omit it and registries accept that;
	// the referrers API then reports the config media type, as it does for
	// every image manifest without an artifactType.
	if m.ArtifactType == "" {
		m.ArtifactType = config.MediaType
	}
	return m, nil
}

// parseIndex reads an index (OCI image index or Docker manifest list).
func parseIndex(mediaType string, top object) (*Manifest, error) {
	for _, key := range []string{"config", "layers"} {
		if err := forbid(top, mediaType, key); err != nil {
			return nil, err
		}
	}
	rawChildren, ok, err := top.array("manifests")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidf("manifests: required in an index; use [] for an index without entries")
	}
	m := &Manifest{MediaType: mediaType}
	if m.Manifests, err = parseDescriptors(rawChildren, "manifests"); err != nil {
		return nil, err
	}
	if mediaType == MediaTypeDockerManifestList {
		err = checkDockerListChildren(m.Manifests)
	} else {
		err = parseOCIFields(m, top)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// forbid refuses member key, which belongs to the other kind of manifest.
func forbid(top object, mediaType, key string) error {
	present, err := top.has(key)
	if err == nil && present {
		err = invalidf("%s: not allowed in a manifest of type %s; a manifest is either an image (config, layers) or an index (manifests), never both",
			key, mediaType)
	}
	return err
}

// checkDockerListChildren enforces that a Docker manifest list points at
// manifests, unlike an OCI index whose children may have any media type.
func checkDockerListChildren(children []Descriptor) error {
	for i, child := range children {
		if !IsManifestMediaType(child.MediaType) {
			return invalidf("manifests[%d].mediaType %s: a Docker manifest list can only list manifests (%s, %s, %s or %s)",
				i, quote(child.MediaType), MediaTypeDockerManifest, MediaTypeOCIManifest, MediaTypeDockerManifestList, MediaTypeOCIIndex)
		}
	}
	return nil
}

// parseOCIFields reads the members only the OCI formats define. In a Docker
// manifest they are unknown members and ignored like any other.
func parseOCIFields(m *Manifest, top object) error {
	var err error
	if m.ArtifactType, err = optionalMediaType(top, "artifactType"); err != nil {
		return err
	}
	if _, err = top.decode("annotations", &m.Annotations, "an object of string values"); err != nil {
		return err
	}
	rawSubject, ok, err := top.get("subject")
	if err != nil || !ok {
		return err
	}
	subject, err := parseDescriptor(rawSubject, "subject")
	if err != nil {
		return err
	}
	m.Subject = &subject
	return nil
}

// RequiredBlobs lists the blobs that must exist in the repository before m
// is accepted: the config and every layer except non-distributable ones,
// which registries accept without the blob. Each digest appears once, in
// order of first appearance.
func (m *Manifest) RequiredBlobs() []Descriptor {
	var blobs []Descriptor
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	for _, layer := range m.Layers {
		if !isNonDistributable(layer.MediaType) {
			blobs = append(blobs, layer)
		}
	}
	return uniqueDigests(blobs)
}

// RequiredManifests lists the manifests an index points to, which must
// exist in the repository. Each digest appears once, in order of first
// appearance.
func (m *Manifest) RequiredManifests() []Descriptor {
	return uniqueDigests(m.Manifests)
}

// isNonDistributable reports whether a layer media type marks content that
// may not be redistributed (OCI, deprecated) or comes from elsewhere
// (Docker "foreign" layers), so the registry does not hold the blob.
func isNonDistributable(mt string) bool {
	switch mt {
	case "application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		return true
	}
	return false
}

// uniqueDigests returns ds without repeated digests, keeping the first
// descriptor for each digest.
func uniqueDigests(ds []Descriptor) []Descriptor {
	seen := make(map[digest.Digest]bool, len(ds))
	var unique []Descriptor
	for _, d := range ds {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			unique = append(unique, d)
		}
	}
	return unique
}
