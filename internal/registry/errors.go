package registry

import (
	"errors"
	"fmt"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Code classifies a registry error. Protocol adapters map codes to their
// wire errors (OCI error codes, ECR exception names) in one table each,
// and write messages from the typed errors' fields: the core words none
// of a protocol's messages.
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

	// Codes of the ECR API's own errors; the core names them after ECR's
	// exceptions, but only the ECR adapter words their messages.
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
	CodeBackfillNotFound         // ReplicationBackfillNotFoundException
	CodeBackfillInProgress       // ReplicationBackfillInProgressException
	CodeBackfillInvalidStatus    // ReplicationBackfillInvalidStatusException

	// Pull-through cache rules (pullthrough_rules.go).
	CodePTCRuleAlreadyExists  // PullThroughCacheRuleAlreadyExistsException
	CodePTCRuleNotFound       // PullThroughCacheRuleNotFoundException
	CodeUnsupportedUpstream   // UnsupportedUpstreamRegistryException
	CodeSecretNotFound        // SecretNotFoundException
	CodeUnableToAccessSecret  // UnableToAccessSecretException
	CodeUnableToDecryptSecret // UnableToDecryptSecretValueException
	CodeUpstreamImage         // a pull-through cache's upstream cannot give the image (UnableToGetUpstreamImageException)
	CodeUpstreamLayer         // a pull-through cache's upstream cannot give the layer (UnableToGetUpstreamLayerException)

	// CodePrincipalNotFound is a principal a question about access names
	// that does not exist (IAM's NoSuchEntity).
	CodePrincipalNotFound
)

// DomainError is an error of the core that the client can act on: *Error
// or one of the typed errors below. Adapters find it with errors.As, map
// its code to their wire error and write their own message from its
// fields; Error() is the core's own wording, for logs and for protocols
// without a wording of their own.
type DomainError interface {
	error
	ErrorCode() Code
}

// CodeOf returns the code of a registry error, or CodeInternal for any other
// error.
func CodeOf(err error) Code {
	var e DomainError
	if errors.As(err, &e) {
		return e.ErrorCode()
	}
	return CodeInternal
}

// Error is an error whose message is the core's own, in no protocol's
// words (a /v2 upload's state, a blob's size): adapters pass Message on.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns e.Code.
func (e *Error) ErrorCode() Code { return e.Code }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParamError is a request parameter that breaks a rule of the core
// (CodeInvalidParameter).
type ParamError struct {
	Field      string // the parameter as the API names it, e.g. "PolicyText", "rules.1.member.scanFrequency"
	Constraint string // the rule it breaks, e.g. "Invalid repository policy provided"
}

func (e *ParamError) Error() string { return e.Field + ": " + e.Constraint }

// ErrorCode returns CodeInvalidParameter.
func (e *ParamError) ErrorCode() Code { return CodeInvalidParameter }

func paramError(field, constraint string, args ...any) *ParamError {
	return &ParamError{Field: field, Constraint: fmt.Sprintf(constraint, args...)}
}

// errBadToken is a nextToken no call of this registry returned.
var errBadToken = &ParamError{Field: "nextToken", Constraint: "the token was not returned by a previous call"}

// Kind is a kind of thing the core holds, named by NotFoundError and
// ExistsError.
type Kind int

// Kinds.
const (
	KindRepository           Kind = iota + 1 // Key names it
	KindImage                                // Image names it in the repository Key
	KindImageTag                             // Image.Tag in the repository Key (an ExistsError: an immutable tag)
	KindLayer                                // ID is its digest, in the repository Key
	KindLifecyclePolicy                      // the repository Key's
	KindLifecyclePreview                     // the repository Key's lifecycle policy preview
	KindRepositoryPolicy                     // the repository Key's
	KindRegistryPolicy                       // the registry Key.Scope's
	KindTemplate                             // a repository creation template: ID is its prefix, in Key.Scope
	KindScan                                 // Image's scan, in the repository Key
	KindExclusion                            // a pull time update exclusion: ID is the principal's ARN, in Key.Scope
	KindBackfill                             // a replication backfill: ID is its ID, in Key.Scope
	KindPullThroughCacheRule                 // ID is its ecrRepositoryPrefix, in Key.Scope
	KindPrincipal                            // a user, role or account root: ID is its ARN (Key.Scope is the registry asked about)
)

