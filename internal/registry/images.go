package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reference"
)

// ImageID names an image by digest, by tag, or by both (ECR's
// ImageIdentifier).
type ImageID struct {
	Digest string
	Tag    string
}

// ImageFailure is one image of a batch call that could not be handled.
// Adapters word it (ECR's failureCode and failureReason).
type ImageFailure struct {
	ID     ImageID
	Code   FailureCode
	Detail string // see the codes
}

// FailureCode is why an image of a batch call could not be handled.
type FailureCode int

// Failure codes, named after ECR's.
const (
	FailureMissingDigestAndTag        FailureCode = iota + 1 // the ID names neither
	FailureInvalidImageDigest                                // Detail: what is wrong with the digest
	FailureInvalidImageTag                                   // Detail: what is wrong with the tag
	FailureImageNotFound                                     // no such image
	FailureImageTagDoesNotMatchDigest                        // the tag names another image than the digest
	FailureMediaTypeNotAccepted                              // Detail: the image's media type, which the request does not accept
	FailureReferencedByManifestList                          // Detail: the digest of an index that lists the image
)

func (f *ImageFailure) Error() string {
	image := "image " + strings.Trim(f.ID.Tag+"@"+f.ID.Digest, "@")
	switch f.Code {
	case FailureMissingDigestAndTag:
		return "give an image digest, a tag or both"
	case FailureInvalidImageDigest:
		return "invalid image digest: " + f.Detail
	case FailureInvalidImageTag:
		return "invalid image tag: " + f.Detail
	case FailureImageTagDoesNotMatchDigest:
		return image + ": the tag names another image"
	case FailureMediaTypeNotAccepted:
		return image + ": its media type " + f.Detail + " is not among the accepted ones (manifests are not converted)"
	case FailureReferencedByManifestList:
		return image + " is listed by index " + f.Detail + ": delete that first"
	}
	return image + " does not exist"
}

// ErrorCode returns CodeInvalidParameter: the failures a single-image
// call returns as errors are those of its parameter (see imageError).
func (f *ImageFailure) ErrorCode() Code { return CodeInvalidParameter }

// imageError is the error of a single-image call that fails as f: the
// image does not exist, or its ID is invalid.
func (f *ImageFailure) imageError(key metadata.RepoKey) error {
	if f.Code == FailureImageNotFound || f.Code == FailureImageTagDoesNotMatchDigest {
		return &NotFoundError{Kind: KindImage, Key: key, Image: f.ID}
	}
	return f
}

// TagStatus filters images by whether they have tags.
type TagStatus string

// Tag statuses, as ECR names them.
const (
	TagStatusAny      TagStatus = "ANY"
	TagStatusTagged   TagStatus = "TAGGED"
	TagStatusUntagged TagStatus = "UNTAGGED"
)

// ImageFilter selects images in ListImages and DescribeImages.
type ImageFilter struct {
	Tags TagStatus
	// Status is an image status (metadata.ImageActive and so on), or "ANY";
	// "" selects active images, as ECR does when a filter omits it.
	Status string
}

func (f ImageFilter) metadata(now time.Time) metadata.ImageFilter {
	mf := metadata.ImageFilter{Status: f.Status, Now: now}
	switch f.Status {
	case "":
		mf.Status = metadata.ImageActive
	case "ANY":
		mf.Status = ""
	}
	switch f.Tags {
	case TagStatusTagged:
		t := true
		mf.Tagged = &t
	case TagStatusUntagged:
		f := false
		mf.Tagged = &f
	}
	return mf
}

// resolve finds the image an ImageID names in a repository, or returns a
// failure.
func resolve(ctx context.Context, rd metadata.Reader, repoID int64, id ImageID) (metadata.Image, *ImageFailure) {
	fail := func(code FailureCode, detail string) (metadata.Image, *ImageFailure) {
		return metadata.Image{}, &ImageFailure{ID: id, Code: code, Detail: detail}
	}
	if id.Digest == "" && id.Tag == "" {
		return fail(FailureMissingDigestAndTag, "")
	}
	var byDigest metadata.Image
	if id.Digest != "" {
		d, err := reference.ParseDigest(id.Digest)
		if err != nil {
			return fail(FailureInvalidImageDigest, err.Error())
		}
		if byDigest, err = rd.Image(ctx, repoID, d); err != nil {
			return fail(FailureImageNotFound, "")
		}
	}
	if id.Tag == "" {
		return byDigest, nil
	}
	if err := reference.ValidateTag(id.Tag); err != nil {
		return fail(FailureInvalidImageTag, err.Error())
	}
	img, err := rd.Tag(ctx, repoID, id.Tag)
	if err != nil {
		return fail(FailureImageNotFound, "")
	}
	if id.Digest != "" && img.Digest != byDigest.Digest {
		return fail(FailureImageTagDoesNotMatchDigest, "")
	}
	return img, nil
}

