package ecr

// Request and response shapes of the ECR operations ecrd serves, after the
// AWS service model (botocore ecr/2015-09-21/service-2.json) and the Amazon
// ECR API Reference. JSON member names are the model's, letter for letter
// (including the capitalised Key and Value of Tag).
//
// Conventions:
//
//   - Inputs (<Op>Input, and every nested structure that can appear in a
//     request) hold scalars as pointers, lists as slices and structures as
//     pointers, so that an absent member (nil) differs from an empty one
//     ("" or []); validate() depends on that. Blobs are []byte, which
//     encoding/json and awsjson.Decode read and write as base64.
//   - Structures that appear only in responses hold plain values with
//     omitempty; numbers are pointers where zero is a meaningful value
//     (layer and image sizes, byte offsets), and timestamps are *Timestamp.
//     Members the model marks required in a response-only structure carry
//     no omitempty.
//   - ImageIdentifier, Tag, ImageTagMutabilityExclusionFilter,
//     ImageScanningConfiguration, EncryptionConfiguration,
//     EncryptionConfigurationForRepositoryCreationTemplate and the
//     replication configuration's structures (replication.go) appear in
//     both requests and responses, so they follow the input convention.
//     Go 1.26's new(expr) makes the pointers cheap to fill: ImageTag:
//     new(tag).

import (
	"github.com/ecrd/ecrd/internal/api/awsjson"
)

// Timestamp is an AWS JSON 1.1 timestamp. The shapes, and ecrd's own
// clients that build them, name it here.
type Timestamp = awsjson.Timestamp

// Nested structures that appear in requests (and in responses).

// ImageIdentifier names an image by digest, tag or both.
type ImageIdentifier struct {
	ImageDigest *string `json:"imageDigest,omitempty"`
	ImageTag    *string `json:"imageTag,omitempty"`
}

// Tag is one resource tag. Both members are required.
type Tag struct {
	Key   *string `json:"Key,omitempty"`
	Value *string `json:"Value,omitempty"`
}

// ImageTagMutabilityExclusionFilter is a tag filter exempt from the
// repository's tag mutability setting. Both members are required.
type ImageTagMutabilityExclusionFilter struct {
	FilterType *string `json:"filterType,omitempty"`
	Filter     *string `json:"filter,omitempty"`
}

// ImageScanningConfiguration is a repository's scan-on-push setting.
type ImageScanningConfiguration struct {
	ScanOnPush *bool `json:"scanOnPush,omitempty"`
}

// EncryptionConfiguration is a repository's encryption at rest.
// EncryptionType is required.
type EncryptionConfiguration struct {
	EncryptionType *string `json:"encryptionType,omitempty"`
	KmsKey         *string `json:"kmsKey,omitempty"`
}

// EncryptionConfigurationForRepositoryCreationTemplate is the encryption a
// template gives the repositories it creates. Unlike
// EncryptionConfiguration, its kmsKey may be empty and must otherwise be a
// KMS key ARN. EncryptionType is required.
type EncryptionConfigurationForRepositoryCreationTemplate struct {
	EncryptionType *string `json:"encryptionType,omitempty"`
	KmsKey         *string `json:"kmsKey,omitempty"`
}

// Nested structures that appear only in requests.

// ListImagesFilter narrows ListImages.
type ListImagesFilter struct {
	TagStatus   *string `json:"tagStatus,omitempty"`
	ImageStatus *string `json:"imageStatus,omitempty"`
}

// DescribeImagesFilter narrows DescribeImages.
type DescribeImagesFilter struct {
	TagStatus   *string `json:"tagStatus,omitempty"`
	ImageStatus *string `json:"imageStatus,omitempty"`
}

// SubjectIdentifier names the subject image of ListImageReferrers.
// ImageDigest is required.
type SubjectIdentifier struct {
	ImageDigest *string `json:"imageDigest,omitempty"`
}

// ListImageReferrersFilter narrows ListImageReferrers.
type ListImageReferrersFilter struct {
	ArtifactTypes  []string `json:"artifactTypes,omitempty"`
	ArtifactStatus *string  `json:"artifactStatus,omitempty"`
}

// Nested structures that appear only in responses.

