package ecr

import (
	"fmt"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

// TestExceptionMessages: each of the core's typed errors becomes ECR's
// exception with ECR's exact message.
func TestExceptionMessages(t *testing.T) {
	scope := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	key := metadata.RepoKey{Scope: scope, Name: "team/app"}
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const idx = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	in := "in the repository with name 'team/app' in the registry with id '123456789012'"
	tests := []struct {
		err     error
		typ     string
		status  int
		message string
	}{
		{&registry.ParamError{Field: "PolicyText", Constraint: "Invalid repository policy provided"},
			"InvalidParameterException", 400, "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"},

		{&registry.NotFoundError{Kind: registry.KindRepository, Key: key},
			"RepositoryNotFoundException", 400, "The repository with name 'team/app' does not exist in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindRepository, Key: key, Hint: "create it"},
			"RepositoryNotFoundException", 400, "The repository with name 'team/app' does not exist in the registry with id '123456789012': create it"},
		{&registry.NotFoundError{Kind: registry.KindImage, Key: key, Image: registry.ImageID{Tag: "v1"}},
			"ImageNotFoundException", 400, "The image with imageId {imageDigest:'null', imageTag:'v1'} does not exist within the repository with name 'team/app' in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindImage, Key: key, Image: registry.ImageID{Digest: d, Tag: "v1"}},
			"ImageNotFoundException", 400, "The image with imageId {imageDigest:'" + d + "', imageTag:'v1'} does not exist within the repository with name 'team/app' in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindLayer, Key: key, ID: d},
			"LayersNotFoundException", 400, "The specified layer " + d + " could not be found " + in},
		{&registry.NotFoundError{Kind: registry.KindLifecyclePolicy, Key: key},
			"LifecyclePolicyNotFoundException", 400, "Lifecycle policy does not exist for the repository with name 'team/app' in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindLifecyclePreview, Key: key},
			"LifecyclePolicyPreviewNotFoundException", 400, "There is no dry run for this repository."},
		{&registry.NotFoundError{Kind: registry.KindRepositoryPolicy, Key: key},
			"RepositoryPolicyNotFoundException", 400, "Repository policy does not exist for the repository with name 'team/app' in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindRegistryPolicy, Key: metadata.RepoKey{Scope: scope}},
			"RegistryPolicyNotFoundException", 400, "Registry policy does not exist in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindTemplate, Key: metadata.RepoKey{Scope: scope}, ID: "team"},
			"TemplateNotFoundException", 400, "The specified repository creation template with prefix 'team' was not found in the registry with id '123456789012'"},
		{&registry.NotFoundError{Kind: registry.KindScan, Key: key, Image: registry.ImageID{Tag: "v1"}},
			"ScanNotFoundException", 400, "Image scan does not exist for the image with '{imageDigest:'null', imageTag:'v1'}' " + in},
		{&registry.NotFoundError{Kind: registry.KindExclusion, Key: metadata.RepoKey{Scope: scope}, ID: "arn:aws:iam::123456789012:role/ci"},
			"ExclusionNotFoundException", 400, "The principal arn:aws:iam::123456789012:role/ci is not excluded from pull time updates in the registry with id '123456789012'"},

		{&registry.NotFoundError{Kind: registry.KindBackfill, Key: metadata.RepoKey{Scope: scope}, ID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
			"ReplicationBackfillNotFoundException", 400, "The replication backfill with id '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' does not exist in the registry with id '123456789012'"},

		{&registry.ExistsError{Kind: registry.KindRepository, Key: key},
			"RepositoryAlreadyExistsException", 400, "The repository with name 'team/app' already exists in the registry with id '123456789012'"},
		{&registry.ExistsError{Kind: registry.KindImage, Key: key, Image: registry.ImageID{Digest: d, Tag: "v1"}},
			"ImageAlreadyExistsException", 400, "Image with digest '" + d + "' and tag 'v1' already exists in the repository with name 'team/app' in registry with id '123456789012'"},
		{&registry.ExistsError{Kind: registry.KindImage, Key: key, Image: registry.ImageID{Digest: d}},
			"ImageAlreadyExistsException", 400, "Image with digest '" + d + "' already exists in the repository with name 'team/app' in registry with id '123456789012'"},
		{&registry.ExistsError{Kind: registry.KindImageTag, Key: key, Image: registry.ImageID{Digest: d, Tag: "v1"}},
			"ImageTagAlreadyExistsException", 400, "The image tag 'v1' already exists in the 'team/app' repository and cannot be overwritten because the tag is immutable."},
		{&registry.ExistsError{Kind: registry.KindLayer, Key: key, ID: d},
			"LayerAlreadyExistsException", 400, "The image layer " + d + " already exists " + in},
		{&registry.ExistsError{Kind: registry.KindTemplate, Key: metadata.RepoKey{Scope: scope}, ID: "team"},
			"TemplateAlreadyExistsException", 400, "The repository creation template with prefix 'team' already exists in the registry with id '123456789012'"},
		{&registry.ExistsError{Kind: registry.KindExclusion, Key: metadata.RepoKey{Scope: scope}, ID: "arn:aws:iam::123456789012:role/ci"},
			"ExclusionAlreadyExistsException", 400, "The principal arn:aws:iam::123456789012:role/ci is already excluded from pull time updates in the registry with id '123456789012'"},

		{&registry.ConflictError{Conflict: registry.ConflictRepositoryNotEmpty, Key: key},
			"RepositoryNotEmptyException", 400, "The repository with name 'team/app' in registry with id '123456789012' cannot be deleted because it still contains images"},
		{&registry.ConflictError{Conflict: registry.ConflictPreviewInProgress, Key: key},
			"LifecyclePolicyPreviewInProgressException", 400, "The previous lifecycle policy preview request has not completed for the repository with name 'team/app' in the registry with id '123456789012': wait for it"},
		{&registry.ConflictError{Conflict: registry.ConflictImageArchived, Key: key, Digest: d},
			"ImageArchivedException", 400, "The image " + d + " " + in + " is archived: restore it with UpdateImageStorageClass (targetStorageClass STANDARD) before pulling it"},
		{&registry.ConflictError{Conflict: registry.ConflictImageRestoring, Key: key, Digest: d},
			"ImageArchivedException", 400, "The image " + d + " " + in + " is being restored from archive: pull it once its status is ACTIVE"},
		{&registry.ConflictError{Conflict: registry.ConflictImageInIndex, Key: key, Digest: d, Index: idx},
			"ImageStorageClassUpdateNotSupportedException", 400, "The image " + d + " is listed by the image index " + idx + ": change the storage class of the index, which moves the images it lists with it"},
		{&registry.ConflictError{Conflict: registry.ConflictBackfillInProgress, Key: metadata.RepoKey{Scope: scope}, Digest: "eu-west-1"},
			"ReplicationBackfillInProgressException", 400, "A replication backfill to the region 'eu-west-1' is already in progress in the registry with id '123456789012': wait for it to end, or stop it"},
		{&registry.ConflictError{Conflict: registry.ConflictBackfillStatus, Key: metadata.RepoKey{Scope: scope}, Digest: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
			"ReplicationBackfillInvalidStatusException", 400, "The replication backfill with id '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' in the registry with id '123456789012' has ended: only a backfill in progress can be stopped"},

		{&registry.LimitError{Limit: registry.LimitScansPerImage, Max: 1},
			"LimitExceededException", 400, "The scan quota per image has been exceeded. Wait and try again."},
		{&registry.LimitError{Limit: registry.LimitResourceTags, Max: 50, Got: 51},
			"TooManyTagsException", 400, "The maximum number of tags that can be applied to a repository is 50; this request would leave 51"},
		{&registry.LimitError{Limit: registry.LimitTemplates, Max: 100},
			"ValidationException", 400, "a registry holds at most 100 repository creation templates"},
		{&registry.LimitError{Limit: registry.LimitBackfills, Max: 10},
			"LimitExceededException", 400, "The maximum number of replication backfills in progress in a registry is 10: wait for one to end, or stop one"},

		{&registry.TagError{Rule: registry.TagKeyLength, Max: 128}, "InvalidTagParameterException", 400, "Tag keys must be between 1 and 128 characters long"},
		{&registry.TagError{Rule: registry.TagValueLength, Max: 256}, "InvalidTagParameterException", 400, "Tag values must be at most 256 characters long"},
		{&registry.TagError{Rule: registry.TagKeyReserved}, "InvalidTagParameterException", 400, "Tag keys starting with 'aws:' are reserved for AWS use"},

		{&registry.LayerError{Problem: registry.LayerPartLength, First: 0, Last: 9, Length: 5, Held: 0},
			"InvalidLayerPartException", 400, "The layer part covers bytes 0 to 9 but carries 5 bytes; the last valid byte received is -1"},
		{&registry.LayerError{Problem: registry.LayerPartGap, First: 20, Last: 29, Length: 10, Held: 10},
			"InvalidLayerPartException", 400, "The layer part starts at byte 20, but the upload holds 10 bytes; the last valid byte received is 9"},
		{&registry.LayerError{Problem: registry.LayerPartTooSmall, Held: 10, Previous: 10},
			"LayerPartTooSmallException", 400, "All layer parts except the last part should be at least 5MB; the previous part had 10 bytes"},
		{&registry.LayerError{Problem: registry.LayerEmpty, Upload: "u1"},
			"EmptyUploadException", 400, "The upload u1 contains no layer parts: upload at least one part first"},
		{&registry.LayerError{Problem: registry.LayerDigestMismatch, Digest: d, Detail: "the content's digest is x"},
			"InvalidLayerException", 400, "The layer digest calculation performed by Amazon ECR upon receipt of the image layer does not match the digest specified: the content's digest is x"},

		{&registry.ImageFailure{ID: registry.ImageID{Digest: "sha256:x"}, Code: registry.FailureInvalidImageDigest, Detail: "too short"},
			"InvalidParameterException", 400, "Invalid image digest: too short"},
		{&registry.DeniedError{Action: registry.ActionPutImage, Explanation: "User: arn:aws:iam::123456789012:user/a is not authorized to perform: ecr:PutImage"},
			"AccessDeniedException", 403, "User: arn:aws:iam::123456789012:user/a is not authorized to perform: ecr:PutImage"},
		{&registry.DeniedError{Action: registry.ActionPutImage, Anonymous: true},
			"MissingAuthenticationTokenException", 403, "authentication required to perform ecr:PutImage: log in with `aws ecr get-login-password | docker login --username AWS --password-stdin <registry>`"},
		{&registry.Error{Code: registry.CodeStorageFull, Message: "full"}, "ServerException", 500, "full"},
		// Wrapped, as the core's callers may.
		{fmt.Errorf("putting: %w", &registry.NotFoundError{Kind: registry.KindRegistryPolicy, Key: metadata.RepoKey{Scope: scope}}),
			"RegistryPolicyNotFoundException", 400, "Registry policy does not exist in the registry with id '123456789012'"},
	}
	for _, tt := range tests {
		got := exception(tt.err)
		if got == nil || got.Type != tt.typ || got.Status != tt.status || got.Message != tt.message {
			t.Errorf("exception(%#v)\n = %+v\nwant %s %d %q", tt.err, got, tt.typ, tt.status, tt.message)
		}
	}
	if got := exception(fmt.Errorf("disk on fire")); got != nil {
		t.Errorf("a server fault became %+v", got)
	}
	if got := exception(&registry.Error{Code: registry.CodeInternal, Message: "x"}); got != nil {
		t.Errorf("CodeInternal became %+v", got)
	}
}

// TestFailureWording: batch failures get ECR's failure codes and reasons.
func TestFailureWording(t *testing.T) {
	tests := []struct {
		f            registry.ImageFailure
		code, reason string
	}{
		{registry.ImageFailure{Code: registry.FailureMissingDigestAndTag}, "MissingDigestAndTag", "Invalid request: give an imageDigest, an imageTag or both"},
		{registry.ImageFailure{Code: registry.FailureInvalidImageDigest, Detail: "bad"}, "InvalidImageDigest", "Invalid image digest: bad"},
		{registry.ImageFailure{Code: registry.FailureInvalidImageTag, Detail: "bad"}, "InvalidImageTag", "Invalid image tag: bad"},
		{registry.ImageFailure{Code: registry.FailureImageNotFound}, "ImageNotFound", "Requested image not found"},
		{registry.ImageFailure{Code: registry.FailureImageTagDoesNotMatchDigest}, "ImageTagDoesNotMatchDigest", "Invalid request: the image tag does not match the image digest"},
		{registry.ImageFailure{Code: registry.FailureMediaTypeNotAccepted, Detail: "application/x"}, "ImageNotFound",
			"The image's media type application/x is not among acceptedMediaTypes (ecrd does not convert manifests)"},
		{registry.ImageFailure{Code: registry.FailureReferencedByManifestList, Detail: "sha256:i"}, "ImageReferencedByManifestList",
			"Requested image is referenced by manifest list sha256:i: delete that first"},
	}
	for _, tt := range tests {
		if code, reason := imageFailure(&tt.f); code != tt.code || reason != tt.reason {
			t.Errorf("imageFailure(%+v) = %s, %q; want %s, %q", tt.f, code, reason, tt.code, tt.reason)
		}
	}
	if code, reason := layerFailure(registry.LayerFailure{Digest: "x", Malformed: true}); code != "InvalidLayerDigest" || reason != "Invalid layer digest" {
		t.Errorf("malformed layer: %s, %q", code, reason)
	}
	if code, reason := layerFailure(registry.LayerFailure{Digest: "sha256:x"}); code != "MissingLayerDigest" || reason != "Could not find layer" {
		t.Errorf("missing layer: %s, %q", code, reason)
	}
}
