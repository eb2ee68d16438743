package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/ecrhost"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/reference"
	"github.com/ecrd/ecrd/internal/upstream"
)

// The pull-through cache: a pull that misses in a repository whose name
// falls under a pull-through cache rule of its registry brings the
// content from the rule's upstream (see docs/pull-through-cache.md).
//
//   - A manifest (by tag or digest) is fetched with, for an index, all its
//     children, and the referrers the upstream lists, and stored exactly
//     as received (its digest unchanged) through putImage, in a context
//     marked as a pull-through (withPullThrough): the caller's writes are
//     authorized as ecr:BatchImportUpstreamImage, a missing repository is
//     created from the PULL_THROUGH_CACHE creation template or with
//     defaults (ecr:CreateRepository), and the store records an "ECR Pull
//     Through Cache Action" event in its transaction.
//   - A cached manifest may reference blobs not fetched yet: they come on
//     their first GET. That is safe because garbage collection only frees
//     what nothing references (a blob's link, or its bytes, with no image
//     referring to it past the grace period, see internal/registry/gc); a
//     reference to a blob that is not there frees nothing and breaks
//     nothing, and the blob, once fetched through ingest (record, durable,
//     link), is referenced from the start.
//   - A blob is fetched once however many pull it at once: the first GET
//     starts a download that writes the upload and a local spool file;
//     every GET of the same blob meanwhile streams from the spool as it
//     grows (download.follow). Across processes sharing the stores, a
//     lease per blob makes the others wait for the first and then serve
//     what it stored. Manifests go through a singleflight.Group.
//   - Freshness is ECR's: a cached tag is checked upstream (a HEAD) at
//     most once every 24 hours, on pull; content by digest is never
//     fetched again. When the upstream is in trouble (429, 5xx, timeouts,
//     unreachable) cached content is served; what is not cached fails
//     with CodeUpstreamImage or CodeUpstreamLayer, with the upstream's
//     reason.

// tagCheckInterval is how often a cached tag is checked upstream (ECR's
// 24 hours).
const tagCheckInterval = 24 * time.Hour

// tagRetryInterval is how soon a tag whose check failed (the upstream in
// trouble) is checked again.
const tagRetryInterval = time.Minute

// credentialTTL is how long an upstream credential read from its secret
// is used before it is read again.
const credentialTTL = 5 * time.Minute

// rulesTTL is how long the rules a cached pull reads are kept; a miss
// always reads them afresh.
const rulesTTL = 10 * time.Second

// fetchTimeout bounds one upstream fetch, detached from the request that
// started it (others may be waiting on it).
const fetchTimeout = 30 * time.Minute

// settingTagChecked prefixes the account setting that holds when a cached
// tag was last checked upstream: ecrd:ptc-checked:<repository>:<tag>.
const settingTagChecked = "ecrd:ptc-checked:"

// eventPullThroughCache is the detail type of a cache action's event.
const eventPullThroughCache = "ECR Pull Through Cache Action"

// pullThroughCache is the registry's cache state.
type pullThroughCache struct {
	client    *upstream.Client
	manifests singleflight.Group
	checks    singleflight.Group

	mu        sync.Mutex
	downloads map[downloadKey]*download
	creds     map[string]credEntry
	rules     map[metadata.Scope]rulesEntry
	checked   map[checkKey]time.Time
}

type downloadKey struct {
	repo int64
	d    digest.Digest
}

type checkKey struct {
	repo int64
	tag  string
}

type credEntry struct {
	ep      upstream.Endpoint
	fetched time.Time
}

type rulesEntry struct {
	rules []PullThroughCacheRule
	read  time.Time
}

func newPullThroughCache(opts Options) *pullThroughCache {
	return &pullThroughCache{
		client:    upstream.New(upstream.Options{Insecure: opts.InsecureUpstreams}),
		downloads: map[downloadKey]*download{},
		creds:     map[string]credEntry{},
		rules:     map[metadata.Scope]rulesEntry{},
		checked:   map[checkKey]time.Time{},
	}
}

// pullThrough is what a pull-through's writes carry in their context.
type pullThrough struct {
	rule     PullThroughCacheRule
	upstream string // the upstream repository
}

type pullThroughKey struct{}

func withPullThrough(ctx context.Context, p pullThrough) context.Context {
	return context.WithValue(ctx, pullThroughKey{}, p)
}

func pullThroughOf(ctx context.Context) (pullThrough, bool) {
	p, ok := ctx.Value(pullThroughKey{}).(pullThrough)
	return p, ok
}