// Repository describes a repository.
type Repository struct {
	RepositoryArn                      string                              `json:"repositoryArn,omitempty"`
	RegistryId                         string                              `json:"registryId,omitempty"`
	RepositoryName                     string                              `json:"repositoryName,omitempty"`
	RepositoryUri                      string                              `json:"repositoryUri,omitempty"`
	CreatedAt                          *Timestamp                          `json:"createdAt,omitempty"`
	ImageTagMutability                 string                              `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []ImageTagMutabilityExclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         *ImageScanningConfiguration         `json:"imageScanningConfiguration,omitempty"`
	EncryptionConfiguration            *EncryptionConfiguration            `json:"encryptionConfiguration,omitempty"`
}

// Image is an image manifest with the identity it was asked by.
type Image struct {
	RegistryId             string           `json:"registryId,omitempty"`
	RepositoryName         string           `json:"repositoryName,omitempty"`
	ImageId                *ImageIdentifier `json:"imageId,omitempty"`
	ImageManifest          string           `json:"imageManifest,omitempty"`
	ImageManifestMediaType string           `json:"imageManifestMediaType,omitempty"`
}

// ImageFailure is one image a batch operation could not handle.
type ImageFailure struct {
	ImageId       *ImageIdentifier `json:"imageId,omitempty"`
	FailureCode   string           `json:"failureCode,omitempty"`
	FailureReason string           `json:"failureReason,omitempty"`
}

// Layer is a layer's availability in BatchCheckLayerAvailability.
type Layer struct {
	LayerDigest       string `json:"layerDigest,omitempty"`
	LayerAvailability string `json:"layerAvailability,omitempty"`
	LayerSize         *int64 `json:"layerSize,omitempty"`
	MediaType         string `json:"mediaType,omitempty"`
}

// LayerFailure is one layer digest BatchCheckLayerAvailability could not
// handle.
type LayerFailure struct {
	LayerDigest   string `json:"layerDigest,omitempty"`
	FailureCode   string `json:"failureCode,omitempty"`
	FailureReason string `json:"failureReason,omitempty"`
}

// ImageDetail describes one image in DescribeImages.
type ImageDetail struct {
	RegistryId               string                    `json:"registryId,omitempty"`
	RepositoryName           string                    `json:"repositoryName,omitempty"`
	ImageDigest              string                    `json:"imageDigest,omitempty"`
	ImageTags                []string                  `json:"imageTags,omitempty"`
	ImageSizeInBytes         *int64                    `json:"imageSizeInBytes,omitempty"`
	ImagePushedAt            *Timestamp                `json:"imagePushedAt,omitempty"`
	ImageScanStatus          *ImageScanStatus          `json:"imageScanStatus,omitempty"`
	ImageScanFindingsSummary *ImageScanFindingsSummary `json:"imageScanFindingsSummary,omitempty"`
	ImageManifestMediaType   string                    `json:"imageManifestMediaType,omitempty"`
	ArtifactMediaType        string                    `json:"artifactMediaType,omitempty"`
	LastRecordedPullTime     *Timestamp                `json:"lastRecordedPullTime,omitempty"`
	SubjectManifestDigest    string                    `json:"subjectManifestDigest,omitempty"`
	ImageStatus              string                    `json:"imageStatus,omitempty"`
	LastArchivedAt           *Timestamp                `json:"lastArchivedAt,omitempty"`
	LastActivatedAt          *Timestamp                `json:"lastActivatedAt,omitempty"`
}

// ImageScanStatus is the state of an image's latest scan.
type ImageScanStatus struct {
	Status      string `json:"status,omitempty"`
	Description string `json:"description,omitempty"`
}

// ImageScanFindingsSummary counts an image's findings by severity
// (INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNDEFINED).
type ImageScanFindingsSummary struct {
	ImageScanCompletedAt         *Timestamp       `json:"imageScanCompletedAt,omitempty"`
	VulnerabilitySourceUpdatedAt *Timestamp       `json:"vulnerabilitySourceUpdatedAt,omitempty"`
	FindingSeverityCounts        map[string]int32 `json:"findingSeverityCounts,omitempty"`
}

// ImageReferrer is an artifact that refers to a subject image. Digest,
// MediaType and Size are required.
type ImageReferrer struct {
	Digest         string            `json:"digest"`
	MediaType      string            `json:"mediaType"`
	ArtifactType   string            `json:"artifactType,omitempty"`
	Size           int64             `json:"size"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	ArtifactStatus string            `json:"artifactStatus,omitempty"`
}

