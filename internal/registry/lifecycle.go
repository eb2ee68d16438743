package registry

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry/lifecyclerun"
)

// settingExpireSincePulled is the account setting that lets lifecycle
// policies expire (not only archive) images by last pull time, which ECR
// refuses. It is an ecrd extension, off unless a registry turns it on.
const settingExpireSincePulled = "ECRD_LIFECYCLE_EXPIRE_SINCE_PULLED"

// Preview statuses, as ECR names them.
const (
	PreviewInProgress = "IN_PROGRESS"
	PreviewComplete   = "COMPLETE"
	PreviewFailed     = "FAILED"
)

// previewTimeout bounds a preview (one of ECR's largest repositories takes
// about a second): one still in progress after it was abandoned (its
// process stopped) and is reported as failed, and a new one may start.
const previewTimeout = 2 * time.Minute

func noLifecyclePolicy(key metadata.RepoKey) error {
	return &NotFoundError{Kind: KindLifecyclePolicy, Key: key}
}

// parsePolicy validates a policy text as ECR does, with the registry's
// extensions.
func (r *Registry) parsePolicy(ctx context.Context, scope metadata.Scope, text string) (lifecycle.Policy, error) {
	ext, err := r.accountSetting(ctx, scope, settingExpireSincePulled)
	if err != nil {
		return lifecycle.Policy{}, err
	}
	p, err := lifecycle.Parse(text, lifecycle.Options{AllowExpireSincePulled: ext == "ENABLED"})
	var ve *lifecycle.ValidationError
	if errors.As(err, &ve) {
		return p, &ParamError{Field: "LifecyclePolicyText", Constraint: ve.Error()}
	}
	return p, err
}

// PutLifecyclePolicy validates and sets a repository's lifecycle policy.
func (r *Registry) PutLifecyclePolicy(ctx context.Context, key metadata.RepoKey, text string) (metadata.LifecyclePolicy, error) {
	repo, err := r.repositoryFor(ctx, ActionPutLifecyclePolicy, key)
	if err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	if _, err := r.parsePolicy(ctx, key.Scope, text); err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := tx.PutLifecyclePolicy(ctx, repo.ID, text, now); err != nil {
			return err
		}
		return r.record(ctx, tx, key.Scope, now, ActionPutLifecyclePolicy, map[string]any{"repositoryName": key.Name, "lifecyclePolicyText": text}, RepositoryARN(key))
	})
	if err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	return metadata.LifecyclePolicy{RepoID: repo.ID, Repo: repo.Key, Text: text}, nil
}

// LifecyclePolicy returns a repository's lifecycle policy.
func (r *Registry) LifecyclePolicy(ctx context.Context, key metadata.RepoKey) (metadata.LifecyclePolicy, error) {
	repo, err := r.repositoryFor(ctx, ActionGetLifecyclePolicy, key)
	if err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	return r.policyOf(ctx, repo)
}

func (r *Registry) policyOf(ctx context.Context, repo metadata.Repository) (metadata.LifecyclePolicy, error) {
	p, err := r.meta.LifecyclePolicy(ctx, repo.ID)
	if errors.Is(err, metadata.ErrNotFound) {
		return p, noLifecyclePolicy(repo.Key)
	}
	return p, err
}

// DeleteLifecyclePolicy removes a repository's lifecycle policy and
// returns what it was.
func (r *Registry) DeleteLifecyclePolicy(ctx context.Context, key metadata.RepoKey) (metadata.LifecyclePolicy, error) {
	repo, err := r.repositoryFor(ctx, ActionDeleteLifecyclePolicy, key)
	if err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	var p metadata.LifecyclePolicy
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if p, err = tx.LifecyclePolicy(ctx, repo.ID); err != nil {
			return err
		}
		if err := tx.DeleteLifecyclePolicy(ctx, repo.ID); err != nil {
			return err
		}
		return r.record(ctx, tx, key.Scope, now, ActionDeleteLifecyclePolicy, map[string]any{"repositoryName": key.Name}, RepositoryARN(key))
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return p, noLifecyclePolicy(key)
	}
	return p, err
}

// PreviewResult is one image a lifecycle policy preview would act on.
type PreviewResult struct {
	Digest       string           `json:"digest"`
	Tags         []string         `json:"tags,omitempty"`
	PushedAt     time.Time        `json:"pushedAt"`
	StorageClass string           `json:"storageClass"`
	Action       lifecycle.Action `json:"action"`
	RulePriority int              `json:"rulePriority"`
}