// ListImages lists a repository's image IDs (one per tag, one for each
// untagged image), in digest then tag order, at most max a page. A page
// may end inside an image's tags: its token says where.
func (r *Registry) ListImages(ctx context.Context, key metadata.RepoKey, filter ImageFilter, token string, max int) ([]ImageID, string, error) {
	repo, err := r.repositoryFor(ctx, ActionListImages, key)
	if err != nil {
		return nil, "", err
	}
	pos, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	lastDigest, lastTag, _ := strings.Cut(pos, "|")
	max = pageSize(max)
	var ids []ImageID
	if lastTag != "" {
		// Finish the image the previous page stopped inside.
		tags, err := r.meta.ImageTags(ctx, repo.ID, digest.Digest(lastDigest))
		if err != nil {
			return nil, "", err
		}
		for _, t := range tags {
			if t > lastTag {
				ids = append(ids, ImageID{Digest: lastDigest, Tag: t})
			}
		}
	}
	after := digest.Digest(lastDigest)
	mf := filter.metadata(r.now())
	mf.IDsOnly = true // a listing of IDs
	for len(ids) <= max {
		imgs, err := r.meta.Images(ctx, repo.ID, mf, after, max+1)
		if err != nil {
			return nil, "", err
		}
		for _, img := range imgs {
			if len(img.Tags) == 0 {
				ids = append(ids, ImageID{Digest: string(img.Digest)})
			}
			for _, t := range img.Tags {
				ids = append(ids, ImageID{Digest: string(img.Digest), Tag: t})
			}
		}
		if len(imgs) <= max {
			break
		}
		after = imgs[len(imgs)-1].Digest
	}
	next := ""
	if len(ids) > max {
		last := ids[max-1]
		ids = ids[:max]
		next = encodeToken(last.Digest + "|" + last.Tag)
	}
	return ids, next, nil
}

// ImageOrder is the order a listing of a repository's images pages in.
type ImageOrder int

// Image orders. Images pushed at the same time follow their digests, in
// the direction of the push order, so that each order is total and one
// is the reverse of the other.
const (
	OrderDigest       ImageOrder = iota // by digest: DescribeImages's order
	OrderPushedNewest                   // by push time, newest first
	OrderPushedOldest                   // by push time, oldest first
)

// Push-order tokens start with their order's prefix (inside the base64),
// unlike digest-order ones ("v1:"): a token made for one order is
// refused in another, the ECR API's DescribeImages included.
var pushTokenPrefix = map[ImageOrder]string{OrderPushedNewest: "pn:", OrderPushedOldest: "po:"}

// encodePushToken makes the token of a page in push order that ended at
// the image c.
func encodePushToken(order ImageOrder, c metadata.PushCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pushTokenPrefix[order] + strconv.FormatInt(c.PushedAt.UnixNano(), 10) + "|" + string(c.Digest)))
}

// decodePushToken reads a token encodePushToken made for order; "" is the
// start of the listing.
func decodePushToken(order ImageOrder, token string) (metadata.PushCursor, error) {
	if token == "" {
		return metadata.PushCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return metadata.PushCursor{}, errBadToken
	}
	rest, ok := strings.CutPrefix(string(b), pushTokenPrefix[order])
	at, d, cut := strings.Cut(rest, "|")
	if !ok || !cut {
		return metadata.PushCursor{}, errBadToken
	}
	nanos, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return metadata.PushCursor{}, errBadToken
	}
	dg, err := digest.Parse(d)
	if err != nil {
		return metadata.PushCursor{}, errBadToken
	}
	return metadata.PushCursor{PushedAt: time.Unix(0, nanos).UTC(), Digest: dg}, nil
}

