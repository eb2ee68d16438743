package ecr

// Validation of decoded requests against the constraints of the AWS service
// model (botocore ecr/2015-09-21/service-2.json, whose constraints the Amazon
// ECR API Reference lists per operation): required members, string, list and
// blob lengths, patterns, enums and integer ranges.
//
// Errors take the form of ECR's InvalidParameterException message,
//
//	Invalid parameter at '<member>' failed to satisfy constraint: '<constraint>'
//
// and name the first violation in the model's member order. Within one
// member the checks run in the order required, length, range, pattern,
// enum; a list's own length is checked before its members.
//
// Member paths follow AWS's Coral front end: nested structure members are
// joined with dots and list members are named "<list>.<n>.member" with n
// counted from 1, e.g. "imageIds.1.member.imageTag",
// "tags.2.member.Key" or "layerDigests.3.member".
//
// Lengths are counted as the model counts them: Unicode code points for
// strings, bytes for blobs, members for lists.
//
// Every model pattern is compiled once and matched against the whole value
// (the model's patterns are unanchored, AWS applies them to the whole
// value); the error quotes the pattern exactly as the model writes it.

import (
	"regexp"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// InvalidParameterError is a request that fails a model constraint; the
// adapter answers it with InvalidParameterException and Error() as the
// message.
type InvalidParameterError struct {
	Member     string // path of the offending member, e.g. "imageIds.1.member.imageTag"
	Constraint string // e.g. "must have length greater than or equal to 2"
}

func (e *InvalidParameterError) Error() string {
	return "Invalid parameter at '" + e.Member + "' failed to satisfy constraint: '" + e.Constraint + "'"
}

// modelPattern is a pattern of the model: text as the model writes it (and
// the error quotes it), re anchored to match whole values.
type modelPattern struct {
	text string
	re   *regexp.Regexp
}

func newModelPattern(text string) *modelPattern {
	return &modelPattern{text: text, re: regexp.MustCompile(`^(?:` + text + `)$`)}
}

// Patterns of the model, as it writes them. Messages captured from AWS
// (quoted in third-party emulator tests) show the repositoryName pattern
// with a bare "/" where the model writes "\/"; the model's text is kept
// here, as the reference (Appendix A) writes it.
var (
	patternRegistryID          = newModelPattern(`[0-9]{12}`)
	patternRepositoryName      = newModelPattern(`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`)
	patternLayerDigest         = newModelPattern(`[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+`)
	patternUploadID            = newModelPattern(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	patternPrefix              = newModelPattern(`^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$`)
	patternTemplateKmsKey      = newModelPattern(`^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[a-z0-9-]+`)
	patternExclusionFilterText = newModelPattern(`^[0-9a-zA-Z._*-]{1,128}$`)
)

// Enums of the model, in its order.
var (
	enumImageTagMutability    = []string{"MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"}
	enumExclusionFilterType   = []string{"WILDCARD"}
	enumEncryptionType        = []string{"AES256", "KMS", "KMS_DSSE"}
	enumTagStatus             = []string{"TAGGED", "UNTAGGED", "ANY"}
	enumImageStatusFilter     = []string{"ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"}
	enumArtifactStatusFilter  = []string{"ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"}
	enumRepositoryTemplateFor = []string{"REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"}
)

// lengthRule bounds the length of a string, blob or list; zero means no
// bound (a minimum of 0 bounds nothing, and no shape has a maximum of 0).
type lengthRule struct{ min, max int }

// stringRule is the constraints of a string shape.
type stringRule struct {
	length  lengthRule
	pattern *modelPattern
	enum    []string
}

// rangeRule bounds an integer; a nil bound is no bound.
type rangeRule struct{ min, max *int64 }

func intRange(lo, hi int64) rangeRule { return rangeRule{min: &lo, max: &hi} }
func intAtLeast(lo int64) rangeRule   { return rangeRule{min: &lo} }

// Shapes of the model, named after it.
var (
	shapeRegistryID              = stringRule{pattern: patternRegistryID}
	shapeRepositoryName          = stringRule{length: lengthRule{2, 256}, pattern: patternRepositoryName}
	shapeImageDigest             = stringRule{}
	shapeImageTag                = stringRule{length: lengthRule{1, 300}}
	shapeMediaType               = stringRule{}
	shapeNextToken               = stringRule{}
	shapeArn                     = stringRule{}
	shapeTagKey                  = stringRule{}
	shapeTagValue                = stringRule{}
	shapeBatchedLayerDigest      = stringRule{length: lengthRule{0, 1000}}
	shapeLayerDigest             = stringRule{pattern: patternLayerDigest}
	shapeUploadID                = stringRule{pattern: patternUploadID}
	shapeImageManifest           = stringRule{length: lengthRule{1, 4194304}}
	shapeImageTagMutability      = stringRule{enum: enumImageTagMutability}
	shapeExclusionFilterType     = stringRule{enum: enumExclusionFilterType}
	shapeExclusionFilterValue    = stringRule{length: lengthRule{1, 128}, pattern: patternExclusionFilterText}
	shapeEncryptionType          = stringRule{enum: enumEncryptionType}
	shapeKmsKey                  = stringRule{length: lengthRule{1, 2048}}
	shapeTemplateKmsKey          = stringRule{length: lengthRule{0, 2048}, pattern: patternTemplateKmsKey}
	shapePrefix                  = stringRule{length: lengthRule{1, 256}, pattern: patternPrefix}
	shapeTemplateDescription     = stringRule{length: lengthRule{0, 256}}
	shapeRepositoryPolicyText    = stringRule{length: lengthRule{0, 10240}}
	shapeTemplateLifecyclePolicy = stringRule{length: lengthRule{0, 30720}}
	shapeRCTAppliedFor           = stringRule{enum: enumRepositoryTemplateFor}
	shapeCustomRoleArn           = stringRule{length: lengthRule{0, 2048}}
	shapeTagStatus               = stringRule{enum: enumTagStatus}
	shapeImageStatusFilter       = stringRule{enum: enumImageStatusFilter}
	shapeArtifactStatusFilter    = stringRule{enum: enumArtifactStatusFilter}
	shapeArtifactType            = stringRule{length: lengthRule{1, 255}}
	shapeAccountSettingName      = stringRule{length: lengthRule{1, 64}}
	shapeAccountSettingValue     = stringRule{}
	shapeMaxResults              = intRange(1, 1000)
	shapeFiftyMaxResults         = intRange(1, 50)
	shapePartSize                = intAtLeast(0)
	shapeLayerPartBlob           = lengthRule{0, 20971520}
	listImageIdentifiers         = lengthRule{1, 100}
	listBatchedLayerDigests      = lengthRule{1, 100}
	listLayerDigests             = lengthRule{1, 100}
	listMediaTypes               = lengthRule{1, 100}
	listRepositoryNames          = lengthRule{1, 100}
	listAuthorizationRegistryIDs = lengthRule{1, 10}
	listExclusionFilters         = lengthRule{1, 5}
	listArtifactTypes            = lengthRule{0, 5}
	listTags                     = lengthRule{}
	listTagKeys                  = lengthRule{}
	listPrefixes                 = lengthRule{}
	listRCTAppliedFor            = lengthRule{}
)

// presence says whether the model requires a member.
type presence bool

const (
	requiredMember presence = true
	optionalMember presence = false
)

// shapeChecker walks one request and keeps its first violation; once it has
// one, every further check does nothing.
type shapeChecker struct {
	err *InvalidParameterError
}

func (c *shapeChecker) fail(path, constraint string) {
	if c.err == nil {
		c.err = &InvalidParameterError{Member: path, Constraint: constraint}
	}
}

// result returns the first violation as an error, or nil.
func (c *shapeChecker) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// present reports whether a member is set, recording a violation when a
// required one is not. It is false after any violation, so callers can use
// it to decide whether to look inside the member.
func (c *shapeChecker) present(path string, set bool, p presence) bool {
	if c.err != nil {
		return false
	}
	if !set && p == requiredMember {
		c.fail(path, "must not be null")
	}
	return set
}

func (c *shapeChecker) length(path string, n int, r lengthRule) {
	switch {
	case r.min > 0 && n < r.min:
		c.fail(path, "must have length greater than or equal to "+strconv.Itoa(r.min))
	case r.max > 0 && n > r.max:
		c.fail(path, "must have length less than or equal to "+strconv.Itoa(r.max))
	}
}

// str checks a string member.
func (c *shapeChecker) str(path string, v *string, p presence, r stringRule) {
	if !c.present(path, v != nil, p) {
		return
	}
	c.stringValue(path, *v, r)
}

func (c *shapeChecker) stringValue(path, s string, r stringRule) {
	if r.length.min > 0 || r.length.max > 0 {
		c.length(path, utf8.RuneCountInString(s), r.length)
	}
	if c.err != nil {
		return
	}
	if r.pattern != nil && !r.pattern.re.MatchString(s) {
		c.fail(path, "must satisfy regular expression '"+r.pattern.text+"'")
		return
	}
	if r.enum != nil && !slices.Contains(r.enum, s) {
		c.fail(path, "must satisfy enum value set: ["+strings.Join(r.enum, ", ")+"]")
	}
}

// boolean checks a boolean member, which has no constraint but presence.
func (c *shapeChecker) boolean(path string, v *bool, p presence) {
	c.present(path, v != nil, p)
}

// int32 checks an integer member.
func (c *shapeChecker) int32(path string, v *int32, p presence, r rangeRule) {
	if !c.present(path, v != nil, p) {
		return
	}
	c.inRange(path, int64(*v), r)
}

// int64 checks a long member.
func (c *shapeChecker) int64(path string, v *int64, p presence, r rangeRule) {
	if !c.present(path, v != nil, p) {
		return
	}
	c.inRange(path, *v, r)
}

func (c *shapeChecker) inRange(path string, v int64, r rangeRule) {
	switch {
	case r.min != nil && v < *r.min:
		c.fail(path, "must be greater than or equal to "+strconv.FormatInt(*r.min, 10))
	case r.max != nil && v > *r.max:
		c.fail(path, "must be less than or equal to "+strconv.FormatInt(*r.max, 10))
	}
}

// blob checks a blob member; nil is absent, an empty slice is present.
func (c *shapeChecker) blob(path string, v []byte, p presence, r lengthRule) {
	if !c.present(path, v != nil, p) {
		return
	}
	c.length(path, len(v), r)
}

// checkStructure checks a structure member with each, which checks its members.
func checkStructure[T any](c *shapeChecker, path string, v *T, p presence, each func(*shapeChecker, string, *T)) {
	if !c.present(path, v != nil, p) {
		return
	}
	each(c, path, v)
}

// checkList checks a list member's length, then each of its members with each,
// under the path "<path>.<n>.member". A nil slice is absent.
func checkList[T any](c *shapeChecker, path string, v []T, p presence, r lengthRule, each func(*shapeChecker, string, *T)) {
	if !c.present(path, v != nil, p) {
		return
	}
	c.length(path, len(v), r)
	for i := range v {
		if c.err != nil {
			return
		}
		each(c, awsjson.MemberPath(path, i), &v[i])
	}
}

// stringMembers returns a list-member shapeChecker for strings of shape r.
func stringMembers(r stringRule) func(*shapeChecker, string, *string) {
	return func(c *shapeChecker, path string, s *string) { c.stringValue(path, *s, r) }
}

func nestedPath(parent, name string) string { return parent + "." + name }

// Checkers of nested structures.

func (c *shapeChecker) imageIdentifier(path string, v *ImageIdentifier) {
	c.str(nestedPath(path, "imageDigest"), v.ImageDigest, optionalMember, shapeImageDigest)
	c.str(nestedPath(path, "imageTag"), v.ImageTag, optionalMember, shapeImageTag)
}

func (c *shapeChecker) tag(path string, v *Tag) {
	c.str(nestedPath(path, "Key"), v.Key, requiredMember, shapeTagKey)
	c.str(nestedPath(path, "Value"), v.Value, requiredMember, shapeTagValue)
}

func (c *shapeChecker) exclusionFilter(path string, v *ImageTagMutabilityExclusionFilter) {
	c.str(nestedPath(path, "filterType"), v.FilterType, requiredMember, shapeExclusionFilterType)
	c.str(nestedPath(path, "filter"), v.Filter, requiredMember, shapeExclusionFilterValue)
}

func (c *shapeChecker) imageScanningConfiguration(path string, v *ImageScanningConfiguration) {
	c.boolean(nestedPath(path, "scanOnPush"), v.ScanOnPush, optionalMember)
}

func (c *shapeChecker) encryptionConfiguration(path string, v *EncryptionConfiguration) {
	c.str(nestedPath(path, "encryptionType"), v.EncryptionType, requiredMember, shapeEncryptionType)
	c.str(nestedPath(path, "kmsKey"), v.KmsKey, optionalMember, shapeKmsKey)
}

func (c *shapeChecker) templateEncryptionConfiguration(path string, v *EncryptionConfigurationForRepositoryCreationTemplate) {
	c.str(nestedPath(path, "encryptionType"), v.EncryptionType, requiredMember, shapeEncryptionType)
	c.str(nestedPath(path, "kmsKey"), v.KmsKey, optionalMember, shapeTemplateKmsKey)
}

func (c *shapeChecker) listImagesFilter(path string, v *ListImagesFilter) {
	c.str(nestedPath(path, "tagStatus"), v.TagStatus, optionalMember, shapeTagStatus)
	c.str(nestedPath(path, "imageStatus"), v.ImageStatus, optionalMember, shapeImageStatusFilter)
}

func (c *shapeChecker) describeImagesFilter(path string, v *DescribeImagesFilter) {
	c.str(nestedPath(path, "tagStatus"), v.TagStatus, optionalMember, shapeTagStatus)
	c.str(nestedPath(path, "imageStatus"), v.ImageStatus, optionalMember, shapeImageStatusFilter)
}

func (c *shapeChecker) subjectIdentifier(path string, v *SubjectIdentifier) {
	c.str(nestedPath(path, "imageDigest"), v.ImageDigest, requiredMember, shapeImageDigest)
}

func (c *shapeChecker) listImageReferrersFilter(path string, v *ListImageReferrersFilter) {
	checkList(c, nestedPath(path, "artifactTypes"), v.ArtifactTypes, optionalMember, listArtifactTypes, stringMembers(shapeArtifactType))
	c.str(nestedPath(path, "artifactStatus"), v.ArtifactStatus, optionalMember, shapeArtifactStatusFilter)
}

// Operations, in alphabetical order; members in the model's order.

func (in *BatchCheckLayerAvailabilityInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkList(c, "layerDigests", in.LayerDigests, requiredMember, listBatchedLayerDigests, stringMembers(shapeBatchedLayerDigest))
	return c.result()
}

func (in *BatchDeleteImageInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkList(c, "imageIds", in.ImageIds, requiredMember, listImageIdentifiers, (*shapeChecker).imageIdentifier)
	return c.result()
}

func (in *BatchGetImageInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkList(c, "imageIds", in.ImageIds, requiredMember, listImageIdentifiers, (*shapeChecker).imageIdentifier)
	checkList(c, "acceptedMediaTypes", in.AcceptedMediaTypes, optionalMember, listMediaTypes, stringMembers(shapeMediaType))
	return c.result()
}

func (in *CompleteLayerUploadInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("uploadId", in.UploadId, requiredMember, shapeUploadID)
	checkList(c, "layerDigests", in.LayerDigests, requiredMember, listLayerDigests, stringMembers(shapeLayerDigest))
	return c.result()
}

func (in *CreateRepositoryInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkList(c, "tags", in.Tags, optionalMember, listTags, (*shapeChecker).tag)
	c.str("imageTagMutability", in.ImageTagMutability, optionalMember, shapeImageTagMutability)
	checkList(c, "imageTagMutabilityExclusionFilters", in.ImageTagMutabilityExclusionFilters, optionalMember, listExclusionFilters, (*shapeChecker).exclusionFilter)
	checkStructure(c, "imageScanningConfiguration", in.ImageScanningConfiguration, optionalMember, (*shapeChecker).imageScanningConfiguration)
	checkStructure(c, "encryptionConfiguration", in.EncryptionConfiguration, optionalMember, (*shapeChecker).encryptionConfiguration)
	return c.result()
}

func (in *CreateRepositoryCreationTemplateInput) validate() error {
	return in.check(requiredMember)
}

// check validates a template request, whose appliedFor is required or not.
func (in *CreateRepositoryCreationTemplateInput) check(appliedFor presence) error {
	c := new(shapeChecker)
	c.str("prefix", in.Prefix, requiredMember, shapePrefix)
	c.str("description", in.Description, optionalMember, shapeTemplateDescription)
	checkStructure(c, "encryptionConfiguration", in.EncryptionConfiguration, optionalMember, (*shapeChecker).templateEncryptionConfiguration)
	checkList(c, "resourceTags", in.ResourceTags, optionalMember, listTags, (*shapeChecker).tag)
	c.str("imageTagMutability", in.ImageTagMutability, optionalMember, shapeImageTagMutability)
	checkList(c, "imageTagMutabilityExclusionFilters", in.ImageTagMutabilityExclusionFilters, optionalMember, listExclusionFilters, (*shapeChecker).exclusionFilter)
	c.str("repositoryPolicy", in.RepositoryPolicy, optionalMember, shapeRepositoryPolicyText)
	c.str("lifecyclePolicy", in.LifecyclePolicy, optionalMember, shapeTemplateLifecyclePolicy)
	checkList(c, "appliedFor", in.AppliedFor, appliedFor, listRCTAppliedFor, stringMembers(shapeRCTAppliedFor))
	c.str("customRoleArn", in.CustomRoleArn, optionalMember, shapeCustomRoleArn)
	return c.result()
}

func (in *DeleteRepositoryInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.boolean("force", in.Force, optionalMember)
	return c.result()
}

func (in *DeleteRepositoryCreationTemplateInput) validate() error {
	c := new(shapeChecker)
	c.str("prefix", in.Prefix, requiredMember, shapePrefix)
	return c.result()
}

func (in *DescribeImagesInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkList(c, "imageIds", in.ImageIds, optionalMember, listImageIdentifiers, (*shapeChecker).imageIdentifier)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	checkStructure(c, "filter", in.Filter, optionalMember, (*shapeChecker).describeImagesFilter)
	return c.result()
}

func (in *DescribeRegistryInput) validate() error {
	return nil
}

func (in *DescribeRepositoriesInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	checkList(c, "repositoryNames", in.RepositoryNames, optionalMember, listRepositoryNames, stringMembers(shapeRepositoryName))
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	return c.result()
}

func (in *DescribeRepositoryCreationTemplatesInput) validate() error {
	c := new(shapeChecker)
	checkList(c, "prefixes", in.Prefixes, optionalMember, listPrefixes, stringMembers(shapePrefix))
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	return c.result()
}

func (in *GetAccountSettingInput) validate() error {
	c := new(shapeChecker)
	c.str("name", in.Name, requiredMember, shapeAccountSettingName)
	return c.result()
}

func (in *GetAuthorizationTokenInput) validate() error {
	c := new(shapeChecker)
	checkList(c, "registryIds", in.RegistryIds, optionalMember, listAuthorizationRegistryIDs, stringMembers(shapeRegistryID))
	return c.result()
}

func (in *GetDownloadUrlForLayerInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("layerDigest", in.LayerDigest, requiredMember, shapeLayerDigest)
	return c.result()
}

func (in *InitiateLayerUploadInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	return c.result()
}

func (in *ListImagesInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	checkStructure(c, "filter", in.Filter, optionalMember, (*shapeChecker).listImagesFilter)
	return c.result()
}

func (in *ListImageReferrersInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "subjectId", in.SubjectId, requiredMember, (*shapeChecker).subjectIdentifier)
	checkStructure(c, "filter", in.Filter, optionalMember, (*shapeChecker).listImageReferrersFilter)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeFiftyMaxResults)
	return c.result()
}