// Preview is a repository's latest lifecycle policy preview.
type Preview struct {
	Repo       metadata.RepoKey
	Text       string
	Status     string
	EvaluateAt time.Time
	Results    []PreviewResult
	// Summary counts the actions of all the results.
	Summary PreviewSummary
}

// StartLifecyclePolicyPreview evaluates a policy (text, or the
// repository's own when text is empty) over the repository as it will be
// at time at (zero: now) without acting on anything. Beyond ECR, at may lie
// in the future: "what will this policy expire on the first of next
// month?". The preview runs in the background; the call waits briefly so
// that a small repository's preview is complete when it returns.
func (r *Registry) StartLifecyclePolicyPreview(ctx context.Context, key metadata.RepoKey, text string, at time.Time) (Preview, error) {
	repo, err := r.repositoryFor(ctx, ActionStartLifecyclePreview, key)
	if err != nil {
		return Preview{}, err
	}
	now := r.now()
	if at.IsZero() {
		at = now
	} else if at.Before(now.Add(-time.Minute)) {
		return Preview{}, errorf(CodeInvalidParameter, "evaluateAt %s is in the past: give a time from now on, or leave it out to preview now", at.Format(time.RFC3339))
	}
	if text == "" {
		p, err := r.policyOf(ctx, repo)
		if err != nil {
			return Preview{}, err
		}
		text = p.Text
	}
	policy, err := r.parsePolicy(ctx, key.Scope, text)
	if err != nil {
		return Preview{}, err
	}
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		old, err := tx.LifecyclePreview(ctx, repo.ID)
		if err == nil && old.Status == PreviewInProgress && now.Sub(old.StartedAt) < previewTimeout {
			return &ConflictError{Conflict: ConflictPreviewInProgress, Key: key}
		}
		if err != nil && !errors.Is(err, metadata.ErrNotFound) {
			return err
		}
		if err := tx.PutLifecyclePreview(ctx, metadata.LifecyclePreview{RepoID: repo.ID, Text: text, Status: PreviewInProgress, StartedAt: now, EvaluateAt: at}); err != nil {
			return err
		}
		params := map[string]any{"repositoryName": key.Name, "lifecyclePolicyText": text}
		if !at.Equal(now) {
			params["evaluateAt"] = at.UTC().Format(time.RFC3339)
		}
		return r.record(ctx, tx, key.Scope, now, ActionStartLifecyclePreview, params, RepositoryARN(key))
	})
	if err != nil {
		return Preview{}, err
	}
	r.previews.drop(repo.ID)
	done := make(chan struct{})
	r.background.Go(func() {
		defer close(done)
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), previewTimeout)
		defer cancel()
		r.runPreview(bg, repo, policy, metadata.LifecyclePreview{RepoID: repo.ID, Text: text, StartedAt: now, EvaluateAt: at})
	})
	select {
	case <-done:
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	return r.preview(ctx, repo)
}

// runPreview evaluates a preview and stores its outcome.
func (r *Registry) runPreview(ctx context.Context, repo metadata.Repository, policy lifecycle.Policy, p metadata.LifecyclePreview) {
	images, decisions, err := lifecyclerun.Evaluate(ctx, r.meta, repo, policy, p.EvaluateAt)
	p.Status = PreviewComplete
	if err == nil {
		p.Results, err = encodePreviewResults(len(decisions), func(i int) PreviewResult {
			d := decisions[i]
			img := &images[d.Image]
			return PreviewResult{
				Digest: d.Digest, Tags: img.Tags, PushedAt: img.PushedAt, StorageClass: img.StorageClass,
				Action: d.Action, RulePriority: d.RulePriority,
			}
		})
	}
	if err != nil {
		r.log.Error("lifecycle policy preview failed", "repository", repo.Key.Name, "err", err)
		p.Status, p.Results = PreviewFailed, nil
	}
	images, decisions = nil, nil // what storing the results no longer needs
	if err := r.meta.Update(ctx, func(tx metadata.Tx) error { return tx.PutLifecyclePreview(ctx, p) }); err != nil {
		r.log.Error("storing lifecycle policy preview", "repository", repo.Key.Name, "err", err)
	}
}

// LifecyclePolicyPreview returns a repository's latest preview.
func (r *Registry) LifecyclePolicyPreview(ctx context.Context, key metadata.RepoKey) (Preview, error) {
	repo, err := r.repositoryFor(ctx, ActionGetLifecyclePreview, key)
	if err != nil {
		return Preview{}, err
	}
	return r.preview(ctx, repo)
}

