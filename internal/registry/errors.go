package registry

import (
	"errors"
	"fmt"
)

// Code classifies a registry error. Protocol adapters map codes to their
// wire errors (OCI error codes, ECR exception names) in one table each.
type Code int

// Error codes.
const (
	CodeInternal             Code = iota // a bug or a storage failure
	CodeNameInvalid                      // malformed repository name
	CodeNameUnknown                      // no such repository
	CodeTagInvalid                       // malformed tag
	CodeDigestInvalid                    // malformed digest, or content that does not match it
	CodeBlobUnknown                      // no such blob in the repository
	CodeBlobUploadUnknown                // no such upload session
	CodeBlobUploadInvalid                // the upload cannot take this request
	CodeRangeInvalid                     // a chunk that does not start where the upload ends
	CodeSizeInvalid                      // a length that does not match the content
	CodeManifestInvalid                  // a manifest that does not parse or validate
	CodeManifestUnknown                  // no such manifest or tag, or a missing child manifest
	CodeManifestBlobUnknown              // a manifest references a blob the repository lacks
	CodeManifestChildUnknown             // an index references a manifest the repository lacks
	CodeManifestTooLarge                 // over the manifest size limit
	CodeManifestReferenced               // deleting a manifest an index still lists
	CodeUnsupported                      // a valid request for something ecrd refuses by design
	CodePaginationInvalid                // a bad page size or marker
	CodeUnauthenticated                  // no credentials, where they are needed
	CodeAccessDenied                     // credentials that do not allow the action

	// Codes of the ECR API's own exceptions.
	CodeInvalidParameter         // a parameter that breaks a rule (InvalidParameterException)
	CodeRepositoryAlreadyExists  // RepositoryAlreadyExistsException
	CodeRepositoryNotEmpty       // RepositoryNotEmptyException
	CodeTooManyTags              // TooManyTagsException
	CodeInvalidTagParameter      // InvalidTagParameterException
	CodeTagImmutable             // a tag that may not move (TAG_INVALID, ImageTagAlreadyExistsException)
	CodeImageAlreadyExists       // ImageAlreadyExistsException
	CodeImageDigestMismatch      // ImageDigestDoesNotMatchException
	CodeTemplateAlreadyExists    // TemplateAlreadyExistsException
	CodeTemplateNotFound         // TemplateNotFoundException
	CodeLayerPartTooSmall        // LayerPartTooSmallException
	CodeInvalidLayerPart         // InvalidLayerPartException
	CodeInvalidLayer             // InvalidLayerException
	CodeLayerAlreadyExists       // LayerAlreadyExistsException
	CodeEmptyUpload              // EmptyUploadException
	CodeLayersNotFound           // LayersNotFoundException
	CodeValidation               // ValidationException
	CodeLifecyclePolicyNotFound  // LifecyclePolicyNotFoundException
	CodePreviewNotFound          // LifecyclePolicyPreviewNotFoundException
	CodePreviewInProgress        // LifecyclePolicyPreviewInProgressException
	CodeImageArchived            // ImageArchivedException: the image must be restored first
	CodeStorageClassUnsupported  // ImageStorageClassUpdateNotSupportedException
	CodeExclusionAlreadyExists   // ExclusionAlreadyExistsException
	CodeExclusionNotFound        // ExclusionNotFoundException
	CodeJobBusy                  // a background job another process is running
	CodeRepositoryPolicyNotFound // RepositoryPolicyNotFoundException
	CodeRegistryPolicyNotFound   // RegistryPolicyNotFoundException
	CodeKMS                      // a KMS key that cannot be used (KmsException; DENIED on /v2)
	CodeScanNotFound             // ScanNotFoundException
	CodeLimitExceeded            // LimitExceededException
	CodeStorageFull              // no room left in storage (507 on /v2, ServerException)
)

// Error is an error the client can act on.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of a registry error, or CodeInternal for any other
// error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