// pullThroughActions are the write actions a pull-through takes; each is
// authorized as ecr:BatchImportUpstreamImage.
var pullThroughActions = map[Action]bool{
	ActionInitiateLayerUpload: true,
	ActionCompleteLayerUpload: true,
	ActionPutImage:            true,
	ActionUploadLayerPart:     true,
}

type cacheFetchKey struct{}

// AsCacheFetch marks ctx as a pull-through cache's fetch from a registry
// of this deployment (upstream.FetchHeader): it is served from what the
// registry holds, no rule of its own going upstream, so that rules
// pointing at each other's registries cannot loop.
func AsCacheFetch(ctx context.Context) context.Context {
	return context.WithValue(ctx, cacheFetchKey{}, true)
}

// ruleFor returns the rule a repository falls under (none for a cache's
// fetch: see AsCacheFetch); fresh reads the rules from the metadata
// store, otherwise rules read within rulesTTL serve.
func (r *Registry) ruleFor(ctx context.Context, key metadata.RepoKey, fresh bool) (pullThrough, bool, error) {
	if ctx.Value(cacheFetchKey{}) != nil {
		return pullThrough{}, false, nil
	}
	c := r.ptc
	now := r.now()
	c.mu.Lock()
	e, ok := c.rules[key.Scope]
	c.mu.Unlock()
	if fresh || !ok || now.Sub(e.read) > rulesTTL {
		rules, err := pullThroughRules(ctx, r.meta, key.Scope)
		if err != nil {
			return pullThrough{}, false, err
		}
		e = rulesEntry{rules: rules, read: now}
		c.mu.Lock()
		c.rules[key.Scope] = e
		c.mu.Unlock()
	}
	rule, up, found := pullThroughRuleFor(e.rules, key.Name)
	return pullThrough{rule: rule, upstream: up}, found, nil
}

// endpoint returns a rule's upstream with its credentials: read from the
// rule's secret at most once every credentialTTL, or a session of its
// customRoleArn (roleEndpoint).
func (r *Registry) endpoint(ctx context.Context, scope metadata.Scope, rule PullThroughCacheRule) (upstream.Endpoint, error) {
	ep, err := r.bareEndpoint(rule)
	switch {
	case err != nil:
		return ep, err
	case rule.CustomRoleARN != "":
		return r.roleEndpoint(ctx, scope, rule, ep)
	case rule.CredentialARN == "":
		return ep, nil
	}
	return r.withCredentials(scope.Account+"\x00"+rule.CredentialARN, ep, func() (upstream.Endpoint, error) {
		if r.opts.UpstreamCredentials == nil {
			return ep, errorf(CodeUpstreamImage, "the pull-through cache rule %q names the secret %s, and this server reads no secrets", rule.Prefix, rule.CredentialARN)
		}
		text, err := r.opts.UpstreamCredentials(ctx, scope.Account, rule.CredentialARN)
		if err != nil {
			return ep, errorf(CodeUpstreamImage, "reading the upstream credentials of pull-through cache rule %q from %s: %v", rule.Prefix, rule.CredentialARN, err)
		}
		user, token, err := ParseUpstreamCredential(text)
		if err != nil {
			return ep, errorf(CodeUpstreamImage, "the secret %s of pull-through cache rule %q: %v", rule.CredentialARN, rule.Prefix, err)
		}
		ep.Username, ep.Password = user, token
		return ep, nil
	})
}

// withCredentials returns the endpoint kept under k if it was fetched
// within credentialTTL for ep's host, or fetch's, which it keeps.
func (r *Registry) withCredentials(k string, ep upstream.Endpoint, fetch func() (upstream.Endpoint, error)) (upstream.Endpoint, error) {
	c := r.ptc
	now := r.now()
	c.mu.Lock()
	e, ok := c.creds[k]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < credentialTTL && e.ep.Host == ep.Host {
		return e.ep, nil
	}
	ep, err := fetch()
	if err != nil {
		return ep, err
	}
	c.mu.Lock()
	c.creds[k] = credEntry{ep: ep, fetched: now}
	c.mu.Unlock()
	return ep, nil
}

