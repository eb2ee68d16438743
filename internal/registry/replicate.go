package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
	"github.com/ecrd/ecrd/internal/registry/gc"
	"github.com/ecrd/ecrd/internal/registry/replication"
)

// The copy of one image to one destination (a replication task of
// internal/registry/replication). Into a registry this server hosts, the
// copy is a push through the registry's own paths (planPush, ingest,
// putImage) made by the source account's root with a replication origin
// in its context; into a region another ecrd serves, the same push goes
// through that server's /v2 API with the origin in a header
// (OriginHeader). Either way the destination's side sees a replication:
//
//   - every write is authorized as ecr:ReplicateImage (replicaActions), and
//     creating a missing repository as ecr:CreateRepository, so that
//     another account's registry takes a copy only where its registry
//     policy allows the source account both, as ECR's;
//   - a missing repository is created from the destination's REPLICATION
//     creation template, or with defaults (planPush);
//   - a tag that would move an immutable one is dropped (checkTags);
//   - the changes record "ECR Replication Action" events, not image
//     pushes, so replication never carries them on (imageActions).

// ReplicationOrigin is the registry a replication comes from.
type ReplicationOrigin struct {
	Account, Region string
}

// OriginHeader carries a replication's origin ("ACCOUNT/REGION") on the
// /v2 writes a source ecrd makes to a remote one.
const OriginHeader = "X-Ecrd-Replication-Source"

// ParseOrigin parses an OriginHeader value.
func ParseOrigin(v string) (ReplicationOrigin, error) {
	account, region, ok := strings.Cut(v, "/")
	if !ok || !awsid.ValidAccountID(account) || !originRegion.MatchString(region) {
		return ReplicationOrigin{}, paramError(OriginHeader, "must be ACCOUNT/REGION, for example 111122223333/us-east-1")
	}
	return ReplicationOrigin{Account: account, Region: region}, nil
}

var originRegion = regexp.MustCompile(`^[0-9a-z-]{2,25}$`)

func (o ReplicationOrigin) String() string { return o.Account + "/" + o.Region }

type originKey struct{}

