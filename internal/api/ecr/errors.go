package ecr

// ECR's errors: the exception each of the core's codes becomes, and the
// message ECR words for each of the core's typed errors. Every message of
// the ECR API is worded here (or, for request validation, in validate.go);
// the core only says what went wrong.

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

// exceptions maps the core's error codes to ECR exception names. Codes not
// listed are server faults.
var exceptions = map[registry.Code]string{
	registry.CodeNameInvalid:              "InvalidParameterException",
	registry.CodeNameUnknown:              "RepositoryNotFoundException",
	registry.CodeTagInvalid:               "InvalidParameterException",
	registry.CodeDigestInvalid:            "InvalidParameterException",
	registry.CodeBlobUnknown:              "LayersNotFoundException",
	registry.CodeBlobUploadUnknown:        "UploadNotFoundException",
	registry.CodeBlobUploadInvalid:        "InvalidParameterException",
	registry.CodeRangeInvalid:             "InvalidLayerPartException",
	registry.CodeSizeInvalid:              "InvalidParameterException",
	registry.CodeManifestInvalid:          "InvalidParameterException",
	registry.CodeManifestUnknown:          "ImageNotFoundException",
	registry.CodeManifestBlobUnknown:      "LayersNotFoundException",
	registry.CodeManifestChildUnknown:     "ReferencedImagesNotFoundException",
	registry.CodeManifestTooLarge:         "InvalidParameterException",
	registry.CodeManifestReferenced:       "InvalidParameterException",
	registry.CodeUnsupported:              "UnsupportedImageTypeException",
	registry.CodePaginationInvalid:        "InvalidParameterException",
	registry.CodeUnauthenticated:          "MissingAuthenticationTokenException",
	registry.CodeAccessDenied:             "AccessDeniedException",
	registry.CodeInvalidParameter:         "InvalidParameterException",
	registry.CodeRepositoryAlreadyExists:  "RepositoryAlreadyExistsException",
	registry.CodeRepositoryNotEmpty:       "RepositoryNotEmptyException",
	registry.CodeTooManyTags:              "TooManyTagsException",
	registry.CodeInvalidTagParameter:      "InvalidTagParameterException",
	registry.CodeTagImmutable:             "ImageTagAlreadyExistsException",
	registry.CodeImageAlreadyExists:       "ImageAlreadyExistsException",
	registry.CodeImageDigestMismatch:      "ImageDigestDoesNotMatchException",
	registry.CodeTemplateAlreadyExists:    "TemplateAlreadyExistsException",
	registry.CodeTemplateNotFound:         "TemplateNotFoundException",
	registry.CodeLayerPartTooSmall:        "LayerPartTooSmallException",
	registry.CodeInvalidLayerPart:         "InvalidLayerPartException",
	registry.CodeInvalidLayer:             "InvalidLayerException",
	registry.CodeLayerAlreadyExists:       "LayerAlreadyExistsException",
	registry.CodeEmptyUpload:              "EmptyUploadException",
	registry.CodeLayersNotFound:           "LayersNotFoundException",
	registry.CodeValidation:               "ValidationException",
	registry.CodeLifecyclePolicyNotFound:  "LifecyclePolicyNotFoundException",
	registry.CodePreviewNotFound:          "LifecyclePolicyPreviewNotFoundException",
	registry.CodePreviewInProgress:        "LifecyclePolicyPreviewInProgressException",
	registry.CodeImageArchived:            "ImageArchivedException",
	registry.CodeStorageClassUnsupported:  "ImageStorageClassUpdateNotSupportedException",
	registry.CodeExclusionAlreadyExists:   "ExclusionAlreadyExistsException",
	registry.CodeExclusionNotFound:        "ExclusionNotFoundException",
	registry.CodeJobBusy:                  "JobInProgressException",
	registry.CodeRepositoryPolicyNotFound: "RepositoryPolicyNotFoundException",
	registry.CodeRegistryPolicyNotFound:   "RegistryPolicyNotFoundException",
	registry.CodeKMS:                      "KmsException",
	registry.CodeScanNotFound:             "ScanNotFoundException",
	registry.CodeLimitExceeded:            "LimitExceededException",
	registry.CodeStorageFull:              "ServerException",
	registry.CodeBackfillNotFound:         "ReplicationBackfillNotFoundException",
	registry.CodeBackfillInProgress:       "ReplicationBackfillInProgressException",
	registry.CodeBackfillInvalidStatus:    "ReplicationBackfillInvalidStatusException",
	registry.CodePTCRuleAlreadyExists:     "PullThroughCacheRuleAlreadyExistsException",
	registry.CodePTCRuleNotFound:          "PullThroughCacheRuleNotFoundException",
	registry.CodeUnsupportedUpstream:      "UnsupportedUpstreamRegistryException",
	registry.CodeSecretNotFound:           "SecretNotFoundException",
	registry.CodeUnableToAccessSecret:     "UnableToAccessSecretException",
	registry.CodeUnableToDecryptSecret:    "UnableToDecryptSecretValueException",
	registry.CodeUpstreamImage:            "UnableToGetUpstreamImageException",
	registry.CodeUpstreamLayer:            "UnableToGetUpstreamLayerException",
}

