package registry

import (
	"context"
	"errors"
	"io"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry/scanjob"
)

// Scan jobs run in the background, in internal/registry/scanjob's
// workers, which see the registry through scanView: an image's layers,
// read from its repository's blob space, and the scanning rules.

// RematchReport says what a rematch did.
type RematchReport = scanjob.RematchReport

// RematchScans matches the stored package lists of the images of
// continuously scanned repositories that were matched against older
// vulnerability data than the scanner has now, without reading their
// layers. It returns ErrJobBusy while another process does it.
func (r *Registry) RematchScans(ctx context.Context) (RematchReport, error) {
	report, err := r.scans.Rematch(ctx)
	return report, jobError(err)
}

// scanView is what the scan workers need of the registry.
type scanView struct{ r *Registry }

var (
	_ scanjob.Blobs = scanView{}
	_ scanjob.Rules = scanView{}
)

func (v scanView) Opener(ctx context.Context, repo metadata.Repository) (scanjob.OpenFunc, error) {
	sp, err := v.r.spaceOf(ctx, repo.Settings)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, b metadata.Blob) (io.ReadCloser, error) {
		rc, err := v.r.openObject(ctx, sp, b)
		if errors.Is(err, blobstore.ErrNotFound) {
			// A pull-through cache's image whose layers nobody pulled
			// yet: the scan brings them, as the account.
			if _, lerr := v.r.meta.Blob(ctx, repo.ID, b.Digest); errors.Is(lerr, metadata.ErrNotFound) {
				actx := identity.NewContext(ctx, identity.Root(repo.Key.Account))
				if _, prc, cached, perr := v.r.pullThroughBlob(actx, repo.Key, repo, b.Digest, true); cached || perr != nil {
					return prc, perr
				}
			}
		}
		return rc, err
	}, nil
}

func (v scanView) Continuous(ctx context.Context, scope metadata.Scope) (func(metadata.Repository) bool, error) {
	cfg, err := registryScanning(ctx, v.r.meta, scope)
	if err != nil {
		return nil, err
	}
	return func(repo metadata.Repository) bool {
		return cfg.ScanType == ScanTypeEnhanced && effectiveScanning(cfg, repo).ScanFrequency == ContinuousScan
	}, nil
}