func (in *ListTagsForResourceInput) validate() error {
	c := new(shapeChecker)
	c.str("resourceArn", in.ResourceArn, requiredMember, shapeArn)
	return c.result()
}

func (in *PutAccountSettingInput) validate() error {
	c := new(shapeChecker)
	c.str("name", in.Name, requiredMember, shapeAccountSettingName)
	c.str("value", in.Value, requiredMember, shapeAccountSettingValue)
	return c.result()
}

func (in *PutImageInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("imageManifest", in.ImageManifest, requiredMember, shapeImageManifest)
	c.str("imageManifestMediaType", in.ImageManifestMediaType, optionalMember, shapeMediaType)
	c.str("imageTag", in.ImageTag, optionalMember, shapeImageTag)
	c.str("imageDigest", in.ImageDigest, optionalMember, shapeImageDigest)
	return c.result()
}

func (in *PutImageScanningConfigurationInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "imageScanningConfiguration", in.ImageScanningConfiguration, requiredMember, (*shapeChecker).imageScanningConfiguration)
	return c.result()
}

func (in *PutImageTagMutabilityInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("imageTagMutability", in.ImageTagMutability, requiredMember, shapeImageTagMutability)
	checkList(c, "imageTagMutabilityExclusionFilters", in.ImageTagMutabilityExclusionFilters, optionalMember, listExclusionFilters, (*shapeChecker).exclusionFilter)
	return c.result()
}

func (in *TagResourceInput) validate() error {
	c := new(shapeChecker)
	c.str("resourceArn", in.ResourceArn, requiredMember, shapeArn)
	checkList(c, "tags", in.Tags, requiredMember, listTags, (*shapeChecker).tag)
	return c.result()
}

func (in *UntagResourceInput) validate() error {
	c := new(shapeChecker)
	c.str("resourceArn", in.ResourceArn, requiredMember, shapeArn)
	checkList(c, "tagKeys", in.TagKeys, requiredMember, listTagKeys, stringMembers(shapeTagKey))
	return c.result()
}

func (in *UpdateRepositoryCreationTemplateInput) validate() error {
	return (*CreateRepositoryCreationTemplateInput)(in).check(optionalMember)
}

func (in *UploadLayerPartInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("uploadId", in.UploadId, requiredMember, shapeUploadID)
	c.int64("partFirstByte", in.PartFirstByte, requiredMember, shapePartSize)
	c.int64("partLastByte", in.PartLastByte, requiredMember, shapePartSize)
	c.blob("layerPartBlob", in.LayerPartBlob, requiredMember, shapeLayerPartBlob)
	return c.result()
}