// WithReplicationOrigin marks ctx's writes as a replication from o.
func WithReplicationOrigin(ctx context.Context, o ReplicationOrigin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

func originOf(ctx context.Context) (ReplicationOrigin, bool) {
	o, ok := ctx.Value(originKey{}).(ReplicationOrigin)
	return o, ok
}

// replicaActions are the actions a replication's writes take; each is
// authorized as ecr:ReplicateImage.
var replicaActions = map[Action]bool{
	ActionBatchCheckLayerAvailability: true,
	ActionInitiateLayerUpload:         true,
	ActionUploadLayerPart:             true,
	ActionCompleteLayerUpload:         true,
	ActionPutImage:                    true,
	ActionBatchDeleteImage:            true,
}

// RemoteTarget is a registry in a region another ecrd serves, as
// replication pushes to it.
type RemoteTarget interface {
	BlobExists(ctx context.Context, repo string, d digest.Digest) (bool, error)
	PushBlob(ctx context.Context, repo string, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error
	PutManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error
	DeleteManifest(ctx context.Context, repo string, d digest.Digest) error
	DeleteTag(ctx context.Context, repo, tag string) error
	ImageTags(ctx context.Context, repo string, d digest.Digest) ([]string, error)
}

// RemoteTargets gives the client of a destination registry in a region
// another ecrd serves; ok is false for a region this server hosts.
type RemoteTargets func(dest metadata.Scope, origin ReplicationOrigin) (t RemoteTarget, ok bool, err error)

// replicationView is what the replication engine needs of the registry.
type replicationView struct{ r *Registry }

var _ replication.Core = replicationView{}

// imageEvent is the part of an "ECR Image Action" event replication reads.
type imageEvent struct {
	Repository string `json:"repository-name"`
	Digest     string `json:"image-digest"`
	Action     string `json:"action-type"`
	Result     string `json:"result"`
}

// Queue turns the image pushes and deletions among events into the
// replication tasks the configuration of their registry asks for. It
// only reads and writes tx.
func (v replicationView) Queue(ctx context.Context, tx metadata.Tx, events []metadata.Event, now time.Time) (int, error) {
	configs := map[metadata.Scope]ReplicationConfiguration{}
	type taskKey struct {
		repo int64
		d    digest.Digest
		dest metadata.Scope
	}
	seen := map[taskKey]bool{}
	var tasks []metadata.ReplicationTask
	for _, e := range events {
		if e.Source != outbox.SourceECR || e.Type != outbox.TypeImageAction {
			continue
		}
		var env struct {
			Detail imageEvent `json:"detail"`
		}
		if err := json.Unmarshal(e.Document, &env); err != nil {
			continue // not an event this version wrote
		}
		ev := env.Detail
		if (ev.Action != "PUSH" && ev.Action != "DELETE") || ev.Result != "SUCCESS" {
			continue
		}
		d, err := digest.Parse(ev.Digest)
		if err != nil {
			continue
		}
		cfg, ok := configs[e.Scope]
		if !ok {
			if cfg, err = replicationConfig(ctx, tx, e.Scope); err != nil {
				return 0, err
			}
			configs[e.Scope] = cfg
		}
		if len(cfg.Rules) == 0 || !e.Time.After(cfg.Since) {
			continue
		}
		targets := cfg.Targets(ev.Repository)
		if len(targets) == 0 {
			continue
		}
		repo, err := tx.Repository(ctx, metadata.RepoKey{Scope: e.Scope, Name: ev.Repository})
		if errors.Is(err, metadata.ErrNotFound) {
			continue // deleted since, with its images
		}
		if err != nil {
			return 0, err
		}
		for _, t := range targets {
			k := taskKey{repo.ID, d, t.Dest}
			if (ev.Action == "DELETE" && !t.Deletes) || seen[k] {
				continue
			}
			seen[k] = true
			tasks = append(tasks, metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: t.Dest, NotBefore: now})
		}
	}
	if len(tasks) == 0 {
		return 0, nil
	}
	return len(tasks), tx.QueueReplications(ctx, tasks, now)
}

// Failed records the event of a replication that failed for good, in the
// destination's region.
func (v replicationView) Failed(ctx context.Context, tx metadata.Tx, t metadata.ReplicationTask, now time.Time) error {
	key := metadata.RepoKey{Scope: t.Dest, Name: t.Repo.Name}
	e, err := outbox.ReplicationAction(t.Dest, now, outbox.Replication{
		RepositoryARN: RepositoryARN(key), Repository: key.Name, Digest: string(t.Digest), Action: "REPLICATE",
		SourceAccount: t.Repo.Account, SourceRegion: t.Repo.Region, Failed: true,
	})
	if err != nil {
		return err
	}
	return tx.AppendEvent(ctx, e)
}

// replicaImage is one manifest of what a replication copies, with the
// blobs it references.
type replicaImage struct {
	img   metadata.Image
	blobs []metadata.Blob
}

// Replicate brings a task's destination in step with its source image:
// the image with its children, referrers and tags where the source has it;
// where the source deleted it, or untagged it, the same at the
// destination if the configuration replicates deletions.
func (v replicationView) Replicate(ctx context.Context, t metadata.ReplicationTask) error {
	r := v.r
	src, err := r.meta.Repository(ctx, t.Repo)
	if errors.Is(err, metadata.ErrNotFound) {
		return nil // deleted, with its tasks
	}
	if err != nil {
		return err
	}
	cfg, err := replicationConfig(ctx, r.meta, t.Repo.Scope)
	if err != nil {
		return err
	}
	var target *ReplicationTarget
	for _, x := range cfg.Targets(src.Key.Name) {
		if x.Dest == t.Dest {
			target = &x
		}
	}
	if target == nil {
		return &replication.Failure{Code: fmt.Sprintf("DESTINATION_NOT_CONFIGURED: the replication configuration of registry %s in %s no longer replicates %q to %s in %s",
			t.Repo.Account, t.Repo.Region, src.Key.Name, t.Dest.Account, t.Dest.Region)}
	}
	origin := ReplicationOrigin{Account: t.Repo.Account, Region: t.Repo.Region}
	dest := metadata.RepoKey{Scope: t.Dest, Name: src.Key.Name}
	var remote RemoteTarget
	if r.opts.RemoteTargets != nil {
		rt, ok, err := r.opts.RemoteTargets(t.Dest, origin)
		if err != nil {
			return &replication.Failure{Code: "REMOTE_NOT_USABLE: " + err.Error()}
		}
		if ok {
			remote = rt
		}
	}
	img, err := r.meta.Image(ctx, src.ID, t.Digest)
	if errors.Is(err, metadata.ErrNotFound) {
		if !target.Deletes {
			return nil
		}
		if remote != nil {
			return remoteError(remote.DeleteManifest(ctx, dest.Name, t.Digest), dest)
		}
		return r.deleteReplica(ctx, origin, dest, t.Digest)
	}
	if err != nil {
		return err
	}
	images, err := r.replicaImages(ctx, src, img)
	if err != nil {
		return err
	}
	tags, err := r.meta.ImageTags(ctx, src.ID, t.Digest)
	if err != nil {
		return err
	}
	if remote != nil {
		return r.replicateRemote(ctx, remote, src, dest, images, img.Digest, tags, target.Deletes)
	}
	return r.replicateLocal(ctx, origin, src, dest, images, img.Digest, tags, target.Deletes)
}

// replicaImages lists what replicating img copies, each manifest after
// what it references: the children of an index (and theirs), the image,
// then its referrers (signatures, SBOMs, attestations) with their own.
func (r *Registry) replicaImages(ctx context.Context, src metadata.Repository, img metadata.Image) ([]replicaImage, error) {
	var out []replicaImage
	seen := map[digest.Digest]bool{}
	var add func(img metadata.Image, depth int) error
	add = func(img metadata.Image, depth int) error {
		if seen[img.Digest] || depth > 8 {
			return nil
		}
		seen[img.Digest] = true
		m, err := manifest.Parse(img.MediaType, img.Content)
		if err != nil {
			return &replication.Failure{Code: fmt.Sprintf("INVALID_SOURCE_IMAGE: manifest %s of repository %q does not parse: %v", img.Digest, src.Key.Name, err)}
		}
		for _, c := range m.RequiredManifests() {
			child, err := r.meta.Image(ctx, src.ID, c.Digest)
			if err != nil {
				return err
			}
			if err := add(child, depth+1); err != nil {
				return err
			}
		}
		ri := replicaImage{img: img}
		for _, b := range m.RequiredBlobs() {
			blob, err := r.meta.Blob(ctx, src.ID, b.Digest)
			if err != nil {
				return err
			}
			ri.blobs = append(ri.blobs, blob)
		}
		out = append(out, ri)
		refs, err := r.meta.Referrers(ctx, src.ID, img.Digest)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			full, err := r.meta.Image(ctx, src.ID, ref.Digest)
			if errors.Is(err, metadata.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return err
			}
			if err := add(full, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, add(img, 0)
}

// replicateLocal copies into a registry this server hosts, as the source
// account's root making a replication (see above).
func (r *Registry) replicateLocal(ctx context.Context, origin ReplicationOrigin, src metadata.Repository, dest metadata.RepoKey,
	images []replicaImage, main digest.Digest, tags []string, deletes bool) error {
	ctx = WithReplicationOrigin(identity.NewContext(ctx, identity.Root(origin.Account)), origin)
	plan, err := r.planPush(ctx, ActionPutImage, dest)
	if err != nil {
		return localError(err, dest, origin)
	}
	from, err := r.spaceOf(ctx, src.Settings)
	if err != nil {
		return err
	}
	for _, ri := range images {
		if err := r.replicateBlobs(ctx, plan, from, ri.blobs); err != nil {
			return localError(err, dest, origin)
		}
		req := putRequest{digest: ri.img.Digest, contentType: ri.img.MediaType, body: ri.img.Content}
		if ri.img.Digest == main {
			req.tags = tags
		}
		if _, err := r.putImage(ctx, dest, req); err != nil {
			return localError(err, dest, origin)
		}
		if !plan.exists {
			// The repository exists now: plan on it.
			if plan, err = r.planPush(ctx, ActionPutImage, dest); err != nil {
				return localError(err, dest, origin)
			}
		}
	}
	if !deletes {
		return nil
	}
	// Tags the source removed from the image go at the destination too.
	repo, err := r.meta.Repository(ctx, dest)
	if err != nil {
		return err
	}
	have, err := r.meta.ImageTags(ctx, repo.ID, main)
	if err != nil {
		return err
	}
	var gone []ImageID
	for _, tag := range have {
		if !slices.Contains(tags, tag) {
			gone = append(gone, ImageID{Tag: tag})
		}
	}
	if len(gone) > 0 {
		if _, _, err := r.BatchDeleteImage(ctx, dest, gone); err != nil {
			return localError(err, dest, origin)
		}
	}
	return nil
}

// replicateBlobs brings the blobs of one manifest, which the source holds
// in space from, into the planned destination: those already there are
// skipped; within one blob space the rest are linked together in one
// transaction, without a copy (as a mount: the source's links vouch for
// the bytes, see internal/registry/gc); across spaces each is copied,
// decrypted and encrypted, through ingest.
func (r *Registry) replicateBlobs(ctx context.Context, plan *pushPlan, from blobspace.Space, blobs []metadata.Blob) error {
	var missing []metadata.Blob
	for _, b := range blobs {
		if plan.exists {
			if _, err := r.meta.Blob(ctx, plan.repo.ID, b.Digest); err == nil {
				continue
			}
		}
		missing = append(missing, b)
	}
	if len(missing) == 0 {
		return nil
	}
	to, err := r.blobSpace(ctx, plan)
	if err != nil {
		return err
	}
	if from.Key() != to.Key() {
		for _, b := range missing {
			err := r.ingest(ctx, ingestion{plan: plan, blob: b, store: func(ctx context.Context, sp blobspace.Space) error {
				return r.spaces.Copy(ctx, b, from, sp)
			}})
			if err != nil {
				return blobGone(err)
			}
		}
		return nil
	}
	wctx := context.WithoutCancel(ctx)
	now := r.now()
	_, err = r.updatePush(wctx, plan, now, r.meta.Update, func(tx metadata.Tx, repo metadata.Repository) error {
		for _, b := range missing {
			if err := gc.Link(wctx, tx, repo.ID, b, now); err != nil {
				return err
			}
		}
		return nil
	})
	return blobGone(err)
}

// blobGone makes a blob collected under a replication a reason to retry.
func blobGone(err error) error {
	if errors.Is(err, gc.ErrBlobGone) {
		return fmt.Errorf("a blob is being collected: will retry: %w", err)
	}
	return err
}

// deleteReplica deletes image d and its tags at a destination this server
// hosts, as a replication.
func (r *Registry) deleteReplica(ctx context.Context, origin ReplicationOrigin, dest metadata.RepoKey, d digest.Digest) error {
	ctx = WithReplicationOrigin(identity.NewContext(ctx, identity.Root(origin.Account)), origin)
	_, failures, err := r.BatchDeleteImage(ctx, dest, []ImageID{{Digest: string(d)}})
	if CodeOf(err) == CodeNameUnknown {
		return nil // nothing there
	}
	if err != nil {
		return localError(err, dest, origin)
	}
	for _, f := range failures {
		if f.Code != FailureImageNotFound {
			return &replication.Failure{Code: fmt.Sprintf("DELETE_FAILED: repository %q of %s in %s: %v", dest.Name, dest.Account, dest.Region, &f)}
		}
	}
	return nil
}

// replicateRemote pushes what a replication copies to another ecrd.
func (r *Registry) replicateRemote(ctx context.Context, rt RemoteTarget, src metadata.Repository, dest metadata.RepoKey,
	images []replicaImage, main digest.Digest, tags []string, deletes bool) error {
	from, err := r.spaceOf(ctx, src.Settings)
	if err != nil {
		return err
	}
	for _, ri := range images {
		for _, b := range ri.blobs {
			open := func() (io.ReadCloser, error) { return r.openObject(ctx, from, b) }
			if err := rt.PushBlob(ctx, dest.Name, b.Digest, b.Size, open); err != nil {
				return remoteError(err, dest)
			}
		}
		if err := rt.PutManifest(ctx, dest.Name, string(ri.img.Digest), ri.img.MediaType, ri.img.Content); err != nil {
			return remoteError(err, dest)
		}
		if ri.img.Digest != main {
			continue
		}
		for _, tag := range tags {
			err := rt.PutManifest(ctx, dest.Name, tag, ri.img.MediaType, ri.img.Content)
			if err != nil && !errors.Is(err, ErrRemoteTagImmutable) {
				return remoteError(err, dest)
			}
		}
	}
	if !deletes {
		return nil
	}
	have, err := rt.ImageTags(ctx, dest.Name, main)
	if err != nil {
		return remoteError(err, dest)
	}
	for _, tag := range have {
		if !slices.Contains(tags, tag) {
			if err := rt.DeleteTag(ctx, dest.Name, tag); err != nil {
				return remoteError(err, dest)
			}
		}
	}
	return nil
}

// Errors a RemoteTarget returns (wrapped) that replication acts on.
var (
	// ErrRemoteTagImmutable: the remote refused to move an immutable tag;
	// the image arrives without it.
	ErrRemoteTagImmutable = errors.New("the remote refused to move an immutable tag")
	// ErrRemoteDenied: the remote's policies refuse the replication.
	ErrRemoteDenied = errors.New("the remote denied the replication")
	// ErrRemoteNotFound: what was to be deleted is not on the remote.
	ErrRemoteNotFound = errors.New("not on the remote")
	// ErrRemoteTemporary: the remote could not be reached, or answered
	// that it could not serve now; the replication is tried again.
	ErrRemoteTemporary = errors.New("the remote is unavailable")
)

// remoteError turns a remote's answer into what replication does next:
// nothing (already done), a retry (ErrRemoteTemporary), or a failure a
// person can act on.
func remoteError(err error, dest metadata.RepoKey) error {
	switch {
	case err == nil, errors.Is(err, ErrRemoteNotFound):
		return nil
	case errors.Is(err, ErrRemoteTemporary):
		return err
	case errors.Is(err, ErrRemoteDenied):
		return &replication.Failure{Code: fmt.Sprintf("ACCESS_DENIED: registry %s in %s refused the replication into %q: %v", dest.Account, dest.Region, dest.Name, err)}
	}
	return &replication.Failure{Code: fmt.Sprintf("REPLICATION_REFUSED: registry %s in %s, repository %q: %v", dest.Account, dest.Region, dest.Name, err)}
}

// localError turns a refusal of a destination this server hosts into a
// failure a person can act on; other errors are retried.
func localError(err error, dest metadata.RepoKey, origin ReplicationOrigin) error {
	var denied *DeniedError
	switch {
	case errors.As(err, &denied):
		return &replication.Failure{Code: fmt.Sprintf("ACCESS_DENIED: the registry policy of %s in %s does not allow account %s %s on repository %q (replication needs ecr:ReplicateImage, and ecr:CreateRepository for a repository it creates)",
			dest.Account, dest.Region, origin.Account, denied.Action, dest.Name)}
	case CodeOf(err) == CodeKMS:
		return &replication.Failure{Code: fmt.Sprintf("KMS_ERROR: repository %q of %s in %s: %v", dest.Name, dest.Account, dest.Region, err)}
	case CodeOf(err) != CodeInternal:
		return &replication.Failure{Code: fmt.Sprintf("REPLICATION_REFUSED: repository %q of %s in %s: %v", dest.Name, dest.Account, dest.Region, err)}
	}
	return err
}
