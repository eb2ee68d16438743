package ecr

import (
	"reflect"
	"testing"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/api/awsjson/awsjsontest"
)

// inputs returns a new, empty value of every <Op>Input, by operation.
func inputs() map[string]any {
	return map[string]any{
		"BatchCheckLayerAvailability":         new(BatchCheckLayerAvailabilityInput),
		"BatchDeleteImage":                    new(BatchDeleteImageInput),
		"BatchGetImage":                       new(BatchGetImageInput),
		"CompleteLayerUpload":                 new(CompleteLayerUploadInput),
		"CreateRepository":                    new(CreateRepositoryInput),
		"CreateRepositoryCreationTemplate":    new(CreateRepositoryCreationTemplateInput),
		"DeleteRepository":                    new(DeleteRepositoryInput),
		"DeleteRepositoryCreationTemplate":    new(DeleteRepositoryCreationTemplateInput),
		"DescribeImages":                      new(DescribeImagesInput),
		"DescribeRegistry":                    new(DescribeRegistryInput),
		"DescribeRepositories":                new(DescribeRepositoriesInput),
		"DescribeRepositoryCreationTemplates": new(DescribeRepositoryCreationTemplatesInput),
		"GetAccountSetting":                   new(GetAccountSettingInput),
		"GetAuthorizationToken":               new(GetAuthorizationTokenInput),
		"GetDownloadUrlForLayer":              new(GetDownloadUrlForLayerInput),
		"InitiateLayerUpload":                 new(InitiateLayerUploadInput),
		"ListImages":                          new(ListImagesInput),
		"ListImageReferrers":                  new(ListImageReferrersInput),
		"ListTagsForResource":                 new(ListTagsForResourceInput),
		"PutAccountSetting":                   new(PutAccountSettingInput),
		"PutImage":                            new(PutImageInput),
		"PutImageScanningConfiguration":       new(PutImageScanningConfigurationInput),
		"PutImageTagMutability":               new(PutImageTagMutabilityInput),
		"TagResource":                         new(TagResourceInput),
		"UntagResource":                       new(UntagResourceInput),
		"UpdateRepositoryCreationTemplate":    new(UpdateRepositoryCreationTemplateInput),
		"UploadLayerPart":                     new(UploadLayerPartInput),
		"PutLifecyclePolicy":                  new(PutLifecyclePolicyInput),
		"GetLifecyclePolicy":                  new(GetLifecyclePolicyInput),
		"DeleteLifecyclePolicy":               new(DeleteLifecyclePolicyInput),
		"StartLifecyclePolicyPreview":         new(StartLifecyclePolicyPreviewInput),
		"GetLifecyclePolicyPreview":           new(GetLifecyclePolicyPreviewInput),
		"UpdateImageStorageClass":             new(UpdateImageStorageClassInput),
		"RegisterPullTimeUpdateExclusion":     new(RegisterPullTimeUpdateExclusionInput),
		"DeregisterPullTimeUpdateExclusion":   new(DeregisterPullTimeUpdateExclusionInput),
		"ListPullTimeUpdateExclusions":        new(ListPullTimeUpdateExclusionsInput),
		"SetRepositoryPolicy":                 new(SetRepositoryPolicyInput),
		"GetRepositoryPolicy":                 new(GetRepositoryPolicyInput),
		"DeleteRepositoryPolicy":              new(DeleteRepositoryPolicyInput),
		"PutRegistryPolicy":                   new(PutRegistryPolicyInput),
		"GetRegistryPolicy":                   new(GetRegistryPolicyInput),
		"DeleteRegistryPolicy":                new(DeleteRegistryPolicyInput),

		"PutRegistryScanningConfiguration":        new(PutRegistryScanningConfigurationInput),
		"GetRegistryScanningConfiguration":        new(GetRegistryScanningConfigurationInput),
		"BatchGetRepositoryScanningConfiguration": new(BatchGetRepositoryScanningConfigurationInput),
		"StartImageScan":                          new(StartImageScanInput),
		"DescribeImageScanFindings":               new(DescribeImageScanFindingsInput),

		"PutReplicationConfiguration":        new(PutReplicationConfigurationInput),
		"DescribeImageReplicationStatus":     new(DescribeImageReplicationStatusInput),
		"StartReplicationBackfill":           new(StartReplicationBackfillInput),
		"StopReplicationBackfill":            new(StopReplicationBackfillInput),
		"ListReplicationBackfills":           new(ListReplicationBackfillsInput),
		"DescribeReplicationBackfillResults": new(DescribeReplicationBackfillResultsInput),

		"CreatePullThroughCacheRule":    new(CreatePullThroughCacheRuleInput),
		"DescribePullThroughCacheRules": new(DescribePullThroughCacheRulesInput),
		"UpdatePullThroughCacheRule":    new(UpdatePullThroughCacheRuleInput),
		"DeletePullThroughCacheRule":    new(DeletePullThroughCacheRuleInput),
		"ValidatePullThroughCacheRule":  new(ValidatePullThroughCacheRuleInput),
	}
}

// extensionInputs are the requests of ecrd's own operations.
func extensionInputs() map[string]any {
	return map[string]any{
		"StartLifecyclePolicyPreview": new(PreviewAtInput),
		"RunLifecyclePolicy":          new(RunLifecyclePolicyInput),
		"SetImageTimes":               new(SetImageTimesInput),
		"CollectGarbage":              new(CollectGarbageInput),
		"ListDeadLetters":             new(ListDeadLettersInput),
		"RedriveDeadLetters":          new(RedriveDeadLettersInput),
		"CreateConsoleSignInToken":    new(CreateConsoleSignInTokenInput),
	}
}

func TestInputsCoverEveryOperation(t *testing.T) {
	all, h := inputs(), New(nil, nil, nil)
	if len(all) != len(h.ops) || len(extensionInputs()) != len(h.ext) {
		t.Fatalf("%d and %d inputs for %d ECR operations and %d of ecrd's", len(all), len(extensionInputs()), len(h.ops), len(h.ext))
	}
	for op := range h.ops {
		if all[op] == nil {
			t.Errorf("no input of %s", op)
		}
	}
	for _, in := range extensionInputs() {
		if _, ok := in.(interface{ validate() error }); !ok {
			t.Errorf("%T has no validate()", in)
		}
	}
	for op, in := range all {
		if _, ok := in.(interface{ validate() error }); !ok {
			t.Errorf("%s: %T has no validate()", op, in)
		}
		if name := reflect.TypeOf(in).Elem().Name(); name != op+"Input" {
			t.Errorf("%s: type %s", op, name)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	body := `{
		"registryId": "123456789012",
		"repositoryName": "team/app",
		"imageTag": "caf\u00e9",
		"imageManifest": "{\"schemaVersion\":2}",
		"imageDigest": null
	}`
	var in PutImageInput
	if err := awsjson.Decode([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := PutImageInput{
		RegistryId: new("123456789012"), RepositoryName: new("team/app"),
		ImageTag: new("café"), ImageManifest: new(`{"schemaVersion":2}`),
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
}

// TestDecodeAgreesWithEncodingJSON: each member's JSON name and type of
// every input decode.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	awsjsontest.DecodesAsEncodingJSON(t, inputs())
}