// bareEndpoint is a rule's upstream without credentials: its URL's host,
// the scheme dropped. Whether the host is reached over plain HTTP is the
// insecure-upstreams setting's to say; a rule that asks for http:// of a
// host not in it is refused rather than reached over HTTPS.
func (r *Registry) bareEndpoint(rule PullThroughCacheRule) (upstream.Endpoint, error) {
	host, plain := strings.CutPrefix(rule.UpstreamRegistryURL, "http://")
	if !plain {
		host = strings.TrimPrefix(host, "https://")
	}
	if plain && !r.ptc.client.Insecure(host) {
		return upstream.Endpoint{}, errorf(CodeUpstreamImage, "the pull-through cache rule %q names %s, and this server reaches %s over HTTPS only (it is not among the insecure upstreams)",
			rule.Prefix, rule.UpstreamRegistryURL, host)
	}
	return upstream.Endpoint{Host: host}, nil
}

// ptcService is the service principal the pull-through cache assumes a
// rule's customRoleArn as, AWS's for ECR's pull-through cache.
const ptcService = "pullthroughcache.ecr.amazonaws.com"

// ptcSessionName names the cache's sessions of a customRoleArn, as they
// appear in the upstream's audit trail.
const ptcSessionName = "ecr-pull-through-cache"

// roleEndpoint gives an ECR upstream the credentials of a session of the
// rule's customRoleArn, which the cache assumes as ptcService in the
// rule's account (the role's trust policy must allow it). The upstream
// must be a registry of this deployment: an ECR-shaped host
// (<account>.dkr.ecr.<region>.<domain>) whose region no other deployment
// serves. Its requests go to this server itself (Options.Self), the host
// naming the upstream's account and region, with a registry token of the
// session as password: the upstream authorizes the role's session as it
// would any client's (its repository and registry policies, the role's
// own policies). Sessions are kept for credentialTTL.
func (r *Registry) roleEndpoint(ctx context.Context, scope metadata.Scope, rule PullThroughCacheRule, ep upstream.Endpoint) (upstream.Endpoint, error) {
	h, ok := ecrhost.Parse(ep.Host)
	if !ok {
		return ep, errorf(CodeUpstreamImage, "the pull-through cache rule %q assumes %s for %s, which is not an ECR registry host (<account>.dkr.ecr.<region>.<domain>)", rule.Prefix, rule.CustomRoleARN, ep.Host)
	}
	if r.opts.RemoteRegion != nil && r.opts.RemoteRegion(h.Region) {
		return ep, errorf(CodeUpstreamImage, "the pull-through cache rule %q assumes %s for %s, in region %s, which another deployment serves: a role of this deployment has no session there", rule.Prefix, rule.CustomRoleARN, ep.Host, h.Region)
	}
	if r.opts.Self == "" || r.ids == nil {
		return ep, errorf(CodeUpstreamImage, "the pull-through cache rule %q assumes %s, and this server has no way to its own registries", rule.Prefix, rule.CustomRoleARN)
	}
	return r.withCredentials(scope.Account+"\x00role\x00"+rule.CustomRoleARN, ep, func() (upstream.Endpoint, error) {
		p, err := r.ids.AssumeRoleForService(ctx, identity.ServiceRoleInput{
			Service: ptcService, RoleARN: rule.CustomRoleARN, SessionName: ptcSessionName,
			SourceAccount: scope.Account, Region: scope.Region,
		})
		if err != nil {
			return ep, errorf(CodeUpstreamImage, "the pull-through cache rule %q cannot assume its role: %v", rule.Prefix, err)
		}
		ep.Username = "AWS"
		ep.Password, _ = r.ids.IssueRegistryToken(p, h.Region)
		ep.Via = r.opts.Self
		return ep, nil
	})
}

// CheckUpstream tries a rule's upstream: its /v2/ endpoint, logging in
// with credential (the secret's value as ECR documents it, a JSON object
// {"username": ..., "accessToken": ...}; "" for none), or as the rule's
// customRoleArn, where it asks for it. It serves
// ValidatePullThroughCacheRule.
func (r *Registry) CheckUpstream(ctx context.Context, scope metadata.Scope, rule PullThroughCacheRule, credential string) error {
	ep, err := r.bareEndpoint(rule)
	if err != nil {
		return err
	}
	switch {
	case rule.CustomRoleARN != "":
		if ep, err = r.roleEndpoint(ctx, scope, rule, ep); err != nil {
			return err
		}
	case credential != "":
		user, token, err := ParseUpstreamCredential(credential)
		if err != nil {
			return err
		}
		ep.Username, ep.Password = user, token
	}
	if err := r.ptc.client.Ping(ctx, ep); err != nil {
		// Without credentials, an upstream that asks for them at /v2/ is
		// still a fine upstream: many answer anonymous pulls per
		// repository (public images, Bearer tokens for nobody).
		if credential == "" && rule.CustomRoleARN == "" && upstream.KindOf(err) == upstream.KindDenied {
			return nil
		}
		return upstreamError(CodeUpstreamImage, err, rule.UpstreamRegistryURL, "")
	}
	return nil
}

