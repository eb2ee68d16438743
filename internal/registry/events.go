package registry

import (
	"context"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// Every change the registry makes appends its record to the outbox in the
// change's own transaction (see internal/outbox): an API call's record
// for settings, policies, templates, repositories and the like, and
// ECR's "ECR Image Action" events for images pushed and deleted. Blobs
// and upload sessions are content on its way to an image, not changes
// anyone follows: the image push that references them is. The records
// are built inside the transaction, from what it read, and building one
// is pure, so the transaction may run twice.

const ecrService = "ecr.amazonaws.com"

// record appends the record of a change made by the request's caller (or
// by ECR itself, for a background job) through action, with the
// parameters that say what changed, to the outbox.
func (r *Registry) record(ctx context.Context, tx metadata.Tx, scope metadata.Scope, at time.Time, action Action, params map[string]any, resources ...string) error {
	return recordBy(ctx, tx, scope, at, identity.ActorOf(ctx, ecrService), action, params, resources...)
}

// recordBy is record for a given actor.
func recordBy(ctx context.Context, tx metadata.Tx, scope metadata.Scope, at time.Time, actor outbox.Actor, action Action, params map[string]any, resources ...string) error {
	name := string(action)
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	e, err := outbox.APICall(scope, at, outbox.SourceECR, outbox.Call{
		EventSource: ecrService, Action: name, Actor: actor, Params: params, Resources: resources,
	})
	if err != nil {
		return err
	}
	return tx.AppendEvent(ctx, e)
}

// imageActions appends ECR's image events of an image pushed (PUSH) or
// deleted (DELETE): one per tag, or one without a tag.
//
// A replication's changes record "ECR Replication Action" events instead,
// which replication does not follow: a push replicates once, and never
// on from a destination (ECR's rule).
func imageActions(ctx context.Context, tx metadata.Tx, key metadata.RepoKey, at time.Time, d string, action string, tags []string) error {
	if len(tags) == 0 {
		tags = []string{""}
	}
	origin, replica := originOf(ctx)
	for _, tag := range tags {
		var (
			e   metadata.Event
			err error
		)
		if replica {
			kind := "REPLICATE"
			if action == "DELETE" {
				kind = "DELETE"
			}
			e, err = outbox.ReplicationAction(key.Scope, at, outbox.Replication{
				RepositoryARN: RepositoryARN(key), Repository: key.Name, Digest: d, Tag: tag, Action: kind,
				SourceAccount: origin.Account, SourceRegion: origin.Region,
			})
		} else {
			e, err = outbox.ImageAction(key.Scope, at, RepositoryARN(key), key.Name, d, action, tag)
		}
		if err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Changed drops what this process cached about what an outbox event
// changed. The outbox follower calls it for every event, whichever
// process recorded it, so that a change made through one process binds
// every other within the follower's interval (this process's own writes
// also drop their entries at once, when they commit).
func (r *Registry) Changed(e metadata.Event) {
	if e.Source == outbox.SourceKMS {
		// A key's state decides pushes to and pulls from the repositories
		// it encrypts.
		r.spaces.KeyChanged(e.Resource)
		return
	}
	if e.Source != outbox.SourceECR {
		return
	}
	if e.Type == outbox.TypeImageAction {
		r.replication.Wake() // it may have something to replicate
	}
	if key, err := ParseRepositoryARN(e.Resource); err == nil {
		r.cache.dropKey(key)
		return
	}
	// A registry's own settings: its policy, its exclusions.
	r.forgetRegistryPolicy(e.Scope)
	r.exclusions.forget(e.Scope)
}

// wireImageID is an image ID as the API's requestParameters show it.
func wireImageID(id ImageID) map[string]string {
	m := map[string]string{}
	if id.Digest != "" {
		m["imageDigest"] = id.Digest
	}
	if id.Tag != "" {
		m["imageTag"] = id.Tag
	}
	return m
}

func wireImageIDs(ids []ImageID) []map[string]string {
	out := make([]map[string]string, len(ids))
	for i, id := range ids {
		out[i] = wireImageID(id)
	}
	return out
}

// tagList is a tag as a list: none for "".
func tagList(tag string) []string {
	if tag == "" {
		return nil
	}
	return []string{tag}
}

// createParams are the parameters of the creation of repo, as
// CreateRepository names them.
func createParams(repo metadata.Repository) map[string]any {
	s := repo.Settings
	params := map[string]any{
		"repositoryName":             repo.Key.Name,
		"imageTagMutability":         s.TagMutability,
		"imageScanningConfiguration": map[string]bool{"scanOnPush": s.ScanOnPush},
	}
	if s.EncryptionType != "" {
		enc := map[string]string{"encryptionType": s.EncryptionType}
		if s.KMSKey != "" {
			enc["kmsKey"] = s.KMSKey
		}
		params["encryptionConfiguration"] = enc
	}
	if len(repo.Tags) > 0 {
		params["tags"] = repo.Tags
	}
	return params
}

// templateParams are a template's parameters, as
// CreateRepositoryCreationTemplate names them.
func templateParams(t CreationTemplate) map[string]any {
	return map[string]any{"prefix": t.Prefix, "appliedFor": t.AppliedFor, "imageTagMutability": t.TagMutability,
		"description": t.Description}
}

// pruneBatch is how many events one pruning transaction removes.
const pruneBatch = 1000

// PruneEvents removes the outbox's events older than the retention
// period, a batch per transaction, holding the "outbox" lease so that
// one process prunes at a time. It returns how many it removed.
func (r *Registry) PruneEvents(ctx context.Context) (int, error) {
	l, err := r.leases.Acquire(ctx, "outbox")
	if err != nil {
		return 0, jobError(err)
	}
	defer l.Release()
	before := r.now().Add(-r.opts.EventRetention)
	total := 0
	for {
		var n int
		err := l.Update(ctx, func(tx metadata.Tx) error {
			var err error
			n, err = tx.PruneEvents(ctx, before, pruneBatch)
			return err
		})
		total += n
		if err != nil || n < pruneBatch {
			if total > 0 {
				r.log.Debug("outbox pruned", "events", total)
			}
			return total, err
		}
	}
}

// imageConfigTypes are the config media types of container images: a
// manifest with another config, or with an artifactType, is an artifact.
var imageConfigTypes = map[string]bool{
	"": true,
	"application/vnd.oci.image.config.v1+json":       true,
	"application/vnd.docker.container.image.v1+json": true,
}

// storageClassEvents appends ECR's events of an image archived or
// restored (UPDATE_STORAGE_CLASS), one per tag or one without: "ECR
// Referrer Action" for a referrer, "ECR Artifact Action" for a non-image
// artifact, "ECR Image Action" for the rest.
func storageClassEvents(ctx context.Context, tx metadata.Tx, key metadata.RepoKey, img metadata.Image, target string, activatedAt time.Time, tags []string, at time.Time) error {
	c := outbox.StorageClassChange{RepositoryARN: RepositoryARN(key), Repository: key.Name, Digest: string(img.Digest),
		Kind: outbox.TypeImageAction, ManifestMediaType: img.MediaType, TargetStorageClass: target}
	switch {
	case img.Subject != "":
		c.Kind, c.ArtifactMediaType = outbox.TypeReferrerAction, img.ArtifactType
	case !imageConfigTypes[img.ArtifactType]:
		c.Kind, c.ArtifactMediaType = outbox.TypeArtifactAction, img.ArtifactType
	}
	if target == metadata.StorageStandard {
		c.LastActivatedAt = activatedAt
	}
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, tag := range tags {
		c.Tag = tag
		e, err := outbox.StorageClassAction(key.Scope, at, c)
		if err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