func (r *Registry) preview(ctx context.Context, repo metadata.Repository) (Preview, error) {
	p, err := r.meta.LifecyclePreview(ctx, repo.ID)
	if errors.Is(err, metadata.ErrNotFound) {
		return Preview{}, &NotFoundError{Kind: KindLifecyclePreview, Key: repo.Key}
	}
	if err != nil {
		return Preview{}, err
	}
	out := Preview{Repo: repo.Key, Text: p.Text, Status: p.Status, EvaluateAt: p.EvaluateAt}
	if p.Status == PreviewInProgress && r.now().Sub(p.StartedAt) >= previewTimeout {
		out.Status = PreviewFailed
	}
	if p.Status == PreviewComplete {
		if out.Results, out.Summary, err = r.previews.results(ctx, r.meta, p); err != nil {
			return Preview{}, fmt.Errorf("stored preview of %s: %w", repo.Key.Name, err)
		}
	}
	return out, nil
}

// PreviewFilter selects the results of a preview page.
type PreviewFilter struct {
	Tags TagStatus // "" or TagStatusAny for all
	// IDs, when given, selects the results of these images.
	IDs []ImageID
}

func (f PreviewFilter) match(r PreviewResult) bool {
	switch f.Tags {
	case TagStatusTagged:
		if len(r.Tags) == 0 {
			return false
		}
	case TagStatusUntagged:
		if len(r.Tags) > 0 {
			return false
		}
	}
	return len(f.IDs) == 0 || slices.ContainsFunc(f.IDs, func(id ImageID) bool {
		return (id.Digest == "" || id.Digest == r.Digest) && (id.Tag == "" || slices.Contains(r.Tags, id.Tag))
	})
}

// PreviewSummary counts a preview's actions, whatever the filter.
type PreviewSummary struct {
	Expiring, Archiving int
}

// LifecyclePolicyPreviewPage returns a repository's latest preview with
// one page of its results that pass filter (at most max, ECR's 100 by
// default), the summary of all its results, and the token of the next
// page.
func (r *Registry) LifecyclePolicyPreviewPage(ctx context.Context, key metadata.RepoKey, filter PreviewFilter, token string, max int) (Preview, PreviewSummary, string, error) {
	p, err := r.LifecyclePolicyPreview(ctx, key)
	if err != nil {
		return p, PreviewSummary{}, "", err
	}
	sum := p.Summary
	after, err := decodeToken(token)
	if err != nil {
		return p, sum, "", err
	}
	start := 0
	if after != "" {
		if start, err = strconv.Atoi(after); err != nil || start < 0 || start > len(p.Results) {
			return p, sum, "", errBadToken
		}
	}
	if max <= 0 {
		max = 100
	}
	// The token is a position in the stored results, so that a page costs
	// what it returns, plus the skipped results a filter leaves out.
	var page []PreviewResult
	next, i := "", start
	for ; i < len(p.Results) && len(page) < max; i++ {
		if filter.match(p.Results[i]) {
			page = append(page, p.Results[i])
		}
	}
	for ; i < len(p.Results); i++ {
		if filter.match(p.Results[i]) {
			next = encodeToken(strconv.Itoa(i))
			break
		}
	}
	p.Results = page
	return p, sum, next, nil
}

// Preview results are stored gzip-compressed JSON (a preview of 100,000
// images is 20 MB of JSON, about a third of that compressed), encoded and
// decoded as streams so that neither side holds the whole text. The
// encoder takes the results one at a time (result(i) for i < n), so that
// a preview never holds them all built. Results stored by earlier
// versions, plain JSON, still decode.
func encodePreviewResults(n int, result func(i int) PreviewResult) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	if _, err := io.WriteString(zw, "["); err != nil {
		return nil, err
	}
	for i := range n {
		if i > 0 {
			if _, err := io.WriteString(zw, ","); err != nil {
				return nil, err
			}
		}
		if err := enc.Encode(result(i)); err != nil {
			return nil, err
		}
	}
	if _, err := io.WriteString(zw, "]"); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodePreviewResults(b []byte) ([]PreviewResult, error) {
	var rd io.Reader = bytes.NewReader(b)
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	}
	var out []PreviewResult
	err := json.NewDecoder(rd).Decode(&out)
	return out, err
}