// imagePage reads one page of a repository's images in an order.
func (r *Registry) imagePage(ctx context.Context, repo metadata.Repository, filter ImageFilter, order ImageOrder, token string, max int) ([]metadata.ImageSummary, string, error) {
	max = pageSize(max)
	var (
		imgs []metadata.ImageSummary
		err  error
	)
	switch order {
	case OrderDigest:
		var after string
		if after, err = decodeToken(token); err != nil {
			return nil, "", err
		}
		imgs, err = r.meta.Images(ctx, repo.ID, filter.metadata(r.now()), digest.Digest(after), max+1)
	case OrderPushedNewest, OrderPushedOldest:
		var after metadata.PushCursor
		if after, err = decodePushToken(order, token); err != nil {
			return nil, "", err
		}
		imgs, err = r.meta.ImagesByPush(ctx, repo.ID, filter.metadata(r.now()), order == OrderPushedNewest, after, max+1)
	default:
		return nil, "", paramError("order", "unknown image order %d", order)
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(imgs) > max {
		imgs = imgs[:max]
		last := imgs[max-1]
		if order == OrderDigest {
			next = encodeToken(string(last.Digest))
		} else {
			next = encodePushToken(order, metadata.PushCursor{PushedAt: last.PushedAt, Digest: last.Digest})
		}
	}
	return imgs, next, nil
}

// DescribeImages describes the images ids name (and fails on the first
// that does not exist, as ECR does), or pages through a repository's
// images in digest order.
func (r *Registry) DescribeImages(ctx context.Context, key metadata.RepoKey, ids []ImageID, filter ImageFilter, token string, max int) ([]ImageDetail, string, error) {
	if len(ids) == 0 {
		return r.DescribeImagesOrdered(ctx, key, filter, OrderDigest, token, max)
	}
	repo, err := r.repositoryFor(ctx, ActionDescribeImages, key)
	if err != nil {
		return nil, "", err
	}
	out := make([]metadata.ImageSummary, 0, len(ids))
	for _, id := range ids {
		img, fail := resolve(ctx, r.meta, repo.ID, id)
		if fail != nil {
			return nil, "", fail.imageError(key)
		}
		if slices.ContainsFunc(out, func(s metadata.ImageSummary) bool { return s.Digest == img.Digest }) {
			continue
		}
		tags, err := r.meta.ImageTags(ctx, repo.ID, img.Digest)
		if err != nil {
			return nil, "", err
		}
		img.Content = nil
		out = append(out, metadata.ImageSummary{Image: img, Tags: tags})
	}
	details, err := r.scanSummaries(ctx, repo.ID, out)
	return details, "", err
}

// DescribeImagesOrdered pages through a repository's images as
// DescribeImages does (the same action, filters and details), in an
// order. Its tokens hold the order they were made for: one used with
// another order is refused as a bad token.
func (r *Registry) DescribeImagesOrdered(ctx context.Context, key metadata.RepoKey, filter ImageFilter, order ImageOrder, token string, max int) ([]ImageDetail, string, error) {
	repo, err := r.repositoryFor(ctx, ActionDescribeImages, key)
	if err != nil {
		return nil, "", err
	}
	page, next, err := r.imagePage(ctx, repo, filter, order, token, max)
	if err != nil {
		return nil, "", err
	}
	details, err := r.scanSummaries(ctx, repo.ID, page)
	return details, next, err
}

// BatchGetImage returns the manifests ids name. acceptedMediaTypes, when
// given, must include an image's media type: ecrd does not convert
// manifests between formats. Each image returned counts as a pull.
func (r *Registry) BatchGetImage(ctx context.Context, key metadata.RepoKey, ids []ImageID, acceptedMediaTypes []string) ([]metadata.Image, []ImageID, []ImageFailure, error) {
	repo, err := r.repositoryFor(ctx, ActionBatchGetImage, key)
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		imgs     []metadata.Image
		resolved []ImageID
		failures []ImageFailure
	)
	for _, id := range ids {
		img, fail := resolve(ctx, r.meta, repo.ID, id)
		if fail != nil && fail.Code == FailureImageNotFound && (id.Tag == "") != (id.Digest == "") {
			// A pull-through cache's repository brings the image first.
			ref, perr := parseReference(id.Tag + id.Digest)
			if perr == nil {
				cached, ok, err := r.pullThroughManifest(ctx, key, &repo, ref)
				switch {
				case ok && err == nil:
					img, fail = cached, nil
				case err != nil && CodeOf(err) != CodeManifestUnknown:
					return nil, nil, nil, err // the upstream's trouble, or a caller who may not import
				}
			}
		}
		if fail == nil && len(acceptedMediaTypes) > 0 && !slices.Contains(acceptedMediaTypes, img.MediaType) {
			fail = &ImageFailure{ID: id, Code: FailureMediaTypeNotAccepted, Detail: img.MediaType}
		}
		if fail != nil {
			failures = append(failures, *fail)
			continue
		}
		now := r.now()
		if err := checkActive(key, img, now); err != nil {
			return nil, nil, nil, err
		}
		r.recordPull(ctx, repo, img.Digest, now)
		imgs = append(imgs, img)
		resolved = append(resolved, ImageID{Digest: string(img.Digest), Tag: id.Tag})
	}
	return imgs, resolved, failures, nil
}