// ParseUpstreamCredential reads an upstream credential as ECR stores it
// in Secrets Manager: {"username": ..., "accessToken": ...}.
func ParseUpstreamCredential(text string) (username, accessToken string, err error) {
	var v struct {
		Username    string `json:"username"`
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal([]byte(text), &v); err != nil || v.Username == "" || v.AccessToken == "" {
		return "", "", errorf(CodeInvalidParameter, "the secret's value must be a JSON object with a username and an accessToken")
	}
	return v.Username, v.AccessToken, nil
}

// upstreamError makes an upstream failure a registry error: code (the
// image's or the layer's) with the upstream's reason.
func upstreamError(code Code, err error, host, what string) error {
	if what != "" {
		what = " " + what
	}
	return errorf(code, "unable to get%s from upstream registry %s: %v", what, host, err)
}

// pullThroughManifest brings a manifest that is not in repository key
// (repo, if it exists) from the upstream of the rule key falls under. ok
// is false when no rule applies: the miss stands.
func (r *Registry) pullThroughManifest(ctx context.Context, key metadata.RepoKey, repo *metadata.Repository, ref reference.Reference) (metadata.Image, bool, error) {
	pt, ok, err := r.ruleFor(ctx, key, true)
	if err != nil || !ok {
		return metadata.Image{}, false, err
	}
	if err := r.authorizeImport(ctx, key, repo); err != nil {
		return metadata.Image{}, true, err
	}
	flight := key.Account + "/" + key.Region + "/" + key.Name + "@" + ref.String()
	v, err, _ := r.ptc.manifests.Do(flight, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return r.cacheImage(fctx, key, pt, ref.String(), ref.Tag)
	})
	if err != nil {
		return metadata.Image{}, true, err
	}
	return v.(metadata.Image), true, nil
}

// authorizeImport checks that the caller may bring content into the
// repository from its upstream, and create the repository if it does
// not exist yet.
func (r *Registry) authorizeImport(ctx context.Context, key metadata.RepoKey, repo *metadata.Repository) error {
	if err := r.authorizeRepo(ctx, ActionBatchImportUpstreamImage, key, repo); err != nil {
		return err
	}
	if repo == nil {
		return r.authorizeRepo(ctx, ActionCreateRepository, key, nil)
	}
	return nil
}

// cacheImage fetches manifest ref of the upstream repository (with an
// index's children, and referrers) and stores it under tag (if any).
func (r *Registry) cacheImage(ctx context.Context, key metadata.RepoKey, pt pullThrough, ref, tag string) (metadata.Image, error) {
	ep, err := r.endpoint(ctx, key.Scope, pt.rule)
	if err != nil {
		r.pullThroughFailed(ctx, key, pt, tag, "", err)
		return metadata.Image{}, err
	}
	m, err := r.ptc.client.GetManifest(ctx, ep, pt.upstream, ref)
	if err != nil {
		if upstream.KindOf(err) == upstream.KindNotFound {
			return metadata.Image{}, errorf(CodeManifestUnknown, "manifest %s is not in repository %q, nor in %s/%s upstream: %v", ref, key.Name, pt.rule.UpstreamRegistryURL, pt.upstream, err)
		}
		r.pullThroughFailed(ctx, key, pt, tag, "", err)
		sep := ":"
		if strings.Contains(ref, ":") {
			sep = "@"
		}
		return metadata.Image{}, upstreamError(CodeUpstreamImage, err, pt.rule.UpstreamRegistryURL, "image "+pt.upstream+sep+ref)
	}
	pctx := withPullThrough(ctx, pt)
	if err := r.cacheChildren(pctx, key, ep, pt, m, 0); err != nil {
		r.pullThroughFailed(ctx, key, pt, tag, m.Digest, err)
		return metadata.Image{}, err
	}
	req := putRequest{digest: m.Digest, contentType: m.MediaType, body: m.Body}
	if tag != "" {
		req.tags = []string{tag}
	}
	img, err := r.putImage(pctx, key, req)
	if err != nil {
		r.pullThroughFailed(ctx, key, pt, tag, m.Digest, err)
		return metadata.Image{}, err
	}
	if tag != "" {
		r.tagChecked(ctx, key, img.RepoID, tag, r.now())
	}
	r.cacheReferrers(pctx, key, ep, pt, img.RepoID, m.Digest)
	r.log.Info("image cached from upstream", "account", key.Account, "region", key.Region, "repository", key.Name,
		"upstream", pt.rule.UpstreamRegistryURL+"/"+pt.upstream, "reference", ref, "digest", m.Digest)
	return img, nil
}