var kindNames = map[Kind]string{
	KindRepository:           "repository",
	KindImage:                "image",
	KindImageTag:             "image tag",
	KindLayer:                "layer",
	KindLifecyclePolicy:      "lifecycle policy",
	KindLifecyclePreview:     "lifecycle policy preview",
	KindRepositoryPolicy:     "repository policy",
	KindRegistryPolicy:       "registry policy",
	KindTemplate:             "repository creation template",
	KindScan:                 "image scan",
	KindExclusion:            "pull time update exclusion",
	KindBackfill:             "replication backfill",
	KindPullThroughCacheRule: "pull-through cache rule",
	KindPrincipal:            "principal",
}

func (k Kind) String() string { return kindNames[k] }

// describe names a thing of kind k in the core's words, e.g. `image
// app:v1 in registry 123456789012`.
func describe(k Kind, key metadata.RepoKey, image ImageID, id string) string {
	s := k.String()
	switch k {
	case KindRepository:
		s += fmt.Sprintf(" %q", key.Name)
	case KindImage, KindImageTag, KindScan:
		s += " " + key.Name
		if image.Tag != "" {
			s += ":" + image.Tag
		}
		if image.Digest != "" {
			s += "@" + image.Digest
		}
	case KindLayer:
		s += fmt.Sprintf(" %s of repository %q", id, key.Name)
	case KindLifecyclePolicy, KindLifecyclePreview, KindRepositoryPolicy:
		s += fmt.Sprintf(" of repository %q", key.Name)
	case KindTemplate, KindExclusion, KindBackfill, KindPullThroughCacheRule:
		s += " " + id
	case KindPrincipal:
		return s + " " + id // of an account, not of a registry
	}
	return s + " in registry " + key.Account
}

// NotFoundError is a thing the request names that does not exist.
type NotFoundError struct {
	Kind  Kind
	Key   metadata.RepoKey // the repository, or for registry-level kinds the registry (Key.Scope)
	Image ImageID          // the image, for KindImage and KindScan
	ID    string           // what names it otherwise (see the kinds)
	Hint  string           // what the caller can do about it, or ""
}

