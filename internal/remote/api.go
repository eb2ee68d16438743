package remote

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/reference"
)

// registryID is the destination registry for the API's registryId: nil
// is the credentials' own.
func (c *Client) registryID() *string {
	if c.t.Account == "" {
		return nil
	}
	return aws.String(c.t.Account)
}

// withSource adds SourceHeader to an API write, before it is signed.
func (c *Client) withSource(o *ecr.Options) {
	if c.t.Source == "" {
		return
	}
	o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(SourceHeader, c.t.Source))
}

// DeleteTag removes a tag the ECR way (BatchDeleteImage with an
// imageTag): the tag goes, and the image with it when it was the image's
// last tag (unless an index of the repository lists the image, which
// then stays untagged). A tag the repository does not have is
// ErrNotFound.
func (c *Client) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := reference.ValidateTag(tag); err != nil {
		return err
	}
	op := "deleting tag " + repo + ":" + tag + " (BatchDeleteImage)"
	out, err := c.ecr.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{
		RegistryId: c.registryID(), RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}},
	}, c.withSource)
	if err != nil {
		return c.apiError(ctx, op, err)
	}
	if len(out.Failures) > 0 {
		f := out.Failures[0]
		e := &Error{Remote: c.name, Op: op, Code: string(f.FailureCode), Message: aws.ToString(f.FailureReason)}
		switch f.FailureCode {
		case ecrtypes.ImageFailureCodeImageNotFound, ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest:
			e.Kind = ErrNotFound
		case ecrtypes.ImageFailureCodeImageReferencedByManifestList:
			e.Kind = ErrReferenced
		}
		return e
	}
	return nil
}

// ImageTags returns the tags of the image d in the repository, sorted
// (empty when it has none), through DescribeImages; ErrNotFound when the
// repository does not hold the image.
func (c *Client) ImageTags(ctx context.Context, repo string, d digest.Digest) ([]string, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	op := "describing image " + string(d) + " in " + repo + " (DescribeImages)"
	out, err := c.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId: c.registryID(), RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(string(d))}},
	})
	if err != nil {
		return nil, c.apiError(ctx, op, err)
	}
	if len(out.ImageDetails) == 0 {
		return nil, &Error{Remote: c.name, Op: op, Kind: ErrNotFound, Message: "no such image"}
	}
	tags := slices.Clone(out.ImageDetails[0].ImageTags)
	if tags == nil {
		tags = []string{}
	}
	slices.Sort(tags)
	return tags, nil
}
