package ecr

import (
	"errors"
	"strings"
	"testing"
)

// Exact messages for the constraints most operations share.
const (
	patRepositoryName = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
	patPrefix         = `^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$`
	patLayerDigest    = `[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+`
	patUploadID       = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	patExclusion      = `^[0-9a-zA-Z._*-]{1,128}$`
	patTemplateKmsKey = `^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[a-z0-9-]+`

	enumMutability = `[MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]`
)

const (
	validDigest   = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	validUploadID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	validKmsArn   = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

func msg(member, constraint string) string {
	return "Invalid parameter at '" + member + "' failed to satisfy constraint: '" + constraint + "'"
}

func msgNull(member string) string { return msg(member, "must not be null") }
func msgMin(member, n string) string {
	return msg(member, "must have length greater than or equal to "+n)
}
func msgMax(member, n string) string {
	return msg(member, "must have length less than or equal to "+n)
}
func msgPattern(member, pattern string) string {
	return msg(member, "must satisfy regular expression '"+pattern+"'")
}
func msgEnum(member, set string) string {
	return msg(member, "must satisfy enum value set: "+set)
}
func msgGE(member, n string) string { return msg(member, "must be greater than or equal to "+n) }
func msgLE(member, n string) string { return msg(member, "must be less than or equal to "+n) }

// opCase changes a valid input so that it fails with want, or, when want
// is empty, so that it stays valid.
type opCase[T any] struct {
	name   string
	mutate func(*T)
	want   string
}

// runCases checks that base() is valid and that each case gives exactly
// its message, as an *InvalidParameterError.
func runCases[T any, PT interface {
	*T
	validate() error
}](t *testing.T, base func() *T, cases []opCase[T]) {
	t.Helper()
	if err := PT(base()).validate(); err != nil {
		t.Fatalf("minimal valid input rejected: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mutate(in)
			err := PT(in).validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var ip *InvalidParameterError
			if !errors.As(err, &ip) {
				t.Fatalf("error = %#v, want *InvalidParameterError", err)
			}
			if got := err.Error(); got != tc.want {
				t.Fatalf("error\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// repositoryCases are the registryId and repositoryName checks of an
// operation addressing a repository.
func repositoryCases[T any](registryID, repositoryName func(*T) **string) []opCase[T] {
	return []opCase[T]{
		{"registryId valid", func(in *T) { *registryID(in) = new("123456789012") }, ""},
		{"registryId pattern", func(in *T) { *registryID(in) = new("12345") }, msgPattern("registryId", "[0-9]{12}")},
		{"registryId anchored", func(in *T) { *registryID(in) = new("1234567890123") }, msgPattern("registryId", "[0-9]{12}")},
		{"repositoryName null", func(in *T) { *repositoryName(in) = nil }, msgNull("repositoryName")},
		{"repositoryName short", func(in *T) { *repositoryName(in) = new("a") }, msgMin("repositoryName", "2")},
		{"repositoryName long", func(in *T) { *repositoryName(in) = new(strings.Repeat("a", 257)) }, msgMax("repositoryName", "256")},
		{"repositoryName longest", func(in *T) { *repositoryName(in) = new(strings.Repeat("a", 256)) }, ""},
		{"repositoryName pattern", func(in *T) { *repositoryName(in) = new("Bad_Name!") }, msgPattern("repositoryName", patRepositoryName)},
		{"repositoryName trailing slash", func(in *T) { *repositoryName(in) = new("team/") }, msgPattern("repositoryName", patRepositoryName)},
		{"repositoryName nested", func(in *T) { *repositoryName(in) = new("team-a/app.x__y/z") }, ""},
		// Member order: registryId comes before repositoryName.
		{"first violation", func(in *T) { *registryID(in) = new("x"); *repositoryName(in) = nil }, msgPattern("registryId", "[0-9]{12}")},
	}
}

func concat[T any](lists ...[]opCase[T]) []opCase[T] {
	var all []opCase[T]
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

func strs(n int, s string) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = s
	}
	return l
}

func imageIDs(n int) []ImageIdentifier {
	l := make([]ImageIdentifier, n)
	for i := range l {
		l[i] = ImageIdentifier{ImageTag: new("v1")}
	}
	return l
}

func exclusionFilters(n int) []ImageTagMutabilityExclusionFilter {
	l := make([]ImageTagMutabilityExclusionFilter, n)
	for i := range l {
		l[i] = ImageTagMutabilityExclusionFilter{FilterType: new("WILDCARD"), Filter: new("release-*")}
	}
	return l
}

// exclusionFilterCases are the checks of imageTagMutabilityExclusionFilters.
func exclusionFilterCases[T any](get func(*T) *[]ImageTagMutabilityExclusionFilter) []opCase[T] {
	const p = "imageTagMutabilityExclusionFilters"
	return []opCase[T]{
		{"exclusion filters valid", func(in *T) { *get(in) = exclusionFilters(5) }, ""},
		{"exclusion filters empty", func(in *T) { *get(in) = exclusionFilters(0) }, msgMin(p, "1")},
		{"exclusion filters too many", func(in *T) { *get(in) = exclusionFilters(6) }, msgMax(p, "5")},
		{"exclusion filterType null", func(in *T) { f := exclusionFilters(2); f[1].FilterType = nil; *get(in) = f }, msgNull(p + ".2.member.filterType")},
		{"exclusion filterType enum", func(in *T) { f := exclusionFilters(1); f[0].FilterType = new("PREFIX_MATCH"); *get(in) = f }, msgEnum(p+".1.member.filterType", "[WILDCARD]")},
		{"exclusion filter null", func(in *T) { f := exclusionFilters(1); f[0].Filter = nil; *get(in) = f }, msgNull(p + ".1.member.filter")},
		{"exclusion filter empty", func(in *T) { f := exclusionFilters(1); f[0].Filter = new(""); *get(in) = f }, msgMin(p+".1.member.filter", "1")},
		{"exclusion filter long", func(in *T) { f := exclusionFilters(1); f[0].Filter = new(strings.Repeat("a", 129)); *get(in) = f }, msgMax(p+".1.member.filter", "128")},
		{"exclusion filter pattern", func(in *T) { f := exclusionFilters(1); f[0].Filter = new("a b"); *get(in) = f }, msgPattern(p+".1.member.filter", patExclusion)},
	}
}

// tagCases are the checks of a list of tags named p.
func tagCases[T any](p string, get func(*T) *[]Tag) []opCase[T] {
	return []opCase[T]{
		{p + " empty", func(in *T) { *get(in) = []Tag{} }, ""},
		{p + " empty key and value", func(in *T) { *get(in) = []Tag{{Key: new(""), Value: new("")}} }, ""},
		{p + " key null", func(in *T) { *get(in) = []Tag{{Key: new("a"), Value: new("b")}, {Value: new("b")}} }, msgNull(p + ".2.member.Key")},
		{p + " value null", func(in *T) { *get(in) = []Tag{{Key: new("a")}} }, msgNull(p + ".1.member.Value")},
	}
}

func TestValidateBatchCheckLayerAvailability(t *testing.T) {
	type T = BatchCheckLayerAvailabilityInput
	base := func() *T { return &T{RepositoryName: new("app"), LayerDigests: []string{validDigest}} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"layerDigests null", func(in *T) { in.LayerDigests = nil }, msgNull("layerDigests")},
			{"layerDigests empty", func(in *T) { in.LayerDigests = []string{} }, msgMin("layerDigests", "1")},
			{"layerDigests 100", func(in *T) { in.LayerDigests = strs(100, validDigest) }, ""},
			{"layerDigests 101", func(in *T) { in.LayerDigests = strs(101, validDigest) }, msgMax("layerDigests", "100")},
			// BatchedOperationLayerDigest has no pattern, unlike LayerDigest.
			{"layerDigest unchecked form", func(in *T) { in.LayerDigests = []string{"", "not a digest"} }, ""},
			{"layerDigest long", func(in *T) { in.LayerDigests = []string{validDigest, strings.Repeat("a", 1001)} }, msgMax("layerDigests.2.member", "1000")},
		},
	))
}

func TestValidateBatchDeleteImage(t *testing.T) {
	type T = BatchDeleteImageInput
	base := func() *T { return &T{RepositoryName: new("app"), ImageIds: imageIDs(1)} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"imageIds null", func(in *T) { in.ImageIds = nil }, msgNull("imageIds")},
			{"imageIds empty", func(in *T) { in.ImageIds = []ImageIdentifier{} }, msgMin("imageIds", "1")},
			{"imageIds 100", func(in *T) { in.ImageIds = imageIDs(100) }, ""},
			{"imageIds 101", func(in *T) { in.ImageIds = imageIDs(101) }, msgMax("imageIds", "100")},
			{"imageId empty struct", func(in *T) { in.ImageIds = []ImageIdentifier{{}} }, ""},
			{"imageTag empty", func(in *T) { in.ImageIds = append(imageIDs(1), ImageIdentifier{ImageTag: new("")}) }, msgMin("imageIds.2.member.imageTag", "1")},
			{"imageTag long", func(in *T) { in.ImageIds = []ImageIdentifier{{ImageTag: new(strings.Repeat("t", 301))}} }, msgMax("imageIds.1.member.imageTag", "300")},
			{"imageTag 300 runes", func(in *T) { in.ImageIds = []ImageIdentifier{{ImageTag: new(strings.Repeat("é", 300))}} }, ""},
		},
	))
}