// cacheChildren stores the child manifests of an index that the
// repository lacks, each after its own children.
func (r *Registry) cacheChildren(ctx context.Context, key metadata.RepoKey, ep upstream.Endpoint, pt pullThrough, m upstream.Manifest, depth int) error {
	parsed, err := manifest.Parse(m.MediaType, m.Body)
	if err != nil {
		return manifestError(err)
	}
	children := parsed.RequiredManifests()
	if len(children) == 0 {
		return nil
	}
	if depth > 4 {
		return errorf(CodeManifestInvalid, "the upstream's index %s nests indexes more than four deep", m.Digest)
	}
	var repoID int64
	if repo, found, err := r.lookupRepository(ctx, key); err != nil {
		return err
	} else if found {
		repoID = repo.ID
	}
	for _, c := range children {
		if repoID != 0 {
			if _, err := r.meta.Image(ctx, repoID, c.Digest); err == nil {
				continue
			}
		}
		cm, err := r.ptc.client.GetManifest(ctx, ep, pt.upstream, string(c.Digest))
		if err != nil {
			return upstreamError(CodeUpstreamImage, err, pt.rule.UpstreamRegistryURL, "manifest "+pt.upstream+"@"+string(c.Digest))
		}
		if err := r.cacheChildren(ctx, key, ep, pt, cm, depth+1); err != nil {
			return err
		}
		img, err := r.putImage(ctx, key, putRequest{digest: cm.Digest, contentType: cm.MediaType, body: cm.Body})
		if err != nil {
			return err
		}
		repoID = img.RepoID
	}
	return nil
}

// cacheReferrers brings the referrers the upstream lists for d
// (signatures, SBOMs), if it serves the referrers API. They are a
// courtesy: a failure is logged, and the pull goes on.
func (r *Registry) cacheReferrers(ctx context.Context, key metadata.RepoKey, ep upstream.Endpoint, pt pullThrough, repoID int64, d digest.Digest) {
	refs, err := r.ptc.client.Referrers(ctx, ep, pt.upstream, d)
	if err != nil {
		r.log.Warn("listing an upstream image's referrers", "repository", key.Name, "digest", d, "err", err)
		return
	}
	for _, ref := range refs {
		if _, err := r.meta.Image(ctx, repoID, ref.Digest); err == nil {
			continue
		}
		m, err := r.ptc.client.GetManifest(ctx, ep, pt.upstream, string(ref.Digest))
		if err == nil {
			err = r.cacheChildren(ctx, key, ep, pt, m, 0)
		}
		if err == nil {
			_, err = r.putImage(ctx, key, putRequest{digest: m.Digest, contentType: m.MediaType, body: m.Body})
		}
		if err != nil {
			r.log.Warn("caching an upstream image's referrer", "repository", key.Name, "digest", d, "referrer", ref.Digest, "err", err)
		}
	}
}

// ptcEvent is the detail of an "ECR Pull Through Cache Action" event.
type ptcEvent struct {
	RuleVersion string `json:"rule-version"`
	SyncStatus  string `json:"sync-status"`
	Prefix      string `json:"ecr-repository-prefix"`
	Repository  string `json:"repository-name"`
	UpstreamURL string `json:"upstream-registry-url"`
	Tag         string `json:"image-tag,omitempty"`
	Digest      string `json:"image-digest,omitempty"`
	FailureCode string `json:"failure-code,omitempty"`
	FailureText string `json:"failure-reason,omitempty"`
}

// pullThroughEvent returns the event of a cache action.
func pullThroughEvent(key metadata.RepoKey, at time.Time, pt pullThrough, tag string, d digest.Digest, failure error) (metadata.Event, error) {
	detail := ptcEvent{RuleVersion: "1", SyncStatus: "SUCCESS", Prefix: pt.rule.Prefix, Repository: key.Name,
		UpstreamURL: pt.rule.UpstreamRegistryURL, Tag: tag, Digest: string(d)}
	if failure != nil {
		detail.SyncStatus, detail.FailureCode, detail.FailureText = "FAILED", "UPSTREAM_ERROR", failure.Error()
	}
	return outbox.New(key.Scope, at, outbox.SourceECR, eventPullThroughCache, []string{RepositoryARN(key)}, detail)
}