// AuthorizationData is a docker login credential: AuthorizationToken is
// base64("AWS:<password>").
type AuthorizationData struct {
	AuthorizationToken string     `json:"authorizationToken,omitempty"`
	ExpiresAt          *Timestamp `json:"expiresAt,omitempty"`
	ProxyEndpoint      string     `json:"proxyEndpoint,omitempty"`
}

// RepositoryCreationTemplate describes a repository creation template.
type RepositoryCreationTemplate struct {
	Prefix                             string                                                `json:"prefix,omitempty"`
	Description                        string                                                `json:"description,omitempty"`
	EncryptionConfiguration            *EncryptionConfigurationForRepositoryCreationTemplate `json:"encryptionConfiguration,omitempty"`
	ResourceTags                       []Tag                                                 `json:"resourceTags,omitempty"`
	ImageTagMutability                 string                                                `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []ImageTagMutabilityExclusionFilter                   `json:"imageTagMutabilityExclusionFilters,omitempty"`
	RepositoryPolicy                   string                                                `json:"repositoryPolicy,omitempty"`
	LifecyclePolicy                    string                                                `json:"lifecyclePolicy,omitempty"`
	AppliedFor                         []string                                              `json:"appliedFor,omitempty"`
	CustomRoleArn                      string                                                `json:"customRoleArn,omitempty"`
	CreatedAt                          *Timestamp                                            `json:"createdAt,omitempty"`
	UpdatedAt                          *Timestamp                                            `json:"updatedAt,omitempty"`
}

// Operations, in alphabetical order.

// BatchCheckLayerAvailabilityInput is the BatchCheckLayerAvailability request.
type BatchCheckLayerAvailabilityInput struct {
	RegistryId     *string  `json:"registryId,omitempty"`
	RepositoryName *string  `json:"repositoryName,omitempty"`
	LayerDigests   []string `json:"layerDigests,omitempty"`
}

// BatchCheckLayerAvailabilityOutput is the BatchCheckLayerAvailability response.
type BatchCheckLayerAvailabilityOutput struct {
	Layers   []Layer        `json:"layers"`
	Failures []LayerFailure `json:"failures"`
}

// BatchDeleteImageInput is the BatchDeleteImage request.
type BatchDeleteImageInput struct {
	RegistryId     *string           `json:"registryId,omitempty"`
	RepositoryName *string           `json:"repositoryName,omitempty"`
	ImageIds       []ImageIdentifier `json:"imageIds,omitempty"`
}

// BatchDeleteImageOutput is the BatchDeleteImage response.
type BatchDeleteImageOutput struct {
	ImageIds []ImageIdentifier `json:"imageIds"`
	Failures []ImageFailure    `json:"failures"`
}

// BatchGetImageInput is the BatchGetImage request.
type BatchGetImageInput struct {
	RegistryId         *string           `json:"registryId,omitempty"`
	RepositoryName     *string           `json:"repositoryName,omitempty"`
	ImageIds           []ImageIdentifier `json:"imageIds,omitempty"`
	AcceptedMediaTypes []string          `json:"acceptedMediaTypes,omitempty"`
}

// BatchGetImageOutput is the BatchGetImage response.
type BatchGetImageOutput struct {
	Images   []Image        `json:"images"`
	Failures []ImageFailure `json:"failures"`
}

// CompleteLayerUploadInput is the CompleteLayerUpload request.
type CompleteLayerUploadInput struct {
	RegistryId     *string  `json:"registryId,omitempty"`
	RepositoryName *string  `json:"repositoryName,omitempty"`
	UploadId       *string  `json:"uploadId,omitempty"`
	LayerDigests   []string `json:"layerDigests,omitempty"`
}

// CompleteLayerUploadOutput is the CompleteLayerUpload response.
type CompleteLayerUploadOutput struct {
	RegistryId     string `json:"registryId,omitempty"`
	RepositoryName string `json:"repositoryName,omitempty"`
	UploadId       string `json:"uploadId,omitempty"`
	LayerDigest    string `json:"layerDigest,omitempty"`
}

// CreateRepositoryInput is the CreateRepository request.
type CreateRepositoryInput struct {
	RegistryId                         *string                             `json:"registryId,omitempty"`
	RepositoryName                     *string                             `json:"repositoryName,omitempty"`
	Tags                               []Tag                               `json:"tags,omitempty"`
	ImageTagMutability                 *string                             `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []ImageTagMutabilityExclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         *ImageScanningConfiguration         `json:"imageScanningConfiguration,omitempty"`
	EncryptionConfiguration            *EncryptionConfiguration            `json:"encryptionConfiguration,omitempty"`
}