// exception returns the ECR exception for one of the adapter's or the
// core's errors: 400 for client faults, 403 for access denied, 500
// (ServerException) when storage is full; nil for any other error, a
// server fault.
func exception(err error) *awsjson.Error {
	var (
		ip *InvalidParameterError
		de registry.DomainError
	)
	switch {
	case errors.As(err, &ip):
		return &awsjson.Error{Type: "InvalidParameterException", Message: ip.Error(), Status: http.StatusBadRequest}
	case errors.As(err, &de) && exceptions[de.ErrorCode()] != "":
		code := de.ErrorCode()
		status := http.StatusBadRequest
		switch code {
		case registry.CodeAccessDenied, registry.CodeUnauthenticated:
			status = http.StatusForbidden
		case registry.CodeStorageFull:
			// A server fault, with a message that says which, and a state
			// the registry logged, not a failure to log again.
			status = http.StatusInternalServerError
		}
		return &awsjson.Error{Type: exceptions[code], Message: message(de), Status: status}
	}
	return nil
}

// message words one of the core's errors as ECR does.
func message(err registry.DomainError) string {
	switch e := err.(type) {
	case *registry.ParamError:
		return (&InvalidParameterError{Member: e.Field, Constraint: e.Constraint}).Error()
	case *registry.NotFoundError:
		return notFoundMessage(e)
	case *registry.ExistsError:
		return existsMessage(e)
	case *registry.ConflictError:
		return conflictMessage(e)
	case *registry.LimitError:
		return limitMessage(e)
	case *registry.TagError:
		return tagMessage(e)
	case *registry.LayerError:
		return layerMessage(e)
	case *registry.ImageFailure:
		_, reason := imageFailure(e)
		return reason
	case *registry.UpstreamError:
		return upstreamMessage(e)
	case *registry.SecretError:
		return secretMessage(e)
	}
	// *registry.Error, whose message is the core's own, and denials,
	// worded as IAM explains them.
	return err.Error()
}

// Describe words a core error as ECR answers it: the exception's type
// and message ("" and err's own text for an error ECR has no name for).
// The web console shows core errors this way, so that an edit refused
// there reads as the same edit refused through the API.
func Describe(err error) (exceptionType, msg string) {
	if e := exception(err); e != nil {
		return e.Type, e.Message
	}
	return "", err.Error()
}

// errorMessage words err as ECR does, if it is one of the core's errors.
func errorMessage(err error) string {
	var de registry.DomainError
	if errors.As(err, &de) {
		return message(de)
	}
	return err.Error()
}

// inRepository is how ECR's messages place a thing in a repository.
func inRepository(key metadata.RepoKey) string {
	return fmt.Sprintf("the repository with name '%s' in the registry with id '%s'", key.Name, key.Account)
}