func TestValidateBatchGetImage(t *testing.T) {
	type T = BatchGetImageInput
	base := func() *T { return &T{RepositoryName: new("app"), ImageIds: imageIDs(1)} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"imageIds null", func(in *T) { in.ImageIds = nil }, msgNull("imageIds")},
			{"imageIds 101", func(in *T) { in.ImageIds = imageIDs(101) }, msgMax("imageIds", "100")},
			{"imageTag empty", func(in *T) { in.ImageIds = []ImageIdentifier{{ImageTag: new("")}} }, msgMin("imageIds.1.member.imageTag", "1")},
			{"acceptedMediaTypes valid", func(in *T) { in.AcceptedMediaTypes = []string{"application/vnd.oci.image.manifest.v1+json"} }, ""},
			{"acceptedMediaTypes empty", func(in *T) { in.AcceptedMediaTypes = []string{} }, msgMin("acceptedMediaTypes", "1")},
			{"acceptedMediaTypes 101", func(in *T) { in.AcceptedMediaTypes = strs(101, "x") }, msgMax("acceptedMediaTypes", "100")},
			// imageIds is checked before acceptedMediaTypes.
			{"order", func(in *T) { in.ImageIds = []ImageIdentifier{}; in.AcceptedMediaTypes = []string{} }, msgMin("imageIds", "1")},
		},
	))
}

func TestValidateCompleteLayerUpload(t *testing.T) {
	type T = CompleteLayerUploadInput
	base := func() *T {
		return &T{RepositoryName: new("app"), UploadId: new(validUploadID), LayerDigests: []string{validDigest}}
	}
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"uploadId null", func(in *T) { in.UploadId = nil }, msgNull("uploadId")},
			{"uploadId upper", func(in *T) { in.UploadId = new(strings.ToUpper(validUploadID)) }, ""},
			{"uploadId pattern", func(in *T) { in.UploadId = new("not-a-uuid") }, msgPattern("uploadId", patUploadID)},
			{"uploadId anchored", func(in *T) { in.UploadId = new(validUploadID + "0") }, msgPattern("uploadId", patUploadID)},
			{"layerDigests null", func(in *T) { in.LayerDigests = nil }, msgNull("layerDigests")},
			{"layerDigests empty", func(in *T) { in.LayerDigests = []string{} }, msgMin("layerDigests", "1")},
			{"layerDigests 101", func(in *T) { in.LayerDigests = strs(101, validDigest) }, msgMax("layerDigests", "100")},
			{"layerDigest odd algorithm", func(in *T) { in.LayerDigests = []string{"sha256+b64u.x-y_z:ABCDEF09"} }, ""},
			{"layerDigest pattern", func(in *T) { in.LayerDigests = []string{validDigest, "sha256:xyz"} }, msgPattern("layerDigests.2.member", patLayerDigest)},
			{"layerDigest pattern colon", func(in *T) { in.LayerDigests = []string{"sha256;abc:12"} }, msgPattern("layerDigests.1.member", patLayerDigest)},
		},
	))
}

func TestValidateCreateRepository(t *testing.T) {
	type T = CreateRepositoryInput
	base := func() *T { return &T{RepositoryName: new("app")} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		tagCases("tags", func(in *T) *[]Tag { return &in.Tags }),
		exclusionFilterCases(func(in *T) *[]ImageTagMutabilityExclusionFilter { return &in.ImageTagMutabilityExclusionFilters }),
		[]opCase[T]{
			{"imageTagMutability enum", func(in *T) { in.ImageTagMutability = new("mutable") }, msgEnum("imageTagMutability", enumMutability)},
			{"imageScanningConfiguration empty", func(in *T) { in.ImageScanningConfiguration = &ImageScanningConfiguration{} }, ""},
			{"encryption valid", func(in *T) {
				in.EncryptionConfiguration = &EncryptionConfiguration{EncryptionType: new("KMS"), KmsKey: new(validKmsArn)}
			}, ""},
			{"encryptionType null", func(in *T) { in.EncryptionConfiguration = &EncryptionConfiguration{} }, msgNull("encryptionConfiguration.encryptionType")},
			{"encryptionType enum", func(in *T) { in.EncryptionConfiguration = &EncryptionConfiguration{EncryptionType: new("SSE")} }, msgEnum("encryptionConfiguration.encryptionType", "[AES256, KMS, KMS_DSSE]")},
			{"kmsKey empty", func(in *T) {
				in.EncryptionConfiguration = &EncryptionConfiguration{EncryptionType: new("KMS"), KmsKey: new("")}
			}, msgMin("encryptionConfiguration.kmsKey", "1")},
			{"kmsKey long", func(in *T) {
				in.EncryptionConfiguration = &EncryptionConfiguration{EncryptionType: new("KMS"), KmsKey: new(strings.Repeat("k", 2049))}
			}, msgMax("encryptionConfiguration.kmsKey", "2048")},
			// Model member order: tags, imageTagMutability, exclusion filters,
			// scanning, encryption.
			{"order tags first", func(in *T) {
				in.Tags = []Tag{{}}
				in.ImageTagMutability = new("x")
			}, msgNull("tags.1.member.Key")},
			{"order mutability before filters", func(in *T) {
				in.ImageTagMutability = new("x")
				in.ImageTagMutabilityExclusionFilters = exclusionFilters(0)
			}, msgEnum("imageTagMutability", enumMutability)},
			{"order filters before encryption", func(in *T) {
				in.ImageTagMutabilityExclusionFilters = exclusionFilters(0)
				in.EncryptionConfiguration = &EncryptionConfiguration{}
			}, msgMin("imageTagMutabilityExclusionFilters", "1")},
		},
	))
}

