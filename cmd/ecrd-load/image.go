package main

import (
	"context"
	"encoding/json"
)

// Media types of the images the tool pushes. Layers are random bytes, not
// real tarballs: registries store layers without looking inside them.
const (
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// manifestAccept is what real clients send when pulling by tag, so the
// registry takes the same path it takes for docker or crane.
const manifestAccept = mediaTypeManifest + ", " +
	"application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json"

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type imageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// imageConfig is the smallest config that registries which parse configs
// (zot does) accept as a linux/amd64 image.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// image is a config and manifest ready to push, plus its layers.
type image struct {
	layers   []blob
	config   blob
	manifest []byte
}

// newImage builds the config and manifest for layers. label goes into the
// config so that every image, and so every manifest, is distinct.
func newImage(layers []blob, label string) image {
	var cfg imageConfig
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Labels = map[string]string{"ecrd-load": label}
	cfg.RootFS.Type = "layers"
	m := imageManifest{SchemaVersion: 2, MediaType: mediaTypeManifest}
	for _, l := range layers {
		// The layers are uncompressed, so a layer's digest is its diff ID.
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.digest)
		m.Layers = append(m.Layers, descriptor{mediaTypeLayer, l.digest, l.size})
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // plain structs of strings always marshal
	}
	config := bytesBlob(cfgJSON)
	m.Config = descriptor{mediaTypeConfig, config.digest, config.size}
	manifest, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return image{layers: layers, config: config, manifest: manifest}
}

// bytes is how much the push of the image sends: layers, config, manifest.
func (img image) bytes() int64 {
	n := img.config.size + int64(len(img.manifest))
	for _, l := range img.layers {
		n += l.size
	}
	return n
}

// pushImage uploads the layers one after another with mode, the config
// monolithically, then the manifest under tag.
func (c *client) pushImage(ctx context.Context, repo, tag string, img image, mode string, chunk int64) error {
	for _, l := range img.layers {
		if err := c.pushBlob(ctx, repo, l, mode, chunk); err != nil {
			return err
		}
	}
	if err := c.pushMonolithic(ctx, repo, img.config); err != nil {
		return err
	}
	return c.putManifest(ctx, repo, tag, mediaTypeManifest, img.manifest)
}