// CreateRepositoryOutput is the CreateRepository response.
type CreateRepositoryOutput struct {
	Repository *Repository `json:"repository,omitempty"`
}

// CreateRepositoryCreationTemplateInput is the
// CreateRepositoryCreationTemplate request.
type CreateRepositoryCreationTemplateInput struct {
	Prefix                             *string                                               `json:"prefix,omitempty"`
	Description                        *string                                               `json:"description,omitempty"`
	EncryptionConfiguration            *EncryptionConfigurationForRepositoryCreationTemplate `json:"encryptionConfiguration,omitempty"`
	ResourceTags                       []Tag                                                 `json:"resourceTags,omitempty"`
	ImageTagMutability                 *string                                               `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []ImageTagMutabilityExclusionFilter                   `json:"imageTagMutabilityExclusionFilters,omitempty"`
	RepositoryPolicy                   *string                                               `json:"repositoryPolicy,omitempty"`
	LifecyclePolicy                    *string                                               `json:"lifecyclePolicy,omitempty"`
	AppliedFor                         []string                                              `json:"appliedFor,omitempty"`
	CustomRoleArn                      *string                                               `json:"customRoleArn,omitempty"`
}

// CreateRepositoryCreationTemplateOutput is the
// CreateRepositoryCreationTemplate response.
type CreateRepositoryCreationTemplateOutput struct {
	RegistryId                 string                      `json:"registryId,omitempty"`
	RepositoryCreationTemplate *RepositoryCreationTemplate `json:"repositoryCreationTemplate,omitempty"`
}

// DeleteRepositoryInput is the DeleteRepository request.
type DeleteRepositoryInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
	Force          *bool   `json:"force,omitempty"`
}

// DeleteRepositoryOutput is the DeleteRepository response.
type DeleteRepositoryOutput struct {
	Repository *Repository `json:"repository,omitempty"`
}

// DeleteRepositoryCreationTemplateInput is the
// DeleteRepositoryCreationTemplate request.
type DeleteRepositoryCreationTemplateInput struct {
	Prefix *string `json:"prefix,omitempty"`
}

// DeleteRepositoryCreationTemplateOutput is the
// DeleteRepositoryCreationTemplate response.
type DeleteRepositoryCreationTemplateOutput struct {
	RegistryId                 string                      `json:"registryId,omitempty"`
	RepositoryCreationTemplate *RepositoryCreationTemplate `json:"repositoryCreationTemplate,omitempty"`
}

// DescribeImagesInput is the DescribeImages request.
type DescribeImagesInput struct {
	RegistryId     *string               `json:"registryId,omitempty"`
	RepositoryName *string               `json:"repositoryName,omitempty"`
	ImageIds       []ImageIdentifier     `json:"imageIds,omitempty"`
	NextToken      *string               `json:"nextToken,omitempty"`
	MaxResults     *int32                `json:"maxResults,omitempty"`
	Filter         *DescribeImagesFilter `json:"filter,omitempty"`
}

// DescribeImagesOutput is the DescribeImages response.
type DescribeImagesOutput struct {
	ImageDetails []ImageDetail `json:"imageDetails"`
	NextToken    string        `json:"nextToken,omitempty"`
}

// DescribeRegistryInput is the DescribeRegistry request, which has no
// members.
type DescribeRegistryInput struct{}

// DescribeRegistryOutput is the DescribeRegistry response.
type DescribeRegistryOutput struct {
	RegistryId               string                    `json:"registryId,omitempty"`
	ReplicationConfiguration *ReplicationConfiguration `json:"replicationConfiguration,omitempty"`
}

// DescribeRepositoriesInput is the DescribeRepositories request.
type DescribeRepositoriesInput struct {
	RegistryId      *string  `json:"registryId,omitempty"`
	RepositoryNames []string `json:"repositoryNames,omitempty"`
	NextToken       *string  `json:"nextToken,omitempty"`
	MaxResults      *int32   `json:"maxResults,omitempty"`
}

// DescribeRepositoriesOutput is the DescribeRepositories response.
type DescribeRepositoriesOutput struct {
	Repositories []Repository `json:"repositories"`
	NextToken    string       `json:"nextToken,omitempty"`
}

// DescribeRepositoryCreationTemplatesInput is the
// DescribeRepositoryCreationTemplates request.
type DescribeRepositoryCreationTemplatesInput struct {
	Prefixes   []string `json:"prefixes,omitempty"`
	NextToken  *string  `json:"nextToken,omitempty"`
	MaxResults *int32   `json:"maxResults,omitempty"`
}

// DescribeRepositoryCreationTemplatesOutput is the
// DescribeRepositoryCreationTemplates response.
type DescribeRepositoryCreationTemplatesOutput struct {
	RegistryId                  string                       `json:"registryId,omitempty"`
	RepositoryCreationTemplates []RepositoryCreationTemplate `json:"repositoryCreationTemplates"`
	NextToken                   string                       `json:"nextToken,omitempty"`
}

// GetAccountSettingInput is the GetAccountSetting request.
type GetAccountSettingInput struct {
	Name *string `json:"name,omitempty"`
}

// GetAccountSettingOutput is the GetAccountSetting response.
type GetAccountSettingOutput struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// GetAuthorizationTokenInput is the GetAuthorizationToken request.
// RegistryIds is deprecated in the model: the token is valid for every
// registry the caller may access.
type GetAuthorizationTokenInput struct {
	RegistryIds []string `json:"registryIds,omitempty"`
}

// GetAuthorizationTokenOutput is the GetAuthorizationToken response.
type GetAuthorizationTokenOutput struct {
	AuthorizationData []AuthorizationData `json:"authorizationData"`
}

// GetDownloadUrlForLayerInput is the GetDownloadUrlForLayer request.
type GetDownloadUrlForLayerInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
	LayerDigest    *string `json:"layerDigest,omitempty"`
}

// GetDownloadUrlForLayerOutput is the GetDownloadUrlForLayer response.
type GetDownloadUrlForLayerOutput struct {
	DownloadUrl string `json:"downloadUrl,omitempty"`
	LayerDigest string `json:"layerDigest,omitempty"`
}

// InitiateLayerUploadInput is the InitiateLayerUpload request.
type InitiateLayerUploadInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
}

// InitiateLayerUploadOutput is the InitiateLayerUpload response.
type InitiateLayerUploadOutput struct {
	UploadId string `json:"uploadId,omitempty"`
	PartSize *int64 `json:"partSize,omitempty"`
}

// ListImagesInput is the ListImages request.
type ListImagesInput struct {
	RegistryId     *string           `json:"registryId,omitempty"`
	RepositoryName *string           `json:"repositoryName,omitempty"`
	NextToken      *string           `json:"nextToken,omitempty"`
	MaxResults     *int32            `json:"maxResults,omitempty"`
	Filter         *ListImagesFilter `json:"filter,omitempty"`
}

// ListImagesOutput is the ListImages response.
type ListImagesOutput struct {
	ImageIds  []ImageIdentifier `json:"imageIds"`
	NextToken string            `json:"nextToken,omitempty"`
}

// ListImageReferrersInput is the ListImageReferrers request.
type ListImageReferrersInput struct {
	RegistryId     *string                   `json:"registryId,omitempty"`
	RepositoryName *string                   `json:"repositoryName,omitempty"`
	SubjectId      *SubjectIdentifier        `json:"subjectId,omitempty"`
	Filter         *ListImageReferrersFilter `json:"filter,omitempty"`
	NextToken      *string                   `json:"nextToken,omitempty"`
	MaxResults     *int32                    `json:"maxResults,omitempty"`
}

// ListImageReferrersOutput is the ListImageReferrers response.
type ListImageReferrersOutput struct {
	Referrers []ImageReferrer `json:"referrers"`
	NextToken string          `json:"nextToken,omitempty"`
}

// ListTagsForResourceInput is the ListTagsForResource request.
type ListTagsForResourceInput struct {
	ResourceArn *string `json:"resourceArn,omitempty"`
}

// ListTagsForResourceOutput is the ListTagsForResource response.
type ListTagsForResourceOutput struct {
	Tags []Tag `json:"tags"`
}

// PutAccountSettingInput is the PutAccountSetting request.
type PutAccountSettingInput struct {
	Name  *string `json:"name,omitempty"`
	Value *string `json:"value,omitempty"`
}

// PutAccountSettingOutput is the PutAccountSetting response.
type PutAccountSettingOutput struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// PutImageInput is the PutImage request.
type PutImageInput struct {
	RegistryId             *string `json:"registryId,omitempty"`
	RepositoryName         *string `json:"repositoryName,omitempty"`
	ImageManifest          *string `json:"imageManifest,omitempty"`
	ImageManifestMediaType *string `json:"imageManifestMediaType,omitempty"`
	ImageTag               *string `json:"imageTag,omitempty"`
	ImageDigest            *string `json:"imageDigest,omitempty"`
}

// PutImageOutput is the PutImage response.
type PutImageOutput struct {
	Image *Image `json:"image,omitempty"`
}

// PutImageScanningConfigurationInput is the PutImageScanningConfiguration
// request.
type PutImageScanningConfigurationInput struct {
	RegistryId                 *string                     `json:"registryId,omitempty"`
	RepositoryName             *string                     `json:"repositoryName,omitempty"`
	ImageScanningConfiguration *ImageScanningConfiguration `json:"imageScanningConfiguration,omitempty"`
}

// PutImageScanningConfigurationOutput is the PutImageScanningConfiguration
// response.
type PutImageScanningConfigurationOutput struct {
	RegistryId                 string                      `json:"registryId,omitempty"`
	RepositoryName             string                      `json:"repositoryName,omitempty"`
	ImageScanningConfiguration *ImageScanningConfiguration `json:"imageScanningConfiguration,omitempty"`
}

// PutImageTagMutabilityInput is the PutImageTagMutability request.
type PutImageTagMutabilityInput struct {
	RegistryId                         *string                             `json:"registryId,omitempty"`
	RepositoryName                     *string                             `json:"repositoryName,omitempty"`
	ImageTagMutability                 *string                             `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []ImageTagMutabilityExclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

// PutImageTagMutabilityOutput is the PutImageTagMutability response.
type PutImageTagMutabilityOutput struct {
	RegistryId                         string                              `json:"registryId,omitempty"`
	RepositoryName                     string                              `json:"repositoryName,omitempty"`
	ImageTagMutability                 string                              `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []ImageTagMutabilityExclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	ResourceArn *string `json:"resourceArn,omitempty"`
	Tags        []Tag   `json:"tags,omitempty"`
}

// TagResourceOutput is the TagResource response, which is empty ({}).
type TagResourceOutput struct{}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	ResourceArn *string  `json:"resourceArn,omitempty"`
	TagKeys     []string `json:"tagKeys,omitempty"`
}

// UntagResourceOutput is the UntagResource response, which is empty ({}).
type UntagResourceOutput struct{}

// UpdateRepositoryCreationTemplateInput is the
// UpdateRepositoryCreationTemplate request. It has the same members as
// CreateRepositoryCreationTemplateInput; only appliedFor's presence rule
// differs (required to create, optional to update).
type UpdateRepositoryCreationTemplateInput CreateRepositoryCreationTemplateInput

// UpdateRepositoryCreationTemplateOutput is the
// UpdateRepositoryCreationTemplate response.
type UpdateRepositoryCreationTemplateOutput struct {
	RegistryId                 string                      `json:"registryId,omitempty"`
	RepositoryCreationTemplate *RepositoryCreationTemplate `json:"repositoryCreationTemplate,omitempty"`
}

// UploadLayerPartInput is the UploadLayerPart request. LayerPartBlob is
// base64 on the wire; awsjson.Decode gives an empty, non-nil slice for "" so
// that an empty part differs from an absent one.
type UploadLayerPartInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
	UploadId       *string `json:"uploadId,omitempty"`
	PartFirstByte  *int64  `json:"partFirstByte,omitempty"`
	PartLastByte   *int64  `json:"partLastByte,omitempty"`
	LayerPartBlob  []byte  `json:"layerPartBlob,omitempty"`
}

// UploadLayerPartOutput is the UploadLayerPart response.
type UploadLayerPartOutput struct {
	RegistryId       string `json:"registryId,omitempty"`
	RepositoryName   string `json:"repositoryName,omitempty"`
	UploadId         string `json:"uploadId,omitempty"`
	LastByteReceived *int64 `json:"lastByteReceived,omitempty"`
}