func templateCases[T any](
	prefix func(*T) **string, description func(*T) **string,
	encryption func(*T) **EncryptionConfigurationForRepositoryCreationTemplate,
	policy, lifecycle, role func(*T) **string, appliedFor func(*T) *[]string,
) []opCase[T] {
	enc := func(kms *string) *EncryptionConfigurationForRepositoryCreationTemplate {
		return &EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: new("KMS"), KmsKey: kms}
	}
	return []opCase[T]{
		{"prefix null", func(in *T) { *prefix(in) = nil }, msgNull("prefix")},
		{"prefix empty", func(in *T) { *prefix(in) = new("") }, msgMin("prefix", "1")},
		{"prefix long", func(in *T) { *prefix(in) = new(strings.Repeat("a", 257)) }, msgMax("prefix", "256")},
		{"prefix ROOT", func(in *T) { *prefix(in) = new("ROOT") }, ""},
		{"prefix trailing slash", func(in *T) { *prefix(in) = new("team/") }, ""},
		{"prefix one letter", func(in *T) { *prefix(in) = new("a") }, ""},
		{"prefix pattern", func(in *T) { *prefix(in) = new("Team") }, msgPattern("prefix", patPrefix)},
		{"prefix pattern root lower", func(in *T) { *prefix(in) = new("root/") }, ""},
		{"prefix pattern double slash", func(in *T) { *prefix(in) = new("a//") }, msgPattern("prefix", patPrefix)},
		{"description 256", func(in *T) { *description(in) = new(strings.Repeat("d", 256)) }, ""},
		{"description long", func(in *T) { *description(in) = new(strings.Repeat("d", 257)) }, msgMax("description", "256")},
		{"encryptionType null", func(in *T) { *encryption(in) = &EncryptionConfigurationForRepositoryCreationTemplate{} }, msgNull("encryptionConfiguration.encryptionType")},
		{"encryptionType enum", func(in *T) {
			*encryption(in) = &EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: new("kms")}
		}, msgEnum("encryptionConfiguration.encryptionType", "[AES256, KMS, KMS_DSSE]")},
		// Unlike a repository's, a template's kmsKey may be empty.
		{"kmsKey empty", func(in *T) { *encryption(in) = enc(new("")) }, ""},
		{"kmsKey arn", func(in *T) { *encryption(in) = enc(new(validKmsArn)) }, ""},
		{"kmsKey pattern", func(in *T) { *encryption(in) = enc(new("alias/mine")) }, msgPattern("encryptionConfiguration.kmsKey", patTemplateKmsKey)},
		{"kmsKey anchored", func(in *T) { *encryption(in) = enc(new("x" + validKmsArn)) }, msgPattern("encryptionConfiguration.kmsKey", patTemplateKmsKey)},
		{"kmsKey long", func(in *T) { *encryption(in) = enc(new(validKmsArn + strings.Repeat("a", 2049))) }, msgMax("encryptionConfiguration.kmsKey", "2048")},
		{"repositoryPolicy empty", func(in *T) { *policy(in) = new("") }, ""},
		{"repositoryPolicy long", func(in *T) { *policy(in) = new(strings.Repeat("p", 10241)) }, msgMax("repositoryPolicy", "10240")},
		// Unlike PutLifecyclePolicy's (100 to 30720), a template's lifecycle
		// policy has no minimum.
		{"lifecyclePolicy short", func(in *T) { *lifecycle(in) = new("{}") }, ""},
		{"lifecyclePolicy long", func(in *T) { *lifecycle(in) = new(strings.Repeat("l", 30721)) }, msgMax("lifecyclePolicy", "30720")},
		{"appliedFor all", func(in *T) { *appliedFor(in) = []string{"REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"} }, ""},
		{"appliedFor enum", func(in *T) { *appliedFor(in) = []string{"REPLICATION", "replication"} }, msgEnum("appliedFor.2.member", "[REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH]")},
		{"customRoleArn long", func(in *T) { *role(in) = new(strings.Repeat("r", 2049)) }, msgMax("customRoleArn", "2048")},
		{"customRoleArn empty", func(in *T) { *role(in) = new("") }, ""},
		{"order description before encryption", func(in *T) {
			*description(in) = new(strings.Repeat("d", 257))
			*encryption(in) = &EncryptionConfigurationForRepositoryCreationTemplate{}
		}, msgMax("description", "256")},
	}
}

func TestValidateCreateRepositoryCreationTemplate(t *testing.T) {
	type T = CreateRepositoryCreationTemplateInput
	base := func() *T { return &T{Prefix: new("team"), AppliedFor: []string{"CREATE_ON_PUSH"}} }
	runCases(t, base, concat(
		templateCases(
			func(in *T) **string { return &in.Prefix }, func(in *T) **string { return &in.Description },
			func(in *T) **EncryptionConfigurationForRepositoryCreationTemplate { return &in.EncryptionConfiguration },
			func(in *T) **string { return &in.RepositoryPolicy }, func(in *T) **string { return &in.LifecyclePolicy },
			func(in *T) **string { return &in.CustomRoleArn }, func(in *T) *[]string { return &in.AppliedFor },
		),
		tagCases("resourceTags", func(in *T) *[]Tag { return &in.ResourceTags }),
		exclusionFilterCases(func(in *T) *[]ImageTagMutabilityExclusionFilter { return &in.ImageTagMutabilityExclusionFilters }),
		[]opCase[T]{
			{"imageTagMutability enum", func(in *T) { in.ImageTagMutability = new("") }, msgEnum("imageTagMutability", enumMutability)},
			// Required here, optional in UpdateRepositoryCreationTemplate.
			{"appliedFor null", func(in *T) { in.AppliedFor = nil }, msgNull("appliedFor")},
			{"appliedFor empty", func(in *T) { in.AppliedFor = []string{} }, ""},
		},
	))
}

func TestValidateUpdateRepositoryCreationTemplate(t *testing.T) {
	type T = UpdateRepositoryCreationTemplateInput
	base := func() *T { return &T{Prefix: new("ROOT")} }
	runCases(t, base, concat(
		templateCases(
			func(in *T) **string { return &in.Prefix }, func(in *T) **string { return &in.Description },
			func(in *T) **EncryptionConfigurationForRepositoryCreationTemplate { return &in.EncryptionConfiguration },
			func(in *T) **string { return &in.RepositoryPolicy }, func(in *T) **string { return &in.LifecyclePolicy },
			func(in *T) **string { return &in.CustomRoleArn }, func(in *T) *[]string { return &in.AppliedFor },
		),
		tagCases("resourceTags", func(in *T) *[]Tag { return &in.ResourceTags }),
		exclusionFilterCases(func(in *T) *[]ImageTagMutabilityExclusionFilter { return &in.ImageTagMutabilityExclusionFilters }),
		[]opCase[T]{
			{"imageTagMutability enum", func(in *T) { in.ImageTagMutability = new("LOCKED") }, msgEnum("imageTagMutability", enumMutability)},
		},
	))
}

func TestValidateDeleteRepository(t *testing.T) {
	type T = DeleteRepositoryInput
	base := func() *T { return &T{RepositoryName: new("app")} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{{"force", func(in *T) { in.Force = new(true) }, ""}},
	))
}