func notFoundMessage(e *registry.NotFoundError) string {
	var s string
	switch e.Kind {
	case registry.KindRepository:
		s = fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", e.Key.Name, e.Key.Account)
	case registry.KindImage:
		s = fmt.Sprintf("The image with imageId %s does not exist within %s", imageIDText(e.Image), inRepository(e.Key))
	case registry.KindLayer:
		s = fmt.Sprintf("The specified layer %s could not be found in %s", e.ID, inRepository(e.Key))
	case registry.KindLifecyclePolicy:
		s = "Lifecycle policy does not exist for " + inRepository(e.Key)
	case registry.KindLifecyclePreview:
		s = "There is no dry run for this repository."
	case registry.KindRepositoryPolicy:
		s = "Repository policy does not exist for " + inRepository(e.Key)
	case registry.KindRegistryPolicy:
		s = fmt.Sprintf("Registry policy does not exist in the registry with id '%s'", e.Key.Account)
	case registry.KindTemplate:
		s = fmt.Sprintf("The specified repository creation template with prefix '%s' was not found in the registry with id '%s'", e.ID, e.Key.Account)
	case registry.KindScan:
		s = fmt.Sprintf("Image scan does not exist for the image with '%s' in %s", imageIDText(e.Image), inRepository(e.Key))
	case registry.KindExclusion:
		s = fmt.Sprintf("The principal %s is not excluded from pull time updates in the registry with id '%s'", e.ID, e.Key.Account)
	case registry.KindBackfill:
		s = fmt.Sprintf("The replication backfill with id '%s' does not exist in the registry with id '%s'", e.ID, e.Key.Account)
	case registry.KindPullThroughCacheRule:
		s = fmt.Sprintf("The pull through cache rule with prefix '%s' does not exist in the registry with id '%s'", e.ID, e.Key.Account)
	default:
		return e.Error()
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

func existsMessage(e *registry.ExistsError) string {
	switch e.Kind {
	case registry.KindRepository:
		return fmt.Sprintf("The repository with name '%s' already exists in the registry with id '%s'", e.Key.Name, e.Key.Account)
	case registry.KindImage:
		inRegistry := fmt.Sprintf("the repository with name '%s' in registry with id '%s'", e.Key.Name, e.Key.Account)
		if e.Image.Tag != "" {
			return fmt.Sprintf("Image with digest '%s' and tag '%s' already exists in %s", e.Image.Digest, e.Image.Tag, inRegistry)
		}
		return fmt.Sprintf("Image with digest '%s' already exists in %s", e.Image.Digest, inRegistry)
	case registry.KindImageTag:
		return fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", e.Image.Tag, e.Key.Name)
	case registry.KindLayer:
		return fmt.Sprintf("The image layer %s already exists in %s", e.ID, inRepository(e.Key))
	case registry.KindTemplate:
		return fmt.Sprintf("The repository creation template with prefix '%s' already exists in the registry with id '%s'", e.ID, e.Key.Account)
	case registry.KindExclusion:
		return fmt.Sprintf("The principal %s is already excluded from pull time updates in the registry with id '%s'", e.ID, e.Key.Account)
	case registry.KindPullThroughCacheRule:
		return fmt.Sprintf("A pull through cache rule with prefix '%s' already exists in the registry with id '%s'", e.ID, e.Key.Account)
	}
	return e.Error()
}

func conflictMessage(e *registry.ConflictError) string {
	switch e.Conflict {
	case registry.ConflictRepositoryNotEmpty:
		return fmt.Sprintf("The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", e.Key.Name, e.Key.Account)
	case registry.ConflictPreviewInProgress:
		return "The previous lifecycle policy preview request has not completed for " + inRepository(e.Key) + ": wait for it"
	case registry.ConflictImageArchived:
		return fmt.Sprintf("The image %s in %s is archived: restore it with UpdateImageStorageClass (targetStorageClass STANDARD) before pulling it", e.Digest, inRepository(e.Key))
	case registry.ConflictImageRestoring:
		return fmt.Sprintf("The image %s in %s is being restored from archive: pull it once its status is ACTIVE", e.Digest, inRepository(e.Key))
	case registry.ConflictImageInIndex:
		return fmt.Sprintf("The image %s is listed by the image index %s: change the storage class of the index, which moves the images it lists with it", e.Digest, e.Index)
	case registry.ConflictBackfillInProgress:
		return fmt.Sprintf("A replication backfill to the region '%s' is already in progress in the registry with id '%s': wait for it to end, or stop it", e.Digest, e.Key.Account)
	case registry.ConflictBackfillStatus:
		return fmt.Sprintf("The replication backfill with id '%s' in the registry with id '%s' has ended: only a backfill in progress can be stopped", e.Digest, e.Key.Account)
	}
	return e.Error()
}

func limitMessage(e *registry.LimitError) string {
	switch e.Limit {
	case registry.LimitScansPerImage:
		return "The scan quota per image has been exceeded. Wait and try again."
	case registry.LimitResourceTags:
		return fmt.Sprintf("The maximum number of tags that can be applied to a repository is %d; this request would leave %d", e.Max, e.Got)
	case registry.LimitBackfills:
		return fmt.Sprintf("The maximum number of replication backfills in progress in a registry is %d: wait for one to end, or stop one", e.Max)
	case registry.LimitPullThroughCacheRules:
		return fmt.Sprintf("The maximum number of pull through cache rules in a registry is %d: delete one before creating another", e.Max)
	}
	return e.Error()
}

func tagMessage(e *registry.TagError) string {
	switch e.Rule {
	case registry.TagKeyLength:
		return fmt.Sprintf("Tag keys must be between 1 and %d characters long", e.Max)
	case registry.TagValueLength:
		return fmt.Sprintf("Tag values must be at most %d characters long", e.Max)
	case registry.TagKeyReserved:
		return "Tag keys starting with 'aws:' are reserved for AWS use"
	}
	return e.Error()
}

func layerMessage(e *registry.LayerError) string {
	switch e.Problem {
	case registry.LayerPartLength:
		return fmt.Sprintf("The layer part covers bytes %d to %d but carries %d bytes; the last valid byte received is %d", e.First, e.Last, e.Length, e.Held-1)
	case registry.LayerPartGap:
		return fmt.Sprintf("The layer part starts at byte %d, but the upload holds %d bytes; the last valid byte received is %d", e.First, e.Held, e.Held-1)
	case registry.LayerPartTooSmall:
		return fmt.Sprintf("All layer parts except the last part should be at least 5MB; the previous part had %d bytes", e.Previous)
	case registry.LayerEmpty:
		return fmt.Sprintf("The upload %s contains no layer parts: upload at least one part first", e.Upload)
	case registry.LayerDigestMismatch:
		return "The layer digest calculation performed by Amazon ECR upon receipt of the image layer does not match the digest specified: " + e.Detail
	}
	return e.Error()
}

// imageIDText writes an image ID as ECR's messages do, with 'null' for an
// absent member.
func imageIDText(id registry.ImageID) string {
	orNull := func(s string) string {
		if s == "" {
			return "null"
		}
		return s
	}
	return fmt.Sprintf("{imageDigest:'%s', imageTag:'%s'}", orNull(id.Digest), orNull(id.Tag))
}

// imageFailure returns ECR's failureCode and failureReason for an image a
// batch call could not handle.
func imageFailure(f *registry.ImageFailure) (code, reason string) {
	switch f.Code {
	case registry.FailureMissingDigestAndTag:
		return "MissingDigestAndTag", "Invalid request: give an imageDigest, an imageTag or both"
	case registry.FailureInvalidImageDigest:
		return "InvalidImageDigest", "Invalid image digest: " + f.Detail
	case registry.FailureInvalidImageTag:
		return "InvalidImageTag", "Invalid image tag: " + f.Detail
	case registry.FailureImageTagDoesNotMatchDigest:
		return "ImageTagDoesNotMatchDigest", "Invalid request: the image tag does not match the image digest"
	case registry.FailureMediaTypeNotAccepted:
		return "ImageNotFound", fmt.Sprintf("The image's media type %s is not among acceptedMediaTypes (ecrd does not convert manifests)", f.Detail)
	case registry.FailureReferencedByManifestList:
		return "ImageReferencedByManifestList", fmt.Sprintf("Requested image is referenced by manifest list %s: delete that first", f.Detail)
	}
	return "ImageNotFound", "Requested image not found"
}

// layerFailure returns ECR's failureCode and failureReason for a layer
// BatchCheckLayerAvailability could not check.
func layerFailure(f registry.LayerFailure) (code, reason string) {
	if f.Malformed {
		return "InvalidLayerDigest", "Invalid layer digest"
	}
	return "MissingLayerDigest", "Could not find layer"
}