// previewCache keeps the decoded results of the latest previews, so that
// paging through a preview of many images (100 a page) decodes it once,
// not once a page. It holds one preview per repository, the latest (a
// new preview replaces the entry of the one before), and at most
// previewCacheResults results in all.
type previewCache struct {
	mu      sync.Mutex
	entries map[int64]decodedPreview // by repository ID
}

type decodedPreview struct {
	started time.Time // which preview of the repository
	results []PreviewResult
	summary PreviewSummary
}

// previewCacheResults bounds the results the cache holds decoded: a few
// previews of 100,000 images.
const previewCacheResults = 250_000

// drop forgets a repository's decoded results: a new preview of it is
// starting, and the old results would stay held through its evaluation.
func (c *previewCache) drop(repoID int64) {
	c.mu.Lock()
	delete(c.entries, repoID)
	c.mu.Unlock()
}

// results returns a complete preview's results and their summary, reading
// and decoding them only when they are not decoded yet.
func (c *previewCache) results(ctx context.Context, rd metadata.Reader, p metadata.LifecyclePreview) ([]PreviewResult, PreviewSummary, error) {
	c.mu.Lock()
	d, ok := c.entries[p.RepoID]
	if ok && !d.started.Equal(p.StartedAt) {
		// An earlier preview's: let it go before decoding its successor,
		// so that a repository's results are never held twice.
		delete(c.entries, p.RepoID)
	}
	c.mu.Unlock()
	if ok && d.started.Equal(p.StartedAt) {
		return d.results, d.summary, nil
	}
	b, err := rd.LifecyclePreviewResults(ctx, p.RepoID)
	if err != nil {
		return nil, PreviewSummary{}, err
	}
	d = decodedPreview{started: p.StartedAt}
	if d.results, err = decodePreviewResults(b); err != nil {
		return nil, PreviewSummary{}, err
	}
	for _, res := range d.results {
		if res.Action.Type == lifecycle.ActionExpire {
			d.summary.Expiring++
		} else {
			d.summary.Archiving++
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[int64]decodedPreview{}
	}
	delete(c.entries, p.RepoID)
	held := len(d.results)
	for _, e := range c.entries {
		held += len(e.results)
	}
	for id, e := range c.entries {
		if held <= previewCacheResults {
			break
		}
		delete(c.entries, id)
		held -= len(e.results)
	}
	if len(d.results) <= previewCacheResults {
		c.entries[p.RepoID] = d
	}
	return d.results, d.summary, nil
}

// LifecycleReport says what a lifecycle run did.
type LifecycleReport = lifecyclerun.Report

// RunLifecyclePolicies runs the lifecycle policies of a registry's
// repositories now (only the named repository's, if name is not empty).
func (r *Registry) RunLifecyclePolicies(ctx context.Context, scope metadata.Scope, name string) (LifecycleReport, error) {
	if name == "" {
		if err := r.authorize(ctx, ActionRunLifecyclePolicy, scope, nil, "*"); err != nil {
			return LifecycleReport{}, err
		}
	} else {
		repo, err := r.repositoryFor(ctx, ActionRunLifecyclePolicy, metadata.RepoKey{Scope: scope, Name: name})
		if err != nil {
			return LifecycleReport{}, err
		}
		if _, err := r.policyOf(ctx, repo); err != nil {
			return LifecycleReport{}, err
		}
	}
	actor := "ecrd"
	if p, ok := identity.FromContext(ctx); ok {
		actor = p.ARN
	}
	report, err := r.lifecycle.Run(ctx, actor, func(p metadata.LifecyclePolicy) bool {
		return p.Repo.Scope == scope && (name == "" || p.Repo.Name == name)
	})
	err = jobError(err)
	r.stats.countLifecycle(report, err)
	return report, err
}

// runDueLifecyclePolicies runs the policies that are due (see
// internal/registry/lifecyclerun).
func (r *Registry) runDueLifecyclePolicies(ctx context.Context) (LifecycleReport, error) {
	report, err := r.lifecycle.RunDue(ctx)
	err = jobError(err)
	r.stats.countLifecycle(report, err)
	return report, err
}

// lifecycleView is what lifecycle runs need of the registry.
type lifecycleView struct{ r *Registry }

var _ lifecyclerun.Core = lifecycleView{}

func (v lifecycleView) ParsePolicy(ctx context.Context, scope metadata.Scope, text string) (lifecycle.Policy, error) {
	return v.r.parsePolicy(ctx, scope, text)
}

// Expire deletes an image through the delete path of BatchDeleteImage.
func (v lifecycleView) Expire(ctx context.Context, tx metadata.Tx, repo metadata.Repository, img metadata.Image, tags []string, now time.Time) (bool, error) {
	err := deleteImageID(ctx, tx, repo.ID, ImageID{Digest: string(img.Digest)}, img)
	var held *ImageFailure
	if errors.As(err, &held) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, imageActions(ctx, tx, repo.Key, now, string(img.Digest), "DELETE", tags)
}

func (v lifecycleView) Archive(ctx context.Context, tx metadata.Tx, repo metadata.Repository, img metadata.Image, tags []string, now time.Time) error {
	if err := tx.SetImageStorage(ctx, repo.ID, img.Digest, metadata.StorageArchive, now, img.LastActivatedAt); err != nil {
		return err
	}
	return storageClassEvents(ctx, tx, repo.Key, img, metadata.StorageArchive, img.LastActivatedAt, tags, now)
}

// RecordRun records a run's actions as CloudTrail's PolicyExecutionEvent,
// an "AWS Service Event via CloudTrail": ECR acting on its own, whoever
// started the run, with the policy's rules and each image acted on, ten
// images to an event as ECR splits them.
func (v lifecycleView) RecordRun(ctx context.Context, tx metadata.Tx, repo metadata.Repository, policy lifecycle.Policy, applied []lifecyclerun.Applied, now time.Time) error {
	rules := make([]map[string]any, 0, len(policy.Rules))
	for _, rule := range policy.Rules {
		sel := map[string]any{"tagStatus": ctTagStatus(rule.Selection.TagStatus), "countType": ctCountType[rule.Selection.CountType],
			"countNumber": rule.Selection.CountNumber}
		if len(rule.Selection.TagPrefixList) > 0 {
			sel["tagPrefixList"] = rule.Selection.TagPrefixList
		}
		if len(rule.Selection.TagPatternList) > 0 {
			sel["tagPatternList"] = rule.Selection.TagPatternList
		}
		if rule.Selection.CountUnit != "" {
			sel["countUnit"] = rule.Selection.CountUnit
		}
		rules = append(rules, map[string]any{"rulePriority": rule.Priority, "description": rule.Description,
			"lifecycleEventSelection": sel, "action": string(rule.Action.Type)})
	}
	text, _ := json.Marshal(policy)
	sum := sha256.Sum256(text)
	pol := map[string]any{"lifecycleEventRules": rules, "lastEvaluatedAt": now.UnixMilli(), "policyVersion": 1,
		"policyId": hex.EncodeToString(sum[:8])}
	for chunk := range slices.Chunk(applied, 10) {
		actions := make([]map[string]any, 0, len(chunk))
		for _, a := range chunk {
			status := "Untagged"
			if len(a.Tags) > 0 {
				status = "Tagged"
			}
			tags := a.Tags
			if len(tags) > 100 {
				tags = tags[:100] // ECR lists at most 100 tags of an image
			}
			actions = append(actions, map[string]any{"rulePriority": a.RulePriority, "action": string(a.Action.Type),
				"lifecycleEventImage": map[string]any{"digest": a.Digest, "tagStatus": status, "tagList": tags, "pushedAt": a.PushedAt.UnixMilli()}})
		}
		e, err := outbox.ServiceEvent(repo.Key.Scope, now, outbox.SourceECR, ecrService, "PolicyExecutionEvent", map[string]any{
			"repositoryName": repo.Key.Name, "lifecycleEventPolicy": pol, "lifecycleEventImageActions": actions,
		}, RepositoryARN(repo.Key))
		if err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// CloudTrail's words for a rule's selection.
var ctCountType = map[lifecycle.CountType]string{
	lifecycle.ImageCountMoreThan:     "Image count more than",
	lifecycle.SinceImagePushed:       "Since image pushed",
	lifecycle.SinceImagePulled:       "Since image pulled",
	lifecycle.SinceImageTransitioned: "Since image transitioned",
}

func ctTagStatus(s lifecycle.TagStatus) string {
	switch s {
	case lifecycle.TagStatusTagged:
		return "Tagged"
	case lifecycle.TagStatusUntagged:
		return "Untagged"
	}
	return "Any"
}

// Changed drops the repository's cached manifests (see cache).
func (v lifecycleView) Changed(repoID int64) { v.r.cache.invalidate(repoID) }