func TestValidateDeleteRepositoryCreationTemplate(t *testing.T) {
	type T = DeleteRepositoryCreationTemplateInput
	base := func() *T { return &T{Prefix: new("team/app")} }
	runCases(t, base, []opCase[T]{
		{"prefix null", func(in *T) { in.Prefix = nil }, msgNull("prefix")},
		{"prefix empty", func(in *T) { in.Prefix = new("") }, msgMin("prefix", "1")},
		{"prefix long", func(in *T) { in.Prefix = new(strings.Repeat("a", 257)) }, msgMax("prefix", "256")},
		{"prefix pattern", func(in *T) { in.Prefix = new("-x") }, msgPattern("prefix", patPrefix)},
	})
}

func TestValidateDescribeImages(t *testing.T) {
	type T = DescribeImagesInput
	base := func() *T { return &T{RepositoryName: new("app")} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"imageIds valid", func(in *T) { in.ImageIds = []ImageIdentifier{{ImageDigest: new(validDigest)}} }, ""},
			{"imageIds empty", func(in *T) { in.ImageIds = []ImageIdentifier{} }, msgMin("imageIds", "1")},
			{"imageIds 101", func(in *T) { in.ImageIds = imageIDs(101) }, msgMax("imageIds", "100")},
			{"imageTag long", func(in *T) { in.ImageIds = []ImageIdentifier{{ImageTag: new(strings.Repeat("t", 301))}} }, msgMax("imageIds.1.member.imageTag", "300")},
			{"nextToken", func(in *T) { in.NextToken = new("") }, ""},
			{"maxResults 1", func(in *T) { in.MaxResults = new(int32(1)) }, ""},
			{"maxResults 1000", func(in *T) { in.MaxResults = new(int32(1000)) }, ""},
			{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
			{"maxResults negative", func(in *T) { in.MaxResults = new(int32(-5)) }, msgGE("maxResults", "1")},
			{"maxResults 1001", func(in *T) { in.MaxResults = new(int32(1001)) }, msgLE("maxResults", "1000")},
			{"filter empty", func(in *T) { in.Filter = &DescribeImagesFilter{} }, ""},
			{"filter tagStatus enum", func(in *T) { in.Filter = &DescribeImagesFilter{TagStatus: new("ALL")} }, msgEnum("filter.tagStatus", "[TAGGED, UNTAGGED, ANY]")},
			{"filter imageStatus enum", func(in *T) { in.Filter = &DescribeImagesFilter{ImageStatus: new("DELETED")} }, msgEnum("filter.imageStatus", "[ACTIVE, ARCHIVED, ACTIVATING, ANY]")},
			{"order maxResults before filter", func(in *T) {
				in.MaxResults = new(int32(0))
				in.Filter = &DescribeImagesFilter{TagStatus: new("x")}
			}, msgGE("maxResults", "1")},
		},
	))
}

func TestValidateDescribeRegistry(t *testing.T) {
	if err := new(DescribeRegistryInput).validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateDescribeRepositories(t *testing.T) {
	type T = DescribeRepositoriesInput
	base := func() *T { return &T{} }
	runCases(t, base, []opCase[T]{
		{"registryId pattern", func(in *T) { in.RegistryId = new("abcdefghijkl") }, msgPattern("registryId", "[0-9]{12}")},
		{"repositoryNames valid", func(in *T) { in.RepositoryNames = strs(100, "app") }, ""},
		{"repositoryNames empty", func(in *T) { in.RepositoryNames = []string{} }, msgMin("repositoryNames", "1")},
		{"repositoryNames 101", func(in *T) { in.RepositoryNames = strs(101, "app") }, msgMax("repositoryNames", "100")},
		{"repositoryName short", func(in *T) { in.RepositoryNames = []string{"app", "a"} }, msgMin("repositoryNames.2.member", "2")},
		{"repositoryName long", func(in *T) { in.RepositoryNames = []string{strings.Repeat("a", 257)} }, msgMax("repositoryNames.1.member", "256")},
		{"repositoryName pattern", func(in *T) { in.RepositoryNames = []string{"App"} }, msgPattern("repositoryNames.1.member", patRepositoryName)},
		{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
		{"maxResults 1001", func(in *T) { in.MaxResults = new(int32(1001)) }, msgLE("maxResults", "1000")},
	})
}

func TestValidateDescribeRepositoryCreationTemplates(t *testing.T) {
	type T = DescribeRepositoryCreationTemplatesInput
	base := func() *T { return &T{} }
	runCases(t, base, []opCase[T]{
		{"prefixes empty", func(in *T) { in.Prefixes = []string{} }, ""},
		{"prefixes valid", func(in *T) { in.Prefixes = []string{"ROOT", "team/"} }, ""},
		{"prefix empty", func(in *T) { in.Prefixes = []string{""} }, msgMin("prefixes.1.member", "1")},
		{"prefix long", func(in *T) { in.Prefixes = []string{strings.Repeat("a", 257)} }, msgMax("prefixes.1.member", "256")},
		{"prefix pattern", func(in *T) { in.Prefixes = []string{"ROOT", "root!"} }, msgPattern("prefixes.2.member", patPrefix)},
		{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
		{"maxResults 1001", func(in *T) { in.MaxResults = new(int32(1001)) }, msgLE("maxResults", "1000")},
	})
}

func TestValidateGetAccountSetting(t *testing.T) {
	type T = GetAccountSettingInput
	base := func() *T { return &T{Name: new("BASIC_SCAN_TYPE_VERSION")} }
	runCases(t, base, []opCase[T]{
		{"name null", func(in *T) { in.Name = nil }, msgNull("name")},
		{"name empty", func(in *T) { in.Name = new("") }, msgMin("name", "1")},
		{"name long", func(in *T) { in.Name = new(strings.Repeat("n", 65)) }, msgMax("name", "64")},
	})
}

func TestValidateGetAuthorizationToken(t *testing.T) {
	type T = GetAuthorizationTokenInput
	base := func() *T { return &T{} }
	runCases(t, base, []opCase[T]{
		{"registryIds 10", func(in *T) { in.RegistryIds = strs(10, "123456789012") }, ""},
		{"registryIds empty", func(in *T) { in.RegistryIds = []string{} }, msgMin("registryIds", "1")},
		{"registryIds 11", func(in *T) { in.RegistryIds = strs(11, "123456789012") }, msgMax("registryIds", "10")},
		{"registryId pattern", func(in *T) { in.RegistryIds = []string{"123456789012", "1234"} }, msgPattern("registryIds.2.member", "[0-9]{12}")},
	})
}

func TestValidateGetDownloadUrlForLayer(t *testing.T) {
	type T = GetDownloadUrlForLayerInput
	base := func() *T { return &T{RepositoryName: new("app"), LayerDigest: new(validDigest)} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"layerDigest null", func(in *T) { in.LayerDigest = nil }, msgNull("layerDigest")},
			{"layerDigest pattern", func(in *T) { in.LayerDigest = new("sha256:") }, msgPattern("layerDigest", patLayerDigest)},
			{"layerDigest anchored", func(in *T) { in.LayerDigest = new(validDigest + " ") }, msgPattern("layerDigest", patLayerDigest)},
		},
	))
}

func TestValidateInitiateLayerUpload(t *testing.T) {
	type T = InitiateLayerUploadInput
	base := func() *T { return &T{RepositoryName: new("app")} }
	runCases(t, base, repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }))
}