// pullThroughFailed records the event of a cache action that failed. It
// is best effort: the pull has failed either way.
func (r *Registry) pullThroughFailed(ctx context.Context, key metadata.RepoKey, pt pullThrough, tag string, d digest.Digest, cause error) {
	now := r.now()
	e, err := pullThroughEvent(key, now, pt, tag, d, cause)
	if err == nil {
		err = r.meta.Update(context.WithoutCancel(ctx), func(tx metadata.Tx) error { return tx.AppendEvent(ctx, e) })
	}
	if err != nil {
		r.log.Warn("recording a failed pull-through's event", "repository", key.Name, "err", err)
	}
	r.log.Warn("pull through cache failed", "account", key.Account, "region", key.Region, "repository", key.Name,
		"upstream", pt.rule.UpstreamRegistryURL+"/"+pt.upstream, "tag", tag, "digest", d, "err", cause)
}

// refreshTag checks a cached tag upstream when its last check is older
// than tagCheckInterval, and brings the image it now names if it moved.
// Whatever goes wrong, the cached image is served.
func (r *Registry) refreshTag(ctx context.Context, key metadata.RepoKey, repo metadata.Repository, tag string, img metadata.Image) metadata.Image {
	pt, ok, err := r.ruleFor(ctx, key, false)
	if err != nil || !ok {
		return img
	}
	now := r.now()
	if last := r.lastTagCheck(ctx, key, repo.ID, tag, img); now.Sub(last) < tagCheckInterval {
		return img
	}
	if r.authorizeRepo(ctx, ActionBatchImportUpstreamImage, key, &repo) != nil {
		return img // this caller may only read what is cached
	}
	flight := strconv.FormatInt(repo.ID, 10) + ":" + tag
	v, err, _ := r.ptc.checks.Do(flight, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		ep, err := r.endpoint(fctx, key.Scope, pt.rule)
		if err != nil {
			return nil, err
		}
		head, err := r.ptc.client.HeadManifest(fctx, ep, pt.upstream, tag)
		if upstream.KindOf(err) == upstream.KindNotFound {
			// Gone upstream, or never there (pushed here): the tag stays
			// as it is, checked again in a day.
			r.tagChecked(fctx, key, repo.ID, tag, now)
			return img, nil
		}
		if err != nil {
			return nil, err
		}
		if head.Digest == img.Digest {
			r.tagChecked(fctx, key, repo.ID, tag, now)
			return img, nil
		}
		return r.cacheImage(fctx, key, pt, tag, tag)
	})
	if err != nil {
		// Served from the cache; checked again a little later.
		r.ptc.mu.Lock()
		r.ptc.checked[checkKey{repo.ID, tag}] = now.Add(tagRetryInterval - tagCheckInterval)
		r.ptc.mu.Unlock()
		r.log.Warn("checking a cached tag upstream failed; serving the cached image", "repository", key.Name, "tag", tag, "err", err)
		return img
	}
	return v.(metadata.Image)
}

// lastTagCheck returns when a cached tag was last checked upstream: kept
// in memory, else in its account setting, else when it was pushed.
func (r *Registry) lastTagCheck(ctx context.Context, key metadata.RepoKey, repoID int64, tag string, img metadata.Image) time.Time {
	k := checkKey{repoID, tag}
	r.ptc.mu.Lock()
	t, ok := r.ptc.checked[k]
	r.ptc.mu.Unlock()
	if ok {
		return t
	}
	t = img.PushedAt
	if v, err := r.meta.AccountSetting(ctx, key.Scope, settingTagChecked+key.Name+":"+tag); err == nil {
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			t = at // set back on purpose (SetImageTimes), it may be before the push
		}
	}
	r.ptc.mu.Lock()
	r.ptc.checked[k] = t
	r.ptc.mu.Unlock()
	return t
}

// tagChecked records a tag's check, in memory and for the other
// processes and restarts in its account setting.
func (r *Registry) tagChecked(ctx context.Context, key metadata.RepoKey, repoID int64, tag string, at time.Time) {
	r.ptc.mu.Lock()
	r.ptc.checked[checkKey{repoID, tag}] = at
	r.ptc.mu.Unlock()
	v := at.UTC().Format(time.RFC3339Nano)
	err := r.meta.Update(context.WithoutCancel(ctx), func(tx metadata.Tx) error {
		return tx.PutAccountSetting(ctx, key.Scope, settingTagChecked+key.Name+":"+tag, v)
	})
	if err != nil {
		r.log.Warn("recording a cached tag's check", "repository", key.Name, "tag", tag, "err", err)
	}
}

