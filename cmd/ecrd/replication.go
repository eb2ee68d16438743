package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/remote"
)

// remoteTargets gives replication the clients of the regions other ecrd
// deployments serve (the remote-regions setting), one per destination
// registry and source, made on first use and kept.
func remoteTargets(regions map[string]config.RemoteRegion, log *slog.Logger) registry.RemoteTargets {
	if len(regions) == 0 {
		return nil
	}
	type key struct {
		dest   metadata.Scope
		origin registry.ReplicationOrigin
	}
	var (
		mu      sync.Mutex
		clients = map[key]registry.RemoteTarget{}
	)
	return func(dest metadata.Scope, origin registry.ReplicationOrigin) (registry.RemoteTarget, bool, error) {
		rr, ok := regions[dest.Region]
		if !ok {
			return nil, false, nil
		}
		mu.Lock()
		defer mu.Unlock()
		k := key{dest, origin}
		if c, ok := clients[k]; ok {
			return c, true, nil
		}
		c, err := remote.New(remote.Target{
			URL: rr.URL, Region: dest.Region, Account: dest.Account, Profile: rr.Profile,
			CredentialsFile: rr.CredentialsFile, CAFile: rr.CAFile, Source: origin.String(),
		}, remote.WithLogger(log))
		if err != nil {
			return nil, true, fmt.Errorf("region %s: %w", dest.Region, err)
		}
		clients[k] = remoteTarget{c}
		return clients[k], true, nil
	}
}

// remoteTarget gives a remote client's errors the kinds replication acts
// on.
type remoteTarget struct{ c *remote.Client }

func remoteKind(err error) error {
	switch {
	case err == nil:
		return nil
	case remote.Temporary(err):
		return fmt.Errorf("%w: %w", registry.ErrRemoteTemporary, err)
	case errors.Is(err, remote.ErrTagImmutable):
		return fmt.Errorf("%w: %w", registry.ErrRemoteTagImmutable, err)
	case errors.Is(err, remote.ErrDenied):
		return fmt.Errorf("%w: %w", registry.ErrRemoteDenied, err)
	}
	return err
}

// gone maps "not there" to ErrRemoteNotFound, for deletions, which then
// have nothing to do.
func gone(err error) error {
	if errors.Is(err, remote.ErrNotFound) || errors.Is(err, remote.ErrRepositoryNotFound) {
		return fmt.Errorf("%w: %w", registry.ErrRemoteNotFound, err)
	}
	return remoteKind(err)
}

func (t remoteTarget) BlobExists(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	ok, err := t.c.BlobExists(ctx, repo, d)
	return ok, remoteKind(err)
}

func (t remoteTarget) PushBlob(ctx context.Context, repo string, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error {
	return remoteKind(t.c.PushBlob(ctx, repo, d, size, open))
}

func (t remoteTarget) PutManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error {
	return remoteKind(t.c.PutManifest(ctx, repo, ref, mediaType, body))
}

func (t remoteTarget) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	return gone(t.c.DeleteManifest(ctx, repo, d))
}

func (t remoteTarget) DeleteTag(ctx context.Context, repo, tag string) error {
	return gone(t.c.DeleteTag(ctx, repo, tag))
}

func (t remoteTarget) ImageTags(ctx context.Context, repo string, d digest.Digest) ([]string, error) {
	tags, err := t.c.ImageTags(ctx, repo, d)
	if errors.Is(err, remote.ErrNotFound) || errors.Is(err, remote.ErrRepositoryNotFound) {
		return nil, nil
	}
	return tags, remoteKind(err)
}