func TestValidateListImages(t *testing.T) {
	type T = ListImagesInput
	base := func() *T { return &T{RepositoryName: new("app")} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
			{"maxResults 1001", func(in *T) { in.MaxResults = new(int32(1001)) }, msgLE("maxResults", "1000")},
			{"filter valid", func(in *T) { in.Filter = &ListImagesFilter{TagStatus: new("UNTAGGED"), ImageStatus: new("ANY")} }, ""},
			{"filter tagStatus enum", func(in *T) { in.Filter = &ListImagesFilter{TagStatus: new("tagged")} }, msgEnum("filter.tagStatus", "[TAGGED, UNTAGGED, ANY]")},
			{"filter imageStatus enum", func(in *T) { in.Filter = &ListImagesFilter{ImageStatus: new("")} }, msgEnum("filter.imageStatus", "[ACTIVE, ARCHIVED, ACTIVATING, ANY]")},
		},
	))
}

func TestValidateListImageReferrers(t *testing.T) {
	type T = ListImageReferrersInput
	base := func() *T {
		return &T{RepositoryName: new("app"), SubjectId: &SubjectIdentifier{ImageDigest: new(validDigest)}}
	}
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"subjectId null", func(in *T) { in.SubjectId = nil }, msgNull("subjectId")},
			{"subjectId imageDigest null", func(in *T) { in.SubjectId = &SubjectIdentifier{} }, msgNull("subjectId.imageDigest")},
			{"filter empty", func(in *T) { in.Filter = &ListImageReferrersFilter{ArtifactTypes: []string{}} }, ""},
			{"artifactTypes 5", func(in *T) { in.Filter = &ListImageReferrersFilter{ArtifactTypes: strs(5, "application/x")} }, ""},
			{"artifactTypes 6", func(in *T) { in.Filter = &ListImageReferrersFilter{ArtifactTypes: strs(6, "application/x")} }, msgMax("filter.artifactTypes", "5")},
			{"artifactType empty", func(in *T) { in.Filter = &ListImageReferrersFilter{ArtifactTypes: []string{""}} }, msgMin("filter.artifactTypes.1.member", "1")},
			{"artifactType long", func(in *T) {
				in.Filter = &ListImageReferrersFilter{ArtifactTypes: []string{"a", strings.Repeat("a", 256)}}
			}, msgMax("filter.artifactTypes.2.member", "255")},
			{"artifactStatus enum", func(in *T) { in.Filter = &ListImageReferrersFilter{ArtifactStatus: new("GONE")} }, msgEnum("filter.artifactStatus", "[ACTIVE, ARCHIVED, ACTIVATING, ANY]")},
			{"maxResults 50", func(in *T) { in.MaxResults = new(int32(50)) }, ""},
			// FiftyMaxResults: 1 to 50, not 1000.
			{"maxResults 51", func(in *T) { in.MaxResults = new(int32(51)) }, msgLE("maxResults", "50")},
			{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
		},
	))
}

func TestValidateListTagsForResource(t *testing.T) {
	type T = ListTagsForResourceInput
	base := func() *T { return &T{ResourceArn: new("arn:aws:ecr:us-east-1:123456789012:repository/app")} }
	runCases(t, base, []opCase[T]{
		{"resourceArn null", func(in *T) { in.ResourceArn = nil }, msgNull("resourceArn")},
		{"resourceArn any", func(in *T) { in.ResourceArn = new("") }, ""},
	})
}

func TestValidatePutAccountSetting(t *testing.T) {
	type T = PutAccountSettingInput
	base := func() *T { return &T{Name: new("BASIC_SCAN_TYPE_VERSION"), Value: new("AWS_NATIVE")} }
	runCases(t, base, []opCase[T]{
		{"name null", func(in *T) { in.Name = nil }, msgNull("name")},
		{"name empty", func(in *T) { in.Name = new("") }, msgMin("name", "1")},
		{"name long", func(in *T) { in.Name = new(strings.Repeat("n", 65)) }, msgMax("name", "64")},
		{"value null", func(in *T) { in.Value = nil }, msgNull("value")},
		{"value any", func(in *T) { in.Value = new("") }, ""},
		{"order", func(in *T) { in.Name = nil; in.Value = nil }, msgNull("name")},
	})
}

func TestValidatePutImage(t *testing.T) {
	type T = PutImageInput
	base := func() *T { return &T{RepositoryName: new("app"), ImageManifest: new("{}")} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"imageManifest null", func(in *T) { in.ImageManifest = nil }, msgNull("imageManifest")},
			{"imageManifest empty", func(in *T) { in.ImageManifest = new("") }, msgMin("imageManifest", "1")},
			{"imageManifest 4 MiB", func(in *T) { in.ImageManifest = new(strings.Repeat("m", 4194304)) }, ""},
			{"imageManifest long", func(in *T) { in.ImageManifest = new(strings.Repeat("m", 4194305)) }, msgMax("imageManifest", "4194304")},
			{"imageTag valid", func(in *T) { in.ImageTag = new("v1.0"); in.ImageDigest = new(validDigest) }, ""},
			{"imageTag empty", func(in *T) { in.ImageTag = new("") }, msgMin("imageTag", "1")},
			{"imageTag long", func(in *T) { in.ImageTag = new(strings.Repeat("t", 301)) }, msgMax("imageTag", "300")},
			{"order manifest before tag", func(in *T) { in.ImageManifest = new(""); in.ImageTag = new("") }, msgMin("imageManifest", "1")},
		},
	))
}

func TestValidatePutImageScanningConfiguration(t *testing.T) {
	type T = PutImageScanningConfigurationInput
	base := func() *T {
		return &T{RepositoryName: new("app"), ImageScanningConfiguration: &ImageScanningConfiguration{ScanOnPush: new(true)}}
	}
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"imageScanningConfiguration null", func(in *T) { in.ImageScanningConfiguration = nil }, msgNull("imageScanningConfiguration")},
			{"scanOnPush absent", func(in *T) { in.ImageScanningConfiguration = &ImageScanningConfiguration{} }, ""},
		},
	))
}

func TestValidatePutImageTagMutability(t *testing.T) {
	type T = PutImageTagMutabilityInput
	base := func() *T { return &T{RepositoryName: new("app"), ImageTagMutability: new("IMMUTABLE")} }
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		exclusionFilterCases(func(in *T) *[]ImageTagMutabilityExclusionFilter { return &in.ImageTagMutabilityExclusionFilters }),
		[]opCase[T]{
			{"imageTagMutability null", func(in *T) { in.ImageTagMutability = nil }, msgNull("imageTagMutability")},
			{"imageTagMutability enum", func(in *T) { in.ImageTagMutability = new("Immutable") }, msgEnum("imageTagMutability", enumMutability)},
		},
	))
}

func TestValidateTagResource(t *testing.T) {
	type T = TagResourceInput
	base := func() *T {
		return &T{ResourceArn: new("arn:aws:ecr:us-east-1:123456789012:repository/app"), Tags: []Tag{{Key: new("k"), Value: new("v")}}}
	}
	runCases(t, base, concat(
		tagCases("tags", func(in *T) *[]Tag { return &in.Tags }),
		[]opCase[T]{
			{"resourceArn null", func(in *T) { in.ResourceArn = nil }, msgNull("resourceArn")},
			{"tags null", func(in *T) { in.Tags = nil }, msgNull("tags")},
			// The model puts no bound on tag keys and values or on their
			// number: those limits are the service's (InvalidTagParameter,
			// TooManyTags), not the model's.
			{"tags many and long", func(in *T) {
				in.Tags = make([]Tag, 51)
				for i := range in.Tags {
					in.Tags[i] = Tag{Key: new(strings.Repeat("k", 129)), Value: new(strings.Repeat("v", 257))}
				}
			}, ""},
		},
	))
}