// download is one blob being brought from an upstream, which every pull
// of the blob meanwhile follows.
type download struct {
	mu      sync.Mutex
	cond    *sync.Cond
	spool   string // the local file readers follow; "" once done
	written int64
	size    int64 // -1 until known
	done    bool
	err     error
	started bool // the bytes come through this process (not another's lease)
}

// pullThroughBlob brings blob d, which repository repo lacks, from the
// upstream of the rule its name falls under. With follow, it returns a
// reader of the blob as it arrives (or of the stored blob); without, it
// waits until the blob is stored. ok is false when no rule applies.
func (r *Registry) pullThroughBlob(ctx context.Context, key metadata.RepoKey, repo metadata.Repository, d digest.Digest, follow bool) (metadata.Blob, io.ReadSeekCloser, bool, error) {
	pt, ok, err := r.ruleFor(ctx, key, true)
	if err != nil || !ok {
		return metadata.Blob{}, nil, false, err
	}
	k := downloadKey{repo.ID, d}
	r.ptc.mu.Lock()
	_, running := r.ptc.downloads[k]
	r.ptc.mu.Unlock()
	// Joining a download under way needs only the pull the caller was
	// authorized for: someone allowed to import started it.
	if !running {
		if err := r.authorizeImport(ctx, key, &repo); err != nil {
			return metadata.Blob{}, nil, true, err
		}
	}
	r.ptc.mu.Lock()
	dl, running := r.ptc.downloads[k]
	if !running {
		dl = &download{size: -1}
		dl.cond = sync.NewCond(&dl.mu)
		r.ptc.downloads[k] = dl
	}
	r.ptc.mu.Unlock()
	if !running {
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
			defer cancel()
			err := r.fetchBlob(withPullThrough(fctx, pt), key, pt, d, dl)
			dl.finish(err)
			r.ptc.mu.Lock()
			delete(r.ptc.downloads, k)
			r.ptc.mu.Unlock()
		}()
	}
	// Wait until the bytes flow here (size known), or the download ends.
	dl.mu.Lock()
	for !dl.done && !(dl.started && dl.size >= 0) {
		dl.cond.Wait()
	}
	if follow && !dl.done && dl.spool != "" {
		// The spool may be gone already (the download just ended): then
		// the stored blob is read.
		if f, err := os.Open(dl.spool); err == nil {
			size := dl.size
			dl.mu.Unlock()
			return metadata.Blob{Digest: d, Size: size}, &follower{dl: dl, f: f}, true, nil
		}
	}
	for !dl.done {
		dl.cond.Wait()
	}
	err = dl.err
	dl.mu.Unlock()
	if err != nil {
		return metadata.Blob{}, nil, true, err
	}
	b, err := r.meta.Blob(ctx, repo.ID, d)
	if err != nil {
		return b, nil, true, err
	}
	if !follow {
		return b, nil, true, nil
	}
	sp, err := r.spaceOf(ctx, repo.Settings)
	if err != nil {
		return b, nil, true, err
	}
	rc, err := r.openObject(ctx, sp, b)
	return b, rc, true, err
}