func (e *NotFoundError) Error() string {
	s := describe(e.Kind, e.Key, e.Image, e.ID) + " does not exist"
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

var notFoundCodes = map[Kind]Code{
	KindRepository:           CodeNameUnknown,
	KindImage:                CodeManifestUnknown,
	KindLayer:                CodeLayersNotFound,
	KindLifecyclePolicy:      CodeLifecyclePolicyNotFound,
	KindLifecyclePreview:     CodePreviewNotFound,
	KindRepositoryPolicy:     CodeRepositoryPolicyNotFound,
	KindRegistryPolicy:       CodeRegistryPolicyNotFound,
	KindTemplate:             CodeTemplateNotFound,
	KindScan:                 CodeScanNotFound,
	KindExclusion:            CodeExclusionNotFound,
	KindBackfill:             CodeBackfillNotFound,
	KindPullThroughCacheRule: CodePTCRuleNotFound,
	KindPrincipal:            CodePrincipalNotFound,
}

// ErrorCode returns the not-found code of e's kind.
func (e *NotFoundError) ErrorCode() Code { return notFoundCodes[e.Kind] }

// ExistsError is a thing the request would create that exists already.
type ExistsError struct {
	Kind  Kind
	Key   metadata.RepoKey // as NotFoundError's
	Image ImageID          // for KindImage (its digest, and the tag pushed if one was) and KindImageTag
	ID    string
}

func (e *ExistsError) Error() string {
	if e.Kind == KindImageTag {
		return describe(e.Kind, e.Key, ImageID{Tag: e.Image.Tag}, "") + " exists and is immutable: it cannot point to another image"
	}
	return describe(e.Kind, e.Key, e.Image, e.ID) + " exists already"
}

var existsCodes = map[Kind]Code{
	KindRepository:           CodeRepositoryAlreadyExists,
	KindImage:                CodeImageAlreadyExists,
	KindImageTag:             CodeTagImmutable,
	KindLayer:                CodeLayerAlreadyExists,
	KindTemplate:             CodeTemplateAlreadyExists,
	KindExclusion:            CodeExclusionAlreadyExists,
	KindPullThroughCacheRule: CodePTCRuleAlreadyExists,
}

// ErrorCode returns the already-exists code of e's kind.
func (e *ExistsError) ErrorCode() Code { return existsCodes[e.Kind] }

// Conflict is a state that refuses a request.
type Conflict int

// Conflicts.
const (
	ConflictRepositoryNotEmpty Conflict = iota + 1 // deleting a repository that holds images, without force
	ConflictPreviewInProgress                      // a lifecycle policy preview of the repository is running
	ConflictImageArchived                          // pulling an archived image (Digest)
	ConflictImageRestoring                         // pulling an image (Digest) being restored from archive
	ConflictImageInIndex                           // changing the storage class of an image (Digest) the index Index lists
	ConflictBackfillInProgress                     // a backfill to the destination region Digest runs already
	ConflictBackfillStatus                         // stopping a backfill (Digest) that has ended
)

// ConflictError is a request the state of a repository or image refuses.
type ConflictError struct {
	Conflict Conflict
	Key      metadata.RepoKey
	Digest   string // the image, for the image conflicts
	Index    string // the index that lists it, for ConflictImageInIndex
}

func (e *ConflictError) Error() string {
	repo := fmt.Sprintf("repository %q in registry %s", e.Key.Name, e.Key.Account)
	switch e.Conflict {
	case ConflictRepositoryNotEmpty:
		return repo + " still holds images: delete them first, or delete it with force"
	case ConflictPreviewInProgress:
		return "a lifecycle policy preview of " + repo + " is running: wait for it"
	case ConflictImageArchived:
		return "image " + e.Digest + " of " + repo + " is archived: restore it (aws ecr update-image-storage-class --target-storage-class STANDARD) before pulling it"
	case ConflictImageRestoring:
		return "image " + e.Digest + " of " + repo + " is being restored from archive: pull it once its status is ACTIVE"
	case ConflictBackfillInProgress:
		return "a replication backfill to region " + e.Digest + " is in progress in registry " + e.Key.Account + ": wait for it to end, or stop it"
	case ConflictBackfillStatus:
		return "replication backfill " + e.Digest + " in registry " + e.Key.Account + " has ended: only a backfill in progress can be stopped"
	case ConflictImageInIndex:
		return "image " + e.Digest + " of " + repo + " is listed by index " + e.Index + ": change the storage class of the index, which moves the images it lists with it"
	}
	return repo + ": conflict"
}

var conflictCodes = map[Conflict]Code{
	ConflictRepositoryNotEmpty: CodeRepositoryNotEmpty,
	ConflictPreviewInProgress:  CodePreviewInProgress,
	ConflictImageArchived:      CodeImageArchived,
	ConflictImageRestoring:     CodeImageArchived,
	ConflictImageInIndex:       CodeStorageClassUnsupported,
	ConflictBackfillInProgress: CodeBackfillInProgress,
	ConflictBackfillStatus:     CodeBackfillInvalidStatus,
}

// ErrorCode returns the code of e's conflict.
func (e *ConflictError) ErrorCode() Code { return conflictCodes[e.Conflict] }

// Limit is a bound the core keeps.
type Limit int

// Limits.
const (
	LimitScansPerImage         Limit = iota + 1 // scans of one image requested a day
	LimitResourceTags                           // resource tags of a repository (MaxResourceTags)
	LimitTemplates                              // repository creation templates of a registry
	LimitBackfills                              // backfills of a registry in progress at once
	LimitPullThroughCacheRules                  // pull-through cache rules of a registry
)

// LimitError is a request that would go past a limit.
type LimitError struct {
	Limit Limit
	Max   int // the limit
	Got   int // what the request would make it, or 0 when not counted
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitScansPerImage:
		return fmt.Sprintf("an image may be scanned on request %d time(s) a day: try again later", e.Max)
	case LimitResourceTags:
		return fmt.Sprintf("a repository has at most %d tags; this request would leave %d", e.Max, e.Got)
	case LimitTemplates:
		return fmt.Sprintf("a registry holds at most %d repository creation templates", e.Max)
	case LimitBackfills:
		return fmt.Sprintf("a registry runs at most %d replication backfills at once", e.Max)
	case LimitPullThroughCacheRules:
		return fmt.Sprintf("a registry holds at most %d pull-through cache rules", e.Max)
	}
	return fmt.Sprintf("limit of %d exceeded", e.Max)
}