func TestValidateUntagResource(t *testing.T) {
	type T = UntagResourceInput
	base := func() *T {
		return &T{ResourceArn: new("arn:aws:ecr:us-east-1:123456789012:repository/app"), TagKeys: []string{"k"}}
	}
	runCases(t, base, []opCase[T]{
		{"resourceArn null", func(in *T) { in.ResourceArn = nil }, msgNull("resourceArn")},
		{"tagKeys null", func(in *T) { in.TagKeys = nil }, msgNull("tagKeys")},
		{"tagKeys empty", func(in *T) { in.TagKeys = []string{} }, ""},
		{"tagKey empty", func(in *T) { in.TagKeys = []string{""} }, ""},
	})
}

func TestValidateUploadLayerPart(t *testing.T) {
	type T = UploadLayerPartInput
	base := func() *T {
		return &T{
			RepositoryName: new("app"), UploadId: new(validUploadID),
			PartFirstByte: new(int64(0)), PartLastByte: new(int64(4)), LayerPartBlob: []byte("hello"),
		}
	}
	runCases(t, base, concat(
		repositoryCases(func(in *T) **string { return &in.RegistryId }, func(in *T) **string { return &in.RepositoryName }),
		[]opCase[T]{
			{"uploadId null", func(in *T) { in.UploadId = nil }, msgNull("uploadId")},
			{"uploadId pattern", func(in *T) { in.UploadId = new("0f1e2d3c4b5a69788796a5b4c3d2e1f0") }, msgPattern("uploadId", patUploadID)},
			{"partFirstByte null", func(in *T) { in.PartFirstByte = nil }, msgNull("partFirstByte")},
			{"partFirstByte negative", func(in *T) { in.PartFirstByte = new(int64(-1)) }, msgGE("partFirstByte", "0")},
			{"partLastByte null", func(in *T) { in.PartLastByte = nil }, msgNull("partLastByte")},
			{"partLastByte negative", func(in *T) { in.PartLastByte = new(int64(-1)) }, msgGE("partLastByte", "0")},
			{"partLastByte huge", func(in *T) { in.PartLastByte = new(int64(1) << 62) }, ""},
			{"layerPartBlob null", func(in *T) { in.LayerPartBlob = nil }, msgNull("layerPartBlob")},
			{"layerPartBlob empty", func(in *T) { in.LayerPartBlob = []byte{} }, ""},
			{"layerPartBlob 20 MiB", func(in *T) { in.LayerPartBlob = make([]byte, 20971520) }, ""},
			{"layerPartBlob long", func(in *T) { in.LayerPartBlob = make([]byte, 20971521) }, msgMax("layerPartBlob", "20971520")},
			{"order", func(in *T) { in.PartFirstByte = new(int64(-1)); in.LayerPartBlob = nil }, msgGE("partFirstByte", "0")},
		},
	))
}

// TestValidateEnumsAcceptEveryValue checks each enum against every value
// the model lists, through the operation that uses it.
func TestValidateEnumsAcceptEveryValue(t *testing.T) {
	for _, v := range []string{"MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"} {
		if err := (&PutImageTagMutabilityInput{RepositoryName: new("app"), ImageTagMutability: new(v)}).validate(); err != nil {
			t.Errorf("imageTagMutability %s: %v", v, err)
		}
	}
	for _, v := range []string{"AES256", "KMS", "KMS_DSSE"} {
		in := &CreateRepositoryInput{RepositoryName: new("app"), EncryptionConfiguration: &EncryptionConfiguration{EncryptionType: new(v)}}
		if err := in.validate(); err != nil {
			t.Errorf("encryptionType %s: %v", v, err)
		}
	}
	for _, v := range []string{"TAGGED", "UNTAGGED", "ANY"} {
		if err := (&ListImagesInput{RepositoryName: new("app"), Filter: &ListImagesFilter{TagStatus: new(v)}}).validate(); err != nil {
			t.Errorf("tagStatus %s: %v", v, err)
		}
	}
	for _, v := range []string{"ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"} {
		if err := (&DescribeImagesInput{RepositoryName: new("app"), Filter: &DescribeImagesFilter{ImageStatus: new(v)}}).validate(); err != nil {
			t.Errorf("imageStatus %s: %v", v, err)
		}
		in := &ListImageReferrersInput{
			RepositoryName: new("app"), SubjectId: &SubjectIdentifier{ImageDigest: new(validDigest)},
			Filter: &ListImageReferrersFilter{ArtifactStatus: new(v)},
		}
		if err := in.validate(); err != nil {
			t.Errorf("artifactStatus %s: %v", v, err)
		}
	}
}

// TestModelPatterns checks the compiled patterns on values either side of
// their edges, and that each matches whole values only.
func TestModelPatterns(t *testing.T) {
	tests := []struct {
		p     *modelPattern
		match []string
		miss  []string
	}{
		{patternRegistryID, []string{"123456789012", "000000000000"}, []string{"", "12345678901", "1234567890123", "12345678901a", " 123456789012"}},
		{patternRepositoryName,
			[]string{"ab", "a.b", "a_b", "a__b", "a-b", "a---b", "a/b", "team/app-1/x.y", "0"},
			[]string{"", "A", "a/", "/a", "a//b", "a___b", "a.-b", "a.", "-a", "a b", "a\nb", "ab\n"}},
		{patternLayerDigest,
			[]string{"sha256:abcDEF0", "a-b_c+d.e:0", "x:f"},
			[]string{"", "sha256:", ":abc", "sha256:g", "sha256;x:0", "sha256:ab cd", "sha256:0\n"}},
		{patternUploadID,
			[]string{validUploadID, strings.ToUpper(validUploadID)},
			[]string{"", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-", "gf1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}},
		{patternPrefix,
			[]string{"ROOT", "a", "team/", "team/app", "a.b/c-d"},
			[]string{"", "/", "Team", "ROOT/", "xROOT", "a//", "team//app"}},
		{patternTemplateKmsKey,
			[]string{"", validKmsArn, "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abc"},
			[]string{"alias/x", "arn:aws:kms:us-east-1:12345678901:key/abc", validKmsArn + "/", "x" + validKmsArn}},
		{patternExclusionFilterText,
			[]string{"a", "release-*", "v1.*_X", strings.Repeat("a", 128)},
			[]string{"", "a b", "a/b", strings.Repeat("a", 129)}},
	}
	for _, tt := range tests {
		if !strings.HasPrefix(tt.p.re.String(), "^(?:") || !strings.HasSuffix(tt.p.re.String(), ")$") {
			t.Errorf("%s: not anchored: %s", tt.p.text, tt.p.re)
		}
		for _, s := range tt.match {
			if !tt.p.re.MatchString(s) {
				t.Errorf("%s: %q should match", tt.p.text, s)
			}
		}
		for _, s := range tt.miss {
			if tt.p.re.MatchString(s) {
				t.Errorf("%s: %q should not match", tt.p.text, s)
			}
		}
	}
}

func TestInvalidParameterErrorMessage(t *testing.T) {
	err := &InvalidParameterError{Member: "repositoryName", Constraint: "must have length greater than or equal to 2"}
	const want = "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length greater than or equal to 2'"
	if err.Error() != want {
		t.Fatalf("got %s", err.Error())
	}
}

// Replication.

const (
	patRegion            = `[0-9a-z-]{2,25}`
	patReplicationFilter = `^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$`
)

func destinations(n int) []ReplicationDestination {
	l := make([]ReplicationDestination, n)
	for i := range l {
		l[i] = ReplicationDestination{Region: new("eu-west-1"), RegistryId: new("123456789012")}
	}
	return l
}