// fetchBlob brings a blob into the repository through ingest, writing
// it to the upload and to the download's spool as it arrives. When other
// processes share the stores, one holding the blob's lease is waited for
// instead (within a process, downloads already meet in pullThroughBlob).
func (r *Registry) fetchBlob(ctx context.Context, key metadata.RepoKey, pt pullThrough, d digest.Digest, dl *download) error {
	var l *lease.Lease
	if r.opts.Shared {
		job := "pull-through/" + key.Account + "/" + key.Region + "/" + key.Name + "@" + string(d)
		var err error
		for l, err = r.leases.Acquire(ctx, job); errors.Is(err, lease.ErrBusy); l, err = r.leases.Acquire(ctx, job) {
			// Another process is bringing it: wait for it to be stored.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			if repo, found, err := r.lookupRepository(ctx, key); err == nil && found {
				if _, err := r.meta.Blob(ctx, repo.ID, d); err == nil {
					return nil
				}
			}
		}
		if err != nil {
			return err
		}
		defer l.Release()
	}
	plan, err := r.planPush(ctx, ActionInitiateLayerUpload, key)
	if err != nil {
		return err
	}
	if plan.exists {
		if _, err := r.meta.Blob(ctx, plan.repo.ID, d); err == nil {
			return nil // another process stored it meanwhile
		}
	}
	if err := r.checkSpace(ctx); err != nil {
		return err
	}
	if _, err := r.blobSpace(ctx, plan); err != nil {
		return err
	}
	ep, err := r.endpoint(ctx, key.Scope, pt.rule)
	if err != nil {
		return errorf(CodeUpstreamLayer, "%s", err.Error())
	}
	body, size, err := r.ptc.client.GetBlob(ctx, ep, pt.upstream, d)
	if err != nil {
		if upstream.KindOf(err) == upstream.KindNotFound {
			return errorf(CodeBlobUnknown, "blob %s is not in repository %q, nor in %s/%s upstream: %v", d, key.Name, pt.rule.UpstreamRegistryURL, pt.upstream, err)
		}
		return upstreamError(CodeUpstreamLayer, err, pt.rule.UpstreamRegistryURL, "layer "+pt.upstream+"@"+string(d))
	}
	defer body.Close()
	if size > r.opts.MaxBlobSize {
		return r.tooLarge(size)
	}
	spool, err := os.CreateTemp("", "ecrd-pull-through-*")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	id := awsid.NewUUID()
	w, err := r.blobs.CreateUpload(ctx, id)
	if err != nil {
		return r.spaceError(ctx, err)
	}
	dl.mu.Lock()
	dl.spool, dl.started = spool.Name(), true
	dl.size = size
	dl.mu.Unlock()
	dl.cond.Broadcast()
	h := d.Algorithm().Hash()
	buf := make([]byte, 256<<10)
	var n int64
	for err == nil {
		var k int
		k, err = body.Read(buf)
		if k > 0 {
			chunk := buf[:k]
			if _, werr := spool.Write(chunk); werr != nil {
				err = werr
				break
			}
			if _, werr := w.Write(chunk); werr != nil {
				err = werr
				break
			}
			h.Write(chunk)
			n += int64(k)
			dl.mu.Lock()
			dl.written = n
			dl.mu.Unlock()
			dl.cond.Broadcast()
			if n > r.opts.MaxBlobSize {
				err = r.tooLarge(n)
				break
			}
			if l != nil {
				if kerr := l.Keep(ctx); kerr != nil {
					err = kerr
					break
				}
			}
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil {
		err = checkLength(n, size)
	}
	if err == nil {
		err = checkDigest(d, digest.NewDigest(d.Algorithm(), h))
	}
	if err != nil {
		w.Close()
		r.discardUpload(id)
		if CodeOf(err) == CodeInternal {
			err = upstreamError(CodeUpstreamLayer, err, pt.rule.UpstreamRegistryURL, "layer "+pt.upstream+"@"+string(d))
		}
		return err
	}
	if err := r.ingestWhole(ctx, plan, w, id, metadata.Blob{Digest: d, Size: n}); err != nil {
		return err
	}
	r.log.Info("blob cached from upstream", "account", key.Account, "region", key.Region, "repository", key.Name,
		"upstream", pt.rule.UpstreamRegistryURL+"/"+pt.upstream, "digest", d, "size", n)
	return nil
}

// finish ends a download: its readers read what is left of the spool
// (their open file outlives its removal) or get its error.
func (dl *download) finish(err error) {
	dl.mu.Lock()
	dl.done, dl.err = true, err
	dl.spool = ""
	if err == nil && dl.size < 0 {
		dl.size = dl.written
	}
	dl.mu.Unlock()
	dl.cond.Broadcast()
}

// follower reads a download's spool as it grows.
type follower struct {
	dl  *download
	f   *os.File
	pos int64
}

func (f *follower) Read(p []byte) (int, error) {
	dl := f.dl
	dl.mu.Lock()
	// The last byte ends the read without waiting for the blob to be
	// stored: the client checks the digest itself.
	for f.pos >= dl.written && !dl.done && !(dl.size >= 0 && f.pos >= dl.size) {
		dl.cond.Wait()
	}
	avail, done, err := dl.written-f.pos, dl.done, dl.err
	complete := dl.size >= 0 && f.pos >= dl.size
	dl.mu.Unlock()
	if avail <= 0 {
		if (done && err == nil) || (complete && err == nil) {
			return 0, io.EOF
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("the upstream download failed: %w", err)
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	n, rerr := f.f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if rerr == io.EOF && n > 0 {
		rerr = nil
	}
	return n, rerr
}

func (f *follower) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		f.dl.mu.Lock()
		size := f.dl.size
		f.dl.mu.Unlock()
		if size < 0 {
			return f.pos, errors.New("seek from the end of a blob of unknown size")
		}
		offset += size
	default:
		return f.pos, errors.New("bad whence")
	}
	if offset < 0 {
		return f.pos, errors.New("negative position")
	}
	f.pos = offset
	return offset, nil
}

func (f *follower) Close() error { return f.f.Close() }
