package ecr

import (
	"context"
	"encoding/base64"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

// The operations, in the order of the ECR API reference. Each converts
// its input for the core and the core's answer for the wire; the rules are
// the core's.

func (h *Handler) repository(repo metadata.Repository) *Repository {
	s := repo.Settings
	out := &Repository{
		RepositoryArn:              registry.RepositoryARN(repo.Key),
		RegistryId:                 repo.Key.Account,
		RepositoryName:             repo.Key.Name,
		RepositoryUri:              h.reg.RepositoryURI(repo.Key),
		CreatedAt:                  awsjson.NewTimestamp(repo.CreatedAt),
		ImageTagMutability:         s.TagMutability,
		ImageScanningConfiguration: &ImageScanningConfiguration{ScanOnPush: ptr(s.ScanOnPush)},
		EncryptionConfiguration:    &EncryptionConfiguration{EncryptionType: ptr(s.EncryptionType)},
	}
	if s.KMSKey != "" {
		out.EncryptionConfiguration.KmsKey = ptr(s.KMSKey)
	}
	out.ImageTagMutabilityExclusionFilters = wireExclusionFilters(s.MutabilityExclusions)
	return out
}

func wireExclusionFilters(filters []string) []ImageTagMutabilityExclusionFilter {
	var out []ImageTagMutabilityExclusionFilter
	for _, f := range filters {
		out = append(out, ImageTagMutabilityExclusionFilter{FilterType: ptr("WILDCARD"), Filter: ptr(f)})
	}
	return out
}

func filterValues(in []ImageTagMutabilityExclusionFilter) []string {
	var out []string
	for _, f := range in {
		out = append(out, deref(f.Filter))
	}
	return out
}

func resourceTags(in []Tag) []metadata.ResourceTag {
	out := make([]metadata.ResourceTag, 0, len(in))
	for _, t := range in {
		out = append(out, metadata.ResourceTag{Key: deref(t.Key), Value: deref(t.Value)})
	}
	return out
}

func wireTags(in []metadata.ResourceTag) []Tag {
	out := make([]Tag, 0, len(in))
	for _, t := range in {
		out = append(out, Tag{Key: ptr(t.Key), Value: ptr(t.Value)})
	}
	return out
}

func (h *Handler) createRepository(ctx context.Context, c auth.Caller, in *CreateRepositoryInput) (*CreateRepositoryOutput, error) {
	settings := metadata.RepositorySettings{
		TagMutability:        deref(in.ImageTagMutability),
		MutabilityExclusions: filterValues(in.ImageTagMutabilityExclusionFilters),
	}
	if in.ImageScanningConfiguration != nil {
		settings.ScanOnPush = deref(in.ImageScanningConfiguration.ScanOnPush)
	}
	if e := in.EncryptionConfiguration; e != nil {
		settings.EncryptionType, settings.KMSKey = deref(e.EncryptionType), deref(e.KmsKey)
	}
	repo, err := h.reg.CreateRepository(ctx, repoKey(c, in.RegistryId, in.RepositoryName), settings, resourceTags(in.Tags))
	if err != nil {
		return nil, err
	}
	return &CreateRepositoryOutput{Repository: h.repository(repo)}, nil
}

func (h *Handler) describeRepositories(ctx context.Context, c auth.Caller, in *DescribeRepositoriesInput) (*DescribeRepositoriesOutput, error) {
	repos, next, err := h.reg.DescribeRepositories(ctx, scope(c, in.RegistryId), in.RepositoryNames, deref(in.NextToken), pageSize(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeRepositoriesOutput{Repositories: []Repository{}, NextToken: next}
	for _, r := range repos {
		out.Repositories = append(out.Repositories, *h.repository(r))
	}
	return out, nil
}

func (h *Handler) deleteRepository(ctx context.Context, c auth.Caller, in *DeleteRepositoryInput) (*DeleteRepositoryOutput, error) {
	repo, _, err := h.reg.DeleteRepository(ctx, repoKey(c, in.RegistryId, in.RepositoryName), deref(in.Force))
	if err != nil {
		return nil, err
	}
	return &DeleteRepositoryOutput{Repository: h.repository(repo)}, nil
}

func (h *Handler) putImageTagMutability(ctx context.Context, c auth.Caller, in *PutImageTagMutabilityInput) (*PutImageTagMutabilityOutput, error) {
	repo, err := h.reg.PutImageTagMutability(ctx, repoKey(c, in.RegistryId, in.RepositoryName), deref(in.ImageTagMutability), filterValues(in.ImageTagMutabilityExclusionFilters))
	if err != nil {
		return nil, err
	}
	return &PutImageTagMutabilityOutput{
		RegistryId:                         repo.Key.Account,
		RepositoryName:                     repo.Key.Name,
		ImageTagMutability:                 repo.Settings.TagMutability,
		ImageTagMutabilityExclusionFilters: wireExclusionFilters(repo.Settings.MutabilityExclusions),
	}, nil
}

func (h *Handler) putImageScanningConfiguration(ctx context.Context, c auth.Caller, in *PutImageScanningConfigurationInput) (*PutImageScanningConfigurationOutput, error) {
	repo, err := h.reg.PutImageScanningConfiguration(ctx, repoKey(c, in.RegistryId, in.RepositoryName), deref(in.ImageScanningConfiguration.ScanOnPush))
	if err != nil {
		return nil, err
	}
	return &PutImageScanningConfigurationOutput{
		RegistryId:                 repo.Key.Account,
		RepositoryName:             repo.Key.Name,
		ImageScanningConfiguration: &ImageScanningConfiguration{ScanOnPush: ptr(repo.Settings.ScanOnPush)},
	}, nil
}

func (h *Handler) tagResource(ctx context.Context, c auth.Caller, in *TagResourceInput) (*TagResourceOutput, error) {
	return &TagResourceOutput{}, h.reg.TagResource(ctx, deref(in.ResourceArn), resourceTags(in.Tags))
}

func (h *Handler) untagResource(ctx context.Context, c auth.Caller, in *UntagResourceInput) (*UntagResourceOutput, error) {
	return &UntagResourceOutput{}, h.reg.UntagResource(ctx, deref(in.ResourceArn), in.TagKeys)
}

func (h *Handler) listTagsForResource(ctx context.Context, c auth.Caller, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	tags, err := h.reg.ListTagsForResource(ctx, deref(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	return &ListTagsForResourceOutput{Tags: wireTags(tags)}, nil
}

// Images.

func coreImageIDs(in []ImageIdentifier) []registry.ImageID {
	out := make([]registry.ImageID, 0, len(in))
	for _, id := range in {
		out = append(out, registry.ImageID{Digest: deref(id.ImageDigest), Tag: deref(id.ImageTag)})
	}
	return out
}

func wireID(id registry.ImageID) *ImageIdentifier {
	out := &ImageIdentifier{}
	if id.Digest != "" {
		out.ImageDigest = ptr(id.Digest)
	}
	if id.Tag != "" {
		out.ImageTag = ptr(id.Tag)
	}
	return out
}

func imageFailures(in []registry.ImageFailure) []ImageFailure {
	var out []ImageFailure
	for _, f := range in {
		code, reason := imageFailure(&f)
		out = append(out, ImageFailure{ImageId: wireID(f.ID), FailureCode: code, FailureReason: reason})
	}
	return out
}

// imageFilter makes the core's filter from ECR's members (the model has
// validated their values).
func imageFilter(tags, status *string) registry.ImageFilter {
	f := registry.ImageFilter{Tags: registry.TagStatusAny, Status: deref(status)}
	if tags != nil {
		f.Tags = registry.TagStatus(*tags)
	}
	return f
}

func (h *Handler) listImages(ctx context.Context, c auth.Caller, in *ListImagesInput) (*ListImagesOutput, error) {
	filter := imageFilter(nil, nil)
	if in.Filter != nil {
		filter = imageFilter(in.Filter.TagStatus, in.Filter.ImageStatus)
	}
	ids, next, err := h.reg.ListImages(ctx, repoKey(c, in.RegistryId, in.RepositoryName), filter, deref(in.NextToken), pageSize(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &ListImagesOutput{ImageIds: []ImageIdentifier{}, NextToken: next}
	for _, id := range ids {
		out.ImageIds = append(out.ImageIds, *wireID(id))
	}
	return out, nil
}

func (h *Handler) describeImages(ctx context.Context, c auth.Caller, in *DescribeImagesInput) (*DescribeImagesOutput, error) {
	filter := imageFilter(nil, nil)
	if in.Filter != nil {
		filter = imageFilter(in.Filter.TagStatus, in.Filter.ImageStatus)
	}
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	imgs, next, err := h.reg.DescribeImages(ctx, key, coreImageIDs(in.ImageIds), filter, deref(in.NextToken), pageSize(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeImagesOutput{ImageDetails: []ImageDetail{}, NextToken: next}
	for _, img := range imgs {
		d := ImageDetail{
			RegistryId:             key.Account,
			RepositoryName:         key.Name,
			ImageDigest:            string(img.Digest),
			ImageTags:              img.Tags,
			ImageSizeInBytes:       ptr(img.ImageSize),
			ImagePushedAt:          awsjson.NewTimestamp(img.PushedAt),
			ImageManifestMediaType: img.MediaType,
			ArtifactMediaType:      img.ArtifactType,
			SubjectManifestDigest:  string(img.Subject),
			ImageStatus:            img.Status(h.reg.Now()),
		}
		if !img.LastPulledAt.IsZero() {
			d.LastRecordedPullTime = awsjson.NewTimestamp(img.LastPulledAt)
		}
		if !img.LastArchivedAt.IsZero() {
			d.LastArchivedAt = awsjson.NewTimestamp(img.LastArchivedAt)
		}
		if !img.LastActivatedAt.IsZero() {
			d.LastActivatedAt = awsjson.NewTimestamp(img.LastActivatedAt)
		}
		scanDetail(&d, img.Scan)
		out.ImageDetails = append(out.ImageDetails, d)
	}
	return out, nil
}

func (h *Handler) batchGetImage(ctx context.Context, c auth.Caller, in *BatchGetImageInput) (*BatchGetImageOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	imgs, ids, failures, err := h.reg.BatchGetImage(ctx, key, coreImageIDs(in.ImageIds), in.AcceptedMediaTypes)
	if err != nil {
		return nil, err
	}
	out := &BatchGetImageOutput{Images: []Image{}, Failures: imageFailures(failures)}
	for i, img := range imgs {
		out.Images = append(out.Images, Image{
			RegistryId:             key.Account,
			RepositoryName:         key.Name,
			ImageId:                wireID(ids[i]),
			ImageManifest:          string(img.Content),
			ImageManifestMediaType: img.MediaType,
		})
	}
	return out, nil
}

func (h *Handler) batchDeleteImage(ctx context.Context, c auth.Caller, in *BatchDeleteImageInput) (*BatchDeleteImageOutput, error) {
	deleted, failures, err := h.reg.BatchDeleteImage(ctx, repoKey(c, in.RegistryId, in.RepositoryName), coreImageIDs(in.ImageIds))
	if err != nil {
		return nil, err
	}
	out := &BatchDeleteImageOutput{ImageIds: []ImageIdentifier{}, Failures: imageFailures(failures)}
	for _, id := range deleted {
		out.ImageIds = append(out.ImageIds, *wireID(id))
	}
	return out, nil
}

func (h *Handler) putImage(ctx context.Context, c auth.Caller, in *PutImageInput) (*PutImageOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	img, err := h.reg.PutImage(ctx, key, []byte(deref(in.ImageManifest)), deref(in.ImageManifestMediaType), deref(in.ImageDigest), deref(in.ImageTag))
	if err != nil {
		return nil, err
	}
	return &PutImageOutput{Image: &Image{
		RegistryId:             key.Account,
		RepositoryName:         key.Name,
		ImageId:                wireID(registry.ImageID{Digest: string(img.Digest), Tag: deref(in.ImageTag)}),
		ImageManifest:          string(img.Content),
		ImageManifestMediaType: img.MediaType,
	}}, nil
}

func (h *Handler) listImageReferrers(ctx context.Context, c auth.Caller, in *ListImageReferrersInput) (*ListImageReferrersOutput, error) {
	var types []string
	if in.Filter != nil {
		types = in.Filter.ArtifactTypes
	}
	imgs, next, err := h.reg.ListImageReferrers(ctx, repoKey(c, in.RegistryId, in.RepositoryName), deref(in.SubjectId.ImageDigest), types, deref(in.NextToken), int(deref(in.MaxResults)))
	if err != nil {
		return nil, err
	}
	out := &ListImageReferrersOutput{Referrers: []ImageReferrer{}, NextToken: next}
	for _, img := range imgs {
		out.Referrers = append(out.Referrers, ImageReferrer{
			Digest: string(img.Digest), MediaType: img.MediaType, ArtifactType: img.ArtifactType,
			Size: img.Size, Annotations: img.Annotations, ArtifactStatus: "ACTIVE",
		})
	}
	return out, nil
}

// Layers.

func (h *Handler) batchCheckLayerAvailability(ctx context.Context, c auth.Caller, in *BatchCheckLayerAvailabilityInput) (*BatchCheckLayerAvailabilityOutput, error) {
	layers, failures, err := h.reg.BatchCheckLayerAvailability(ctx, repoKey(c, in.RegistryId, in.RepositoryName), in.LayerDigests)
	if err != nil {
		return nil, err
	}
	out := &BatchCheckLayerAvailabilityOutput{Layers: []Layer{}, Failures: []LayerFailure{}}
	for _, l := range layers {
		out.Layers = append(out.Layers, Layer{LayerDigest: l.Digest, LayerAvailability: "AVAILABLE", LayerSize: ptr(l.Size)})
	}
	for _, f := range failures {
		code, reason := layerFailure(f)
		out.Failures = append(out.Failures, LayerFailure{LayerDigest: f.Digest, FailureCode: code, FailureReason: reason})
	}
	return out, nil
}

func (h *Handler) initiateLayerUpload(ctx context.Context, c auth.Caller, in *InitiateLayerUploadInput) (*InitiateLayerUploadOutput, error) {
	u, err := h.reg.InitiateLayerUpload(ctx, repoKey(c, in.RegistryId, in.RepositoryName))
	if err != nil {
		return nil, err
	}
	return &InitiateLayerUploadOutput{UploadId: u.ID, PartSize: ptr(int64(registry.LayerPartSize))}, nil
}

func (h *Handler) uploadLayerPart(ctx context.Context, c auth.Caller, in *UploadLayerPartInput) (*UploadLayerPartOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	last, err := h.reg.UploadLayerPart(ctx, key, deref(in.UploadId), deref(in.PartFirstByte), deref(in.PartLastByte), in.LayerPartBlob)
	if err != nil {
		return nil, err
	}
	return &UploadLayerPartOutput{RegistryId: key.Account, RepositoryName: key.Name, UploadId: deref(in.UploadId), LastByteReceived: ptr(last)}, nil
}

func (h *Handler) completeLayerUpload(ctx context.Context, c auth.Caller, in *CompleteLayerUploadInput) (*CompleteLayerUploadOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	b, err := h.reg.CompleteLayerUpload(ctx, key, deref(in.UploadId), in.LayerDigests[0])
	if err != nil {
		return nil, err
	}
	return &CompleteLayerUploadOutput{RegistryId: key.Account, RepositoryName: key.Name, UploadId: deref(in.UploadId), LayerDigest: string(b.Digest)}, nil
}

func (h *Handler) getDownloadURLForLayer(ctx context.Context, c auth.Caller, in *GetDownloadUrlForLayerInput) (*GetDownloadUrlForLayerOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	d, err := h.reg.LayerDownloadURL(ctx, key, deref(in.LayerDigest))
	if err != nil {
		return nil, err
	}
	return &GetDownloadUrlForLayerOutput{DownloadUrl: h.endpoint(key.Scope) + d.Path, LayerDigest: d.Digest}, nil
}

// Registry.

func (h *Handler) getAuthorizationToken(ctx context.Context, c auth.Caller, in *GetAuthorizationTokenInput) (*GetAuthorizationTokenOutput, error) {
	login, err := h.reg.Login(ctx, scope(c, nil))
	if err != nil {
		return nil, err
	}
	// ECR's token is the Basic credential docker login takes.
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + login.Password))
	ids := in.RegistryIds
	if len(ids) == 0 {
		ids = []string{c.Principal.Account}
	}
	out := &GetAuthorizationTokenOutput{}
	for _, id := range ids {
		out.AuthorizationData = append(out.AuthorizationData, AuthorizationData{
			AuthorizationToken: token,
			ExpiresAt:          awsjson.NewTimestamp(login.ExpiresAt),
			ProxyEndpoint:      h.endpoint(metadata.Scope{Account: id, Region: c.Region}),
		})
	}
	return out, nil
}

func (h *Handler) getAccountSetting(ctx context.Context, c auth.Caller, in *GetAccountSettingInput) (*GetAccountSettingOutput, error) {
	v, err := h.reg.AccountSetting(ctx, scope(c, nil), deref(in.Name))
	if err != nil {
		return nil, err
	}
	return &GetAccountSettingOutput{Name: deref(in.Name), Value: v}, nil
}

func (h *Handler) putAccountSetting(ctx context.Context, c auth.Caller, in *PutAccountSettingInput) (*PutAccountSettingOutput, error) {
	if err := h.reg.PutAccountSetting(ctx, scope(c, nil), deref(in.Name), deref(in.Value)); err != nil {
		return nil, err
	}
	return &PutAccountSettingOutput{Name: deref(in.Name), Value: deref(in.Value)}, nil
}

// Repository creation templates.

func template(t registry.CreationTemplate) *RepositoryCreationTemplate {
	out := &RepositoryCreationTemplate{
		Prefix:                             t.Prefix,
		Description:                        t.Description,
		EncryptionConfiguration:            &EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ptr(t.EncryptionType)},
		ResourceTags:                       wireTags(t.ResourceTags),
		ImageTagMutability:                 t.TagMutability,
		ImageTagMutabilityExclusionFilters: wireExclusionFilters(t.MutabilityExclusions),
		RepositoryPolicy:                   t.RepositoryPolicy,
		LifecyclePolicy:                    t.LifecyclePolicy,
		AppliedFor:                         t.AppliedFor,
		CustomRoleArn:                      t.CustomRoleARN,
		CreatedAt:                          awsjson.NewTimestamp(t.CreatedAt),
		UpdatedAt:                          awsjson.NewTimestamp(t.UpdatedAt),
	}
	if t.KMSKey != "" {
		out.EncryptionConfiguration.KmsKey = ptr(t.KMSKey)
	}
	return out
}

// apply sets the members that were given on a template.
func (f *CreateRepositoryCreationTemplateInput) apply(t *registry.CreationTemplate) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&t.Description, f.Description)
	set(&t.RepositoryPolicy, f.RepositoryPolicy)
	set(&t.LifecyclePolicy, f.LifecyclePolicy)
	set(&t.CustomRoleARN, f.CustomRoleArn)
	if e := f.EncryptionConfiguration; e != nil {
		t.EncryptionType, t.KMSKey = deref(e.EncryptionType), deref(e.KmsKey)
	}
	if f.ResourceTags != nil {
		t.ResourceTags = resourceTags(f.ResourceTags)
	}
	if f.ImageTagMutability != nil {
		t.TagMutability = *f.ImageTagMutability
		t.MutabilityExclusions = filterValues(f.ImageTagMutabilityExclusionFilters)
	}
	if f.AppliedFor != nil {
		t.AppliedFor = f.AppliedFor
	}
}

func (h *Handler) createTemplate(ctx context.Context, c auth.Caller, in *CreateRepositoryCreationTemplateInput) (*CreateRepositoryCreationTemplateOutput, error) {
	t := registry.CreationTemplate{Prefix: deref(in.Prefix)}
	in.apply(&t)
	s := scope(c, nil)
	t, err := h.reg.CreateCreationTemplate(ctx, s, t)
	if err != nil {
		return nil, err
	}
	return &CreateRepositoryCreationTemplateOutput{RegistryId: s.Account, RepositoryCreationTemplate: template(t)}, nil
}

func (h *Handler) updateTemplate(ctx context.Context, c auth.Caller, in *UpdateRepositoryCreationTemplateInput) (*UpdateRepositoryCreationTemplateOutput, error) {
	s := scope(c, nil)
	t, err := h.reg.UpdateCreationTemplate(ctx, s, deref(in.Prefix), (*CreateRepositoryCreationTemplateInput)(in).apply)
	if err != nil {
		return nil, err
	}
	return &UpdateRepositoryCreationTemplateOutput{RegistryId: s.Account, RepositoryCreationTemplate: template(t)}, nil
}

func (h *Handler) deleteTemplate(ctx context.Context, c auth.Caller, in *DeleteRepositoryCreationTemplateInput) (*DeleteRepositoryCreationTemplateOutput, error) {
	s := scope(c, nil)
	t, err := h.reg.DeleteCreationTemplate(ctx, s, deref(in.Prefix))
	if err != nil {
		return nil, err
	}
	return &DeleteRepositoryCreationTemplateOutput{RegistryId: s.Account, RepositoryCreationTemplate: template(t)}, nil
}

func (h *Handler) describeTemplates(ctx context.Context, c auth.Caller, in *DescribeRepositoryCreationTemplatesInput) (*DescribeRepositoryCreationTemplatesOutput, error) {
	s := scope(c, nil)
	ts, next, err := h.reg.DescribeCreationTemplates(ctx, s, in.Prefixes, deref(in.NextToken), int(deref(in.MaxResults)))
	if err != nil {
		return nil, err
	}
	out := &DescribeRepositoryCreationTemplatesOutput{RegistryId: s.Account, RepositoryCreationTemplates: []RepositoryCreationTemplate{}, NextToken: next}
	for _, t := range ts {
		out.RepositoryCreationTemplates = append(out.RepositoryCreationTemplates, *template(t))
	}
	return out, nil
}

// defaultPageSize is how many results DescribeRepositories, ListImages
// and DescribeImages return without maxResults, as ECR's API reference
// says ("up to 100 results and a nextToken value").
const defaultPageSize = 100

// pageSize is a request's maxResults, or ECR's default without one.
func pageSize(maxResults *int32) int {
	return pageSizeOr(maxResults, defaultPageSize)
}