func repositoryFilters(n int) []RepositoryFilter {
	l := make([]RepositoryFilter, n)
	for i := range l {
		l[i] = RepositoryFilter{Filter: new("team/app"), FilterType: new("PREFIX_MATCH")}
	}
	return l
}

func replicationRules(n int) []ReplicationRule {
	l := make([]ReplicationRule, n)
	for i := range l {
		l[i] = ReplicationRule{Destinations: destinations(1)}
	}
	return l
}

func TestValidatePutReplicationConfiguration(t *testing.T) {
	type T = PutReplicationConfigurationInput
	const rule1 = "replicationConfiguration.rules.1.member"
	base := func() *T {
		return &T{ReplicationConfiguration: &ReplicationConfiguration{Rules: []ReplicationRule{
			{Destinations: destinations(1), RepositoryFilters: repositoryFilters(1), DeleteReplication: &DeleteReplication{Enabled: new(true)}},
		}}}
	}
	// rule sets rule 1 of the base input.
	rule := func(f func(*ReplicationRule)) func(*T) {
		return func(in *T) { f(&in.ReplicationConfiguration.Rules[0]) }
	}
	runCases(t, base, []opCase[T]{
		{"configuration null", func(in *T) { in.ReplicationConfiguration = nil }, msgNull("replicationConfiguration")},
		{"rules null", func(in *T) { in.ReplicationConfiguration.Rules = nil }, msgNull("replicationConfiguration.rules")},
		{"rules empty", func(in *T) { in.ReplicationConfiguration.Rules = []ReplicationRule{} }, ""},
		{"rules 10", func(in *T) { in.ReplicationConfiguration.Rules = replicationRules(10) }, ""},
		{"rules 11", func(in *T) { in.ReplicationConfiguration.Rules = replicationRules(11) }, msgMax("replicationConfiguration.rules", "10")},
		{"destinations null", rule(func(r *ReplicationRule) { r.Destinations = nil }), msgNull(rule1 + ".destinations")},
		{"destinations empty", rule(func(r *ReplicationRule) { r.Destinations = []ReplicationDestination{} }), ""},
		// The model allows 100; the core refuses more than 25 unique ones.
		{"destinations 100", rule(func(r *ReplicationRule) { r.Destinations = destinations(100) }), ""},
		{"destinations 101", rule(func(r *ReplicationRule) { r.Destinations = destinations(101) }), msgMax(rule1+".destinations", "100")},
		{"region null", rule(func(r *ReplicationRule) { r.Destinations = destinations(2); r.Destinations[1].Region = nil }), msgNull(rule1 + ".destinations.2.member.region")},
		{"region short", rule(func(r *ReplicationRule) { r.Destinations[0].Region = new("a") }), msgMin(rule1+".destinations.1.member.region", "2")},
		{"region long", rule(func(r *ReplicationRule) { r.Destinations[0].Region = new(strings.Repeat("a", 26)) }), msgMax(rule1+".destinations.1.member.region", "25")},
		{"region longest", rule(func(r *ReplicationRule) { r.Destinations[0].Region = new(strings.Repeat("a", 25)) }), ""},
		{"region pattern", rule(func(r *ReplicationRule) { r.Destinations[0].Region = new("EU-WEST-1") }), msgPattern(rule1+".destinations.1.member.region", patRegion)},
		{"region underscore", rule(func(r *ReplicationRule) { r.Destinations[0].Region = new("eu_west_1") }), msgPattern(rule1+".destinations.1.member.region", patRegion)},
		{"destination registryId null", rule(func(r *ReplicationRule) { r.Destinations[0].RegistryId = nil }), msgNull(rule1 + ".destinations.1.member.registryId")},
		{"destination registryId pattern", rule(func(r *ReplicationRule) { r.Destinations[0].RegistryId = new("12345678901") }),
			msgPattern(rule1+".destinations.1.member.registryId", "[0-9]{12}")},
		{"filters absent", rule(func(r *ReplicationRule) { r.RepositoryFilters = nil }), ""},
		{"filters empty", rule(func(r *ReplicationRule) { r.RepositoryFilters = []RepositoryFilter{} }), msgMin(rule1+".repositoryFilters", "1")},
		{"filters 100", rule(func(r *ReplicationRule) { r.RepositoryFilters = repositoryFilters(100) }), ""},
		{"filters 101", rule(func(r *ReplicationRule) { r.RepositoryFilters = repositoryFilters(101) }), msgMax(rule1+".repositoryFilters", "100")},
		{"filter null", rule(func(r *ReplicationRule) {
			r.RepositoryFilters = repositoryFilters(2)
			r.RepositoryFilters[1].Filter = nil
		}),
			msgNull(rule1 + ".repositoryFilters.2.member.filter")},
		{"filter short", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].Filter = new("a") }), msgMin(rule1+".repositoryFilters.1.member.filter", "2")},
		{"filter long", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].Filter = new(strings.Repeat("a", 257)) }), msgMax(rule1+".repositoryFilters.1.member.filter", "256")},
		{"filter longest", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].Filter = new(strings.Repeat("a", 256)) }), ""},
		{"filter prefix of a path", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].Filter = new("team/") }), ""},
		{"filter pattern", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].Filter = new("Team") }), msgPattern(rule1+".repositoryFilters.1.member.filter", patReplicationFilter)},
		{"filter wildcard", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].Filter = new("team*") }), msgPattern(rule1+".repositoryFilters.1.member.filter", patReplicationFilter)},
		{"filterType null", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].FilterType = nil }), msgNull(rule1 + ".repositoryFilters.1.member.filterType")},
		{"filterType enum", rule(func(r *ReplicationRule) { r.RepositoryFilters[0].FilterType = new("WILDCARD") }), msgEnum(rule1+".repositoryFilters.1.member.filterType", "[PREFIX_MATCH]")},
		{"deleteReplication absent", rule(func(r *ReplicationRule) { r.DeleteReplication = nil }), ""},
		{"deleteReplication false", rule(func(r *ReplicationRule) { r.DeleteReplication.Enabled = new(false) }), ""},
		{"deleteReplication enabled null", rule(func(r *ReplicationRule) { r.DeleteReplication = &DeleteReplication{} }), msgNull(rule1 + ".deleteReplication.enabled")},
		// Order: a rule's destinations, then its filters, then
		// deleteReplication; rule 1 before rule 2.
		{"order destinations before filters", rule(func(r *ReplicationRule) {
			r.Destinations[0].Region = nil
			r.RepositoryFilters[0].Filter = nil
			r.DeleteReplication.Enabled = nil
		}), msgNull(rule1 + ".destinations.1.member.region")},
		{"order filters before deleteReplication", rule(func(r *ReplicationRule) {
			r.RepositoryFilters[0].FilterType = new("x")
			r.DeleteReplication.Enabled = nil
		}), msgEnum(rule1+".repositoryFilters.1.member.filterType", "[PREFIX_MATCH]")},
		{"order rules", func(in *T) {
			in.ReplicationConfiguration.Rules = replicationRules(3)
			in.ReplicationConfiguration.Rules[1].Destinations = nil
			in.ReplicationConfiguration.Rules[2].Destinations = nil
		}, msgNull("replicationConfiguration.rules.2.member.destinations")},
		{"order list length before members", func(in *T) {
			in.ReplicationConfiguration.Rules = replicationRules(11)
			in.ReplicationConfiguration.Rules[0].Destinations = nil
		}, msgMax("replicationConfiguration.rules", "10")},
	})
}