var limitCodes = map[Limit]Code{
	LimitScansPerImage:         CodeLimitExceeded,
	LimitResourceTags:          CodeTooManyTags,
	LimitTemplates:             CodeValidation,
	LimitBackfills:             CodeLimitExceeded,
	LimitPullThroughCacheRules: CodeLimitExceeded,
}

// ErrorCode returns the code of e's limit.
func (e *LimitError) ErrorCode() Code { return limitCodes[e.Limit] }

// TagRule is a rule on resource tags.
type TagRule int

// Tag rules.
const (
	TagKeyLength   TagRule = iota + 1 // keys have 1 to Max characters
	TagValueLength                    // values have at most Max characters
	TagKeyReserved                    // keys starting with "aws:" are reserved
)

// TagError is a resource tag that breaks a rule (CodeInvalidTagParameter).
type TagError struct {
	Rule TagRule
	Max  int // the bound of a length rule
}

func (e *TagError) Error() string {
	switch e.Rule {
	case TagKeyLength:
		return fmt.Sprintf("tag keys have 1 to %d characters", e.Max)
	case TagValueLength:
		return fmt.Sprintf("tag values have at most %d characters", e.Max)
	}
	return "tag keys starting with aws: are reserved"
}

// ErrorCode returns CodeInvalidTagParameter.
func (e *TagError) ErrorCode() Code { return CodeInvalidTagParameter }

// LayerProblem is why the ECR API's layer upload refuses a request.
type LayerProblem int

// Layer problems.
const (
	LayerPartLength     LayerProblem = iota + 1 // the part's range (First to Last) does not match its Length
	LayerPartGap                                // the part starts at First, not where the upload ends (Held)
	LayerPartTooSmall                           // the previous part (Previous bytes) is under MinLayerPartSize
	LayerEmpty                                  // completing an upload (Upload) that received no part
	LayerDigestMismatch                         // the content does not match Digest (Detail says how)
)

// LayerError is a request of the layer upload API that breaks its rules.
type LayerError struct {
	Problem     LayerProblem
	Upload      string
	Digest      string
	First, Last int64 // the part's byte range
	Length      int64 // the part's length
	Held        int64 // bytes the upload holds
	Previous    int64 // bytes of the previous part
	Detail      string
}

func (e *LayerError) Error() string {
	switch e.Problem {
	case LayerPartLength:
		return fmt.Sprintf("the layer part covers bytes %d to %d but carries %d bytes", e.First, e.Last, e.Length)
	case LayerPartGap:
		return fmt.Sprintf("the layer part starts at byte %d, but the upload holds %d bytes", e.First, e.Held)
	case LayerPartTooSmall:
		return fmt.Sprintf("every layer part but the last has at least %d bytes; the previous part had %d", MinLayerPartSize, e.Previous)
	case LayerEmpty:
		return "upload " + e.Upload + " received no layer part: upload at least one part first"
	}
	return "the layer's content does not match digest " + e.Digest + ": " + e.Detail
}

var layerCodes = map[LayerProblem]Code{
	LayerPartLength:     CodeInvalidLayerPart,
	LayerPartGap:        CodeInvalidLayerPart,
	LayerPartTooSmall:   CodeLayerPartTooSmall,
	LayerEmpty:          CodeEmptyUpload,
	LayerDigestMismatch: CodeInvalidLayer,
}

// ErrorCode returns the code of e's problem.
func (e *LayerError) ErrorCode() Code { return layerCodes[e.Problem] }

// DeniedError is a request its caller may not make: an authenticated
// caller that IAM denies (CodeAccessDenied), or an anonymous caller
// (CodeUnauthenticated).
type DeniedError struct {
	Action    Action
	Anonymous bool
	// Explanation is IAM's account of the denial ("User: ... is not
	// authorized to perform: ..."), with its encoded form when the
	// registry can seal one; "" for an anonymous caller no policy denied
	// explicitly.
	Explanation string
}

func (e *DeniedError) Error() string {
	if !e.Anonymous {
		return e.Explanation
	}
	why := e.Explanation
	if why == "" {
		why = "log in with `aws ecr get-login-password | docker login --username AWS --password-stdin <registry>`"
	}
	return "authentication required to perform " + string(e.Action) + ": " + why
}

// ErrorCode returns CodeUnauthenticated for an anonymous caller, else
// CodeAccessDenied.
func (e *DeniedError) ErrorCode() Code {
	if e.Anonymous {
		return CodeUnauthenticated
	}
	return CodeAccessDenied
}