// BatchDeleteImage deletes images, ECR's way: by digest, the image and all
// its tags; by tag, the tag, and the image with it when it was its last.
// An image that an index of the repository lists is not deleted.
func (r *Registry) BatchDeleteImage(ctx context.Context, key metadata.RepoKey, ids []ImageID) ([]ImageID, []ImageFailure, error) {
	repo, err := r.repositoryFor(ctx, ActionBatchDeleteImage, key)
	if err != nil {
		return nil, nil, err
	}
	var (
		deleted  []ImageID
		failures []ImageFailure
	)
	defer r.cache.invalidate(repo.ID) // after the commit: see cache
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		deleted, failures = nil, nil
		for _, id := range ids {
			img, fail := resolve(ctx, tx, repo.ID, id)
			if fail != nil {
				failures = append(failures, *fail)
				continue
			}
			if err := deleteImageID(ctx, tx, repo.ID, id, img); err != nil {
				var ie *ImageFailure
				if errors.As(err, &ie) {
					failures = append(failures, *ie)
					continue
				}
				return err
			}
			deleted = append(deleted, ImageID{Digest: string(img.Digest), Tag: id.Tag})
			if err := imageActions(ctx, tx, key, now, string(img.Digest), "DELETE", tagList(id.Tag)); err != nil {
				return err
			}
		}
		if len(deleted) == 0 {
			return nil
		}
		params := map[string]any{"repositoryName": key.Name, "imageIds": wireImageIDs(ids)}
		return r.record(ctx, tx, key.Scope, now, ActionBatchDeleteImage, params, RepositoryARN(key))
	})
	if err != nil {
		return nil, nil, err
	}
	if len(deleted) > 0 {
		r.log.Info("images deleted", "account", key.Account, "region", key.Region, "repository", key.Name, "count", len(deleted))
	}
	return deleted, failures, nil
}

// deleteImageID deletes what one ImageID of BatchDeleteImage names.
func deleteImageID(ctx context.Context, tx metadata.Tx, repoID int64, id ImageID, img metadata.Image) error {
	if id.Digest == "" {
		if err := tx.DeleteTag(ctx, repoID, id.Tag); err != nil {
			return err
		}
		left, err := tx.ImageTags(ctx, repoID, img.Digest)
		if err != nil || len(left) > 0 {
			return err
		}
		// The last tag went: so does the image, unless an index holds it.
		parents, err := tx.Parents(ctx, repoID, img.Digest)
		if err != nil || len(parents) > 0 {
			return err
		}
		return tx.DeleteImage(ctx, repoID, img.Digest)
	}
	parents, err := tx.Parents(ctx, repoID, img.Digest)
	if err != nil {
		return err
	}
	if len(parents) > 0 {
		return &ImageFailure{ID: id, Code: FailureReferencedByManifestList, Detail: string(parents[0])}
	}
	return tx.DeleteImage(ctx, repoID, img.Digest)
}

// ListImageReferrers lists the manifests whose subject is the image d,
// optionally of some artifact types, page by page.
func (r *Registry) ListImageReferrers(ctx context.Context, key metadata.RepoKey, d string, artifactTypes []string, token string, max int) ([]metadata.Image, string, error) {
	repo, err := r.repositoryFor(ctx, ActionListImageReferrers, key)
	if err != nil {
		return nil, "", err
	}
	dg, err := parseDigest(d)
	if err != nil {
		return nil, "", err
	}
	imgs, err := r.meta.Referrers(ctx, repo.ID, dg)
	if err != nil {
		return nil, "", err
	}
	if len(artifactTypes) > 0 {
		imgs = slices.DeleteFunc(imgs, func(img metadata.Image) bool { return !slices.Contains(artifactTypes, img.ArtifactType) })
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if after != "" {
		start = slices.IndexFunc(imgs, func(img metadata.Image) bool { return string(img.Digest) > after })
		if start < 0 {
			start = len(imgs)
		}
	}
	imgs = imgs[start:]
	if max <= 0 {
		max = 50
	}
	next := ""
	if len(imgs) > max {
		imgs = imgs[:max]
		next = encodeToken(string(imgs[max-1].Digest))
	}
	return imgs, next, nil
}