func TestValidateDescribeImageReplicationStatus(t *testing.T) {
	type T = DescribeImageReplicationStatusInput
	base := func() *T { return &T{RepositoryName: new("app"), ImageId: &ImageIdentifier{ImageTag: new("v1")}} }
	runCases(t, base, []opCase[T]{
		{"registryId valid", func(in *T) { in.RegistryId = new("123456789012") }, ""},
		{"registryId pattern", func(in *T) { in.RegistryId = new("12345") }, msgPattern("registryId", "[0-9]{12}")},
		{"repositoryName null", func(in *T) { in.RepositoryName = nil }, msgNull("repositoryName")},
		{"repositoryName short", func(in *T) { in.RepositoryName = new("a") }, msgMin("repositoryName", "2")},
		{"repositoryName pattern", func(in *T) { in.RepositoryName = new("App") }, msgPattern("repositoryName", patRepositoryName)},
		{"imageId null", func(in *T) { in.ImageId = nil }, msgNull("imageId")},
		{"imageId by digest", func(in *T) { in.ImageId = &ImageIdentifier{ImageDigest: new(validDigest)} }, ""},
		{"imageTag empty", func(in *T) { in.ImageId.ImageTag = new("") }, msgMin("imageId.imageTag", "1")},
		{"imageTag long", func(in *T) { in.ImageId.ImageTag = new(strings.Repeat("a", 301)) }, msgMax("imageId.imageTag", "300")},
		// The model's order: repositoryName, imageId, registryId.
		{"order", func(in *T) { in.RegistryId = new("x"); in.ImageId = nil }, msgNull("imageId")},
	})
}

func TestValidateStartReplicationBackfill(t *testing.T) {
	type T = StartReplicationBackfillInput
	base := func() *T { return &T{Destination: &destinations(1)[0]} }
	runCases(t, base, []opCase[T]{
		{"registryId valid", func(in *T) { in.RegistryId = new("123456789012") }, ""},
		{"registryId pattern", func(in *T) { in.RegistryId = new("12345") }, msgPattern("registryId", "[0-9]{12}")},
		{"destination null", func(in *T) { in.Destination = nil }, msgNull("destination")},
		{"region null", func(in *T) { in.Destination.Region = nil }, msgNull("destination.region")},
		{"region pattern", func(in *T) { in.Destination.Region = new("eu west") }, msgPattern("destination.region", patRegion)},
		{"destination registryId null", func(in *T) { in.Destination.RegistryId = nil }, msgNull("destination.registryId")},
		{"destination registryId pattern", func(in *T) { in.Destination.RegistryId = new("abc") }, msgPattern("destination.registryId", "[0-9]{12}")},
		{"order", func(in *T) { in.RegistryId = new("x"); in.Destination = nil }, msgPattern("registryId", "[0-9]{12}")},
	})
}

func TestValidateStopReplicationBackfill(t *testing.T) {
	type T = StopReplicationBackfillInput
	base := func() *T { return &T{ReplicationBackfillId: new(validUploadID)} }
	runCases(t, base, []opCase[T]{
		{"registryId pattern", func(in *T) { in.RegistryId = new("12345") }, msgPattern("registryId", "[0-9]{12}")},
		{"id null", func(in *T) { in.ReplicationBackfillId = nil }, msgNull("replicationBackfillId")},
		{"id upper case", func(in *T) { in.ReplicationBackfillId = new(strings.ToUpper(validUploadID)) }, ""},
		{"id pattern", func(in *T) { in.ReplicationBackfillId = new("backfill-1") }, msgPattern("replicationBackfillId", patUploadID)},
		{"id empty", func(in *T) { in.ReplicationBackfillId = new("") }, msgPattern("replicationBackfillId", patUploadID)},
	})
}

func TestValidateListReplicationBackfills(t *testing.T) {
	type T = ListReplicationBackfillsInput
	base := func() *T { return &T{} }
	runCases(t, base, []opCase[T]{
		{"registryId pattern", func(in *T) { in.RegistryId = new("12345") }, msgPattern("registryId", "[0-9]{12}")},
		{"maxResults 1", func(in *T) { in.MaxResults = new(int32(1)) }, ""},
		{"maxResults 50", func(in *T) { in.MaxResults = new(int32(50)) }, ""},
		{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
		{"maxResults 51", func(in *T) { in.MaxResults = new(int32(51)) }, msgLE("maxResults", "50")},
		{"nextToken", func(in *T) { in.NextToken = new("x") }, ""},
	})
}

func TestValidateDescribeReplicationBackfillResults(t *testing.T) {
	type T = DescribeReplicationBackfillResultsInput
	base := func() *T { return &T{ReplicationBackfillId: new(validUploadID)} }
	runCases(t, base, []opCase[T]{
		{"registryId pattern", func(in *T) { in.RegistryId = new("12345") }, msgPattern("registryId", "[0-9]{12}")},
		{"id null", func(in *T) { in.ReplicationBackfillId = nil }, msgNull("replicationBackfillId")},
		{"id pattern", func(in *T) { in.ReplicationBackfillId = new(validUploadID + "0") }, msgPattern("replicationBackfillId", patUploadID)},
		{"resultStatusFilter enum", func(in *T) { in.ResultStatusFilter = new("IN_PROGRESS") }, msgEnum("resultStatusFilter", "[COMPLETE, FAILED]")},
		{"maxResults 1000", func(in *T) { in.MaxResults = new(int32(1000)) }, ""},
		{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
		{"maxResults 1001", func(in *T) { in.MaxResults = new(int32(1001)) }, msgLE("maxResults", "1000")},
		{"order", func(in *T) { in.MaxResults = new(int32(0)); in.ResultStatusFilter = new("x") }, msgEnum("resultStatusFilter", "[COMPLETE, FAILED]")},
	})
}

func TestValidateReplicationEnumsAcceptEveryValue(t *testing.T) {
	for _, v := range []string{"COMPLETE", "FAILED"} {
		if err := (&DescribeReplicationBackfillResultsInput{ReplicationBackfillId: new(validUploadID), ResultStatusFilter: new(v)}).validate(); err != nil {
			t.Errorf("resultStatusFilter %s: %v", v, err)
		}
	}
	in := &PutReplicationConfigurationInput{ReplicationConfiguration: &ReplicationConfiguration{Rules: []ReplicationRule{
		{Destinations: destinations(1), RepositoryFilters: repositoryFilters(1)},
	}}}
	if err := in.validate(); err != nil {
		t.Errorf("filterType PREFIX_MATCH: %v", err)
	}
}

func TestReplicationPatterns(t *testing.T) {
	tests := []struct {
		p     *modelPattern
		match []string
		miss  []string
	}{
		{patternRegion, []string{"us-east-1", "eu-central-2", "cn-north-1", "ab", strings.Repeat("a", 25)},
			[]string{"", "a", "US-EAST-1", "us_east_1", "us east", strings.Repeat("a", 26), "us-east-1\n"}},
		{patternReplicationFilter, []string{"ab", "team", "team/", "team/app", "a.b_c-d", "team/app-", "a.", "a/b/c"},
			[]string{"Team", "/a", "a//b", "a b", "a*", "team\n", "-a/b"}},
		{patternBackfillID, []string{validUploadID, strings.ToUpper(validUploadID)},
			[]string{"", "x", validUploadID + "0", "g" + validUploadID[1:]}},
	}
	for _, tt := range tests {
		for _, s := range tt.match {
			if !tt.p.re.MatchString(s) {
				t.Errorf("%s: %q should match", tt.p.text, s)
			}
		}
		for _, s := range tt.miss {
			if tt.p.re.MatchString(s) {
				t.Errorf("%s: %q should not match", tt.p.text, s)
			}
		}
	}
}
