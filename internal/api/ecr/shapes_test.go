package ecr

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/registry"
)

// marshal writes a response as Serve does.
func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := New(nil, nil, nil).api.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOutputsMarshal(t *testing.T) {
	at := awsjson.NewTimestamp(time.UnixMilli(1719871234123))
	later := awsjson.NewTimestamp(time.Unix(1719871300, 0))
	repo := &Repository{
		RepositoryArn:      "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
		RegistryId:         "123456789012",
		RepositoryName:     "team/app",
		RepositoryUri:      "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app",
		CreatedAt:          at,
		ImageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
		ImageTagMutabilityExclusionFilters: []ImageTagMutabilityExclusionFilter{
			{FilterType: new("WILDCARD"), Filter: new("latest")},
		},
		ImageScanningConfiguration: &ImageScanningConfiguration{ScanOnPush: new(false)},
		EncryptionConfiguration:    &EncryptionConfiguration{EncryptionType: new("AES256")},
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"CreateRepository", &CreateRepositoryOutput{Repository: repo},
			`{"repository":{"repositoryArn":"arn:aws:ecr:us-east-1:123456789012:repository/team/app","registryId":"123456789012",` +
				`"repositoryName":"team/app","repositoryUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app",` +
				`"createdAt":1719871234.123,"imageTagMutability":"IMMUTABLE_WITH_EXCLUSION",` +
				`"imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"latest"}],` +
				`"imageScanningConfiguration":{"scanOnPush":false},"encryptionConfiguration":{"encryptionType":"AES256"}}}`},
		{"DescribeRepositories", &DescribeRepositoriesOutput{Repositories: []Repository{{RepositoryName: "a"}}, NextToken: "n"},
			`{"repositories":[{"repositoryName":"a"}],"nextToken":"n"}`},
		{"DeleteRepository empty", &DeleteRepositoryOutput{}, `{}`},
		{"DescribeImages", &DescribeImagesOutput{ImageDetails: []ImageDetail{{
			RegistryId: "123456789012", RepositoryName: "app", ImageDigest: "sha256:ab", ImageTags: []string{"v1", "latest"},
			ImageSizeInBytes: new(int64(1234)), ImagePushedAt: at,
			ImageScanStatus: &ImageScanStatus{Status: "COMPLETE", Description: "done"},
			ImageScanFindingsSummary: &ImageScanFindingsSummary{
				ImageScanCompletedAt: later, VulnerabilitySourceUpdatedAt: at,
				FindingSeverityCounts: map[string]int32{"HIGH": 2, "CRITICAL": 0},
			},
			ImageManifestMediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactMediaType: "application/vnd.oci.image.config.v1+json",
			LastRecordedPullTime: later, SubjectManifestDigest: "sha256:cd", ImageStatus: "ACTIVE", LastArchivedAt: at, LastActivatedAt: later,
		}}},
			`{"imageDetails":[{"registryId":"123456789012","repositoryName":"app","imageDigest":"sha256:ab","imageTags":["v1","latest"],` +
				`"imageSizeInBytes":1234,"imagePushedAt":1719871234.123,"imageScanStatus":{"status":"COMPLETE","description":"done"},` +
				`"imageScanFindingsSummary":{"imageScanCompletedAt":1719871300,"vulnerabilitySourceUpdatedAt":1719871234.123,"findingSeverityCounts":{"CRITICAL":0,"HIGH":2}},` +
				`"imageManifestMediaType":"application/vnd.oci.image.manifest.v1+json","artifactMediaType":"application/vnd.oci.image.config.v1+json",` +
				`"lastRecordedPullTime":1719871300,"subjectManifestDigest":"sha256:cd","imageStatus":"ACTIVE","lastArchivedAt":1719871234.123,"lastActivatedAt":1719871300}]}`},
		{"ImageDetail zero size", &ImageDetail{ImageSizeInBytes: new(int64(0))}, `{"imageSizeInBytes":0}`},
		{"BatchCheckLayerAvailability", &BatchCheckLayerAvailabilityOutput{
			Layers:   []Layer{{LayerDigest: "sha256:ab", LayerAvailability: "AVAILABLE", LayerSize: new(int64(0)), MediaType: "m"}},
			Failures: []LayerFailure{{LayerDigest: "x", FailureCode: "InvalidLayerDigest", FailureReason: "r"}},
		}, `{"layers":[{"layerDigest":"sha256:ab","layerAvailability":"AVAILABLE","layerSize":0,"mediaType":"m"}],` +
			`"failures":[{"layerDigest":"x","failureCode":"InvalidLayerDigest","failureReason":"r"}]}`},
		{"BatchGetImage", &BatchGetImageOutput{
			Images: []Image{{RegistryId: "123456789012", RepositoryName: "app", ImageId: &ImageIdentifier{ImageDigest: new("sha256:ab"), ImageTag: new("v1")},
				ImageManifest: "{}", ImageManifestMediaType: "m"}},
			Failures: []ImageFailure{{ImageId: &ImageIdentifier{ImageTag: new("gone")}, FailureCode: "ImageNotFound", FailureReason: "Requested image not found"}},
		}, `{"images":[{"registryId":"123456789012","repositoryName":"app","imageId":{"imageDigest":"sha256:ab","imageTag":"v1"},` +
			`"imageManifest":"{}","imageManifestMediaType":"m"}],` +
			`"failures":[{"imageId":{"imageTag":"gone"},"failureCode":"ImageNotFound","failureReason":"Requested image not found"}]}`},
		{"BatchDeleteImage", &BatchDeleteImageOutput{ImageIds: []ImageIdentifier{{ImageDigest: new("d")}}}, `{"imageIds":[{"imageDigest":"d"}],"failures":[]}`},
		{"CompleteLayerUpload", &CompleteLayerUploadOutput{RegistryId: "r", RepositoryName: "n", UploadId: "u", LayerDigest: "d"},
			`{"registryId":"r","repositoryName":"n","uploadId":"u","layerDigest":"d"}`},
		{"GetAuthorizationToken", &GetAuthorizationTokenOutput{AuthorizationData: []AuthorizationData{{
			AuthorizationToken: "QVdTOnNlY3JldA==", ExpiresAt: awsjson.NewTimestamp(time.Unix(1719914434, 0)), ProxyEndpoint: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
		}}}, `{"authorizationData":[{"authorizationToken":"QVdTOnNlY3JldA==","expiresAt":1719914434,"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}`},
		{"GetDownloadUrlForLayer", &GetDownloadUrlForLayerOutput{DownloadUrl: "https://x/y", LayerDigest: "d"}, `{"downloadUrl":"https://x/y","layerDigest":"d"}`},
		{"InitiateLayerUpload", &InitiateLayerUploadOutput{UploadId: "u", PartSize: new(int64(10485760))}, `{"uploadId":"u","partSize":10485760}`},
		{"UploadLayerPart", &UploadLayerPartOutput{RegistryId: "r", RepositoryName: "n", UploadId: "u", LastByteReceived: new(int64(0))},
			`{"registryId":"r","repositoryName":"n","uploadId":"u","lastByteReceived":0}`},
		{"ListImages", &ListImagesOutput{ImageIds: []ImageIdentifier{{ImageDigest: new("d"), ImageTag: new("t")}}, NextToken: "n"},
			`{"imageIds":[{"imageDigest":"d","imageTag":"t"}],"nextToken":"n"}`},
		{"ListImages empty", &ListImagesOutput{}, `{"imageIds":[]}`}, // present and empty, as ECR's
		{"DescribeRepositories empty", &DescribeRepositoriesOutput{}, `{"repositories":[]}`},
		// digest, mediaType and size are required: written even when zero.
		{"ListImageReferrers", &ListImageReferrersOutput{Referrers: []ImageReferrer{
			{Digest: "sha256:ab", MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.example+type",
				Size: 512, Annotations: map[string]string{"org.opencontainers.image.created": "2024"}, ArtifactStatus: "ACTIVE"},
			{},
		}}, `{"referrers":[{"digest":"sha256:ab","mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example+type",` +
			`"size":512,"annotations":{"org.opencontainers.image.created":"2024"},"artifactStatus":"ACTIVE"},{"digest":"","mediaType":"","size":0}]}`},
		{"ListTagsForResource", &ListTagsForResourceOutput{Tags: []Tag{{Key: new("env"), Value: new("")}}}, `{"tags":[{"Key":"env","Value":""}]}`},
		{"GetAccountSetting", &GetAccountSettingOutput{Name: "BASIC_SCAN_TYPE_VERSION", Value: "AWS_NATIVE"}, `{"name":"BASIC_SCAN_TYPE_VERSION","value":"AWS_NATIVE"}`},
		{"PutAccountSetting", &PutAccountSettingOutput{Name: "n", Value: "v"}, `{"name":"n","value":"v"}`},
		{"PutImage", &PutImageOutput{Image: &Image{RepositoryName: "app", ImageManifest: "{}"}}, `{"image":{"repositoryName":"app","imageManifest":"{}"}}`},
		{"PutImageScanningConfiguration", &PutImageScanningConfigurationOutput{RegistryId: "r", RepositoryName: "n",
			ImageScanningConfiguration: &ImageScanningConfiguration{ScanOnPush: new(true)}},
			`{"registryId":"r","repositoryName":"n","imageScanningConfiguration":{"scanOnPush":true}}`},
		{"PutImageTagMutability", &PutImageTagMutabilityOutput{RegistryId: "r", RepositoryName: "n", ImageTagMutability: "MUTABLE"},
			`{"registryId":"r","repositoryName":"n","imageTagMutability":"MUTABLE"}`},
		{"TagResource", &TagResourceOutput{}, `{}`},
		{"UntagResource", &UntagResourceOutput{}, `{}`},
		{"DescribeRegistry no replication", &DescribeRegistryOutput{RegistryId: "123456789012", ReplicationConfiguration: wireReplication(registry.ReplicationConfiguration{})},
			`{"registryId":"123456789012","replicationConfiguration":{"rules":[]}}`},
		{"DescribeRegistry", &DescribeRegistryOutput{RegistryId: "123456789012", ReplicationConfiguration: wireReplication(registry.ReplicationConfiguration{
			Rules: []registry.ReplicationRule{
				{Destinations: []registry.ReplicationDestination{{Region: "eu-west-1", RegistryID: "123456789012"}},
					RepositoryFilters: []registry.RepositoryFilter{{Filter: "prod", FilterType: "PREFIX_MATCH"}}},
				{Destinations: []registry.ReplicationDestination{{Region: "us-west-2", RegistryID: "210987654321"}}, DeleteReplication: new(false)},
				{DeleteReplication: new(true)},
			},
			Since: time.Unix(1719871300, 0),
		})}, `{"registryId":"123456789012","replicationConfiguration":{"rules":[` +
			`{"destinations":[{"region":"eu-west-1","registryId":"123456789012"}],"repositoryFilters":[{"filter":"prod","filterType":"PREFIX_MATCH"}]},` +
			`{"destinations":[{"region":"us-west-2","registryId":"210987654321"}],"deleteReplication":{"enabled":false}},` +
			`{"destinations":[],"deleteReplication":{"enabled":true}}]}}`},
		{"DescribeImageReplicationStatus", &DescribeImageReplicationStatusOutput{RepositoryName: "app", ImageId: &ImageIdentifier{ImageDigest: new("sha256:ab"), ImageTag: new("v1")},
			ReplicationStatuses: []ImageReplicationStatus{
				{Region: "eu-west-1", RegistryId: "123456789012", Status: "COMPLETE"},
				{Region: "us-west-2", RegistryId: "210987654321", Status: "FAILED", FailureCode: "ACCESS_DENIED"},
			}}, `{"repositoryName":"app","imageId":{"imageDigest":"sha256:ab","imageTag":"v1"},"replicationStatuses":[` +
			`{"region":"eu-west-1","registryId":"123456789012","status":"COMPLETE"},` +
			`{"region":"us-west-2","registryId":"210987654321","status":"FAILED","failureCode":"ACCESS_DENIED"}]}`},
		{"DescribeImageReplicationStatus none", &DescribeImageReplicationStatusOutput{RepositoryName: "app", ImageId: &ImageIdentifier{ImageDigest: new("sha256:ab")}},
			`{"repositoryName":"app","imageId":{"imageDigest":"sha256:ab"},"replicationStatuses":[]}`},
		{"StartReplicationBackfill", backfillOutput("123456789012", registry.Backfill{ID: validUploadID,
			Destination: registry.ReplicationDestination{Region: "eu-west-1", RegistryID: "123456789012"}, Status: "PREPARING", StartedAt: at.Time}),
			`{"replicationBackfillId":"` + validUploadID + `","registryId":"123456789012","destination":{"region":"eu-west-1","registryId":"123456789012"},` +
				`"status":"PREPARING","startedAt":1719871234.123}`},
		{"ListReplicationBackfills empty", &ListReplicationBackfillsOutput{RegistryId: "123456789012"}, `{"registryId":"123456789012","backfills":[]}`},
		{"ListReplicationBackfills", &ListReplicationBackfillsOutput{RegistryId: "123456789012", NextToken: "n", Backfills: []ReplicationBackfillSummary{
			{ReplicationBackfillId: "a", Destination: &ReplicationDestination{Region: new("eu-west-1"), RegistryId: new("123456789012")}, Status: "PREPARING", StartedAt: at},
			{ReplicationBackfillId: "b", Destination: &ReplicationDestination{Region: new("us-west-2"), RegistryId: new("123456789012")}, Status: "FAILED",
				FailureCode: "TOO_MANY_FAILURES", Progress: wireProgress(&registry.BackfillProgress{Total: 4, Completed: 1, Failed: 3, FailureCodes: []string{"ACCESS_DENIED"}}),
				StartedAt: at, EndedAt: later},
			{ReplicationBackfillId: "c", Destination: &ReplicationDestination{Region: new("ap-south-1"), RegistryId: new("123456789012")}, Status: "IN_PROGRESS",
				Progress: wireProgress(&registry.BackfillProgress{}), StartedAt: at},
		}}, `{"registryId":"123456789012","backfills":[` +
			`{"replicationBackfillId":"a","destination":{"region":"eu-west-1","registryId":"123456789012"},"status":"PREPARING","startedAt":1719871234.123},` +
			`{"replicationBackfillId":"b","destination":{"region":"us-west-2","registryId":"123456789012"},"status":"FAILED","failureCode":"TOO_MANY_FAILURES",` +
			`"progress":{"totalReplicationCount":4,"completedReplicationCount":1,"failedReplicationCount":3,"failureCodes":["ACCESS_DENIED"]},` +
			`"startedAt":1719871234.123,"endedAt":1719871300},` +
			`{"replicationBackfillId":"c","destination":{"region":"ap-south-1","registryId":"123456789012"},"status":"IN_PROGRESS",` +
			`"progress":{"totalReplicationCount":0,"completedReplicationCount":0,"failedReplicationCount":0,"failureCodes":[]},"startedAt":1719871234.123}],` +
			`"nextToken":"n"}`},
		{"DescribeReplicationBackfillResults preparing", &DescribeReplicationBackfillResultsOutput{RegistryId: "123456789012", ReplicationBackfillId: "a",
			Destination: &ReplicationDestination{Region: new("eu-west-1"), RegistryId: new("123456789012")}, Status: "PREPARING", StartedAt: at},
			`{"registryId":"123456789012","replicationBackfillId":"a","destination":{"region":"eu-west-1","registryId":"123456789012"},"status":"PREPARING","startedAt":1719871234.123}`},
		{"DescribeReplicationBackfillResults ended, no results", &DescribeReplicationBackfillResultsOutput{ReplicationBackfillId: "a", Status: "COMPLETE",
			Progress: wireProgress(&registry.BackfillProgress{}), Results: &[]ReplicationBackfillResult{}, StartedAt: at, EndedAt: later},
			`{"replicationBackfillId":"a","status":"COMPLETE","progress":{"totalReplicationCount":0,"completedReplicationCount":0,"failedReplicationCount":0,"failureCodes":[]},` +
				`"results":[],"startedAt":1719871234.123,"endedAt":1719871300}`},
		{"DescribeReplicationBackfillResults", &DescribeReplicationBackfillResultsOutput{ReplicationBackfillId: "a", Status: "FAILED", FailureCode: "TOO_MANY_FAILURES",
			Results: &[]ReplicationBackfillResult{
				{RepositoryName: "app", ImageId: &ImageIdentifier{ImageDigest: new("sha256:ab"), ImageTag: new("v1")}, Status: "COMPLETE"},
				{RepositoryName: "app", ImageId: &ImageIdentifier{ImageDigest: new("sha256:cd")}, Status: "FAILED", FailureCode: "ACCESS_DENIED"},
			}, NextToken: "n"},
			`{"replicationBackfillId":"a","status":"FAILED","failureCode":"TOO_MANY_FAILURES","results":[` +
				`{"repositoryName":"app","imageId":{"imageDigest":"sha256:ab","imageTag":"v1"},"status":"COMPLETE"},` +
				`{"repositoryName":"app","imageId":{"imageDigest":"sha256:cd"},"status":"FAILED","failureCode":"ACCESS_DENIED"}],"nextToken":"n"}`},
		{"CreateRepositoryCreationTemplate", &CreateRepositoryCreationTemplateOutput{RegistryId: "123456789012", RepositoryCreationTemplate: &RepositoryCreationTemplate{
			Prefix: "ROOT", Description: "d",
			EncryptionConfiguration: &EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: new("KMS"), KmsKey: new("")},
			ResourceTags:            []Tag{{Key: new("k"), Value: new("v")}},
			ImageTagMutability:      "MUTABLE", ImageTagMutabilityExclusionFilters: []ImageTagMutabilityExclusionFilter{{FilterType: new("WILDCARD"), Filter: new("x*")}},
			RepositoryPolicy: "{}", LifecyclePolicy: "{}", AppliedFor: []string{"CREATE_ON_PUSH"}, CustomRoleArn: "arn:aws:iam::123456789012:role/r",
			CreatedAt: at, UpdatedAt: later,
		}}, `{"registryId":"123456789012","repositoryCreationTemplate":{"prefix":"ROOT","description":"d",` +
			`"encryptionConfiguration":{"encryptionType":"KMS","kmsKey":""},"resourceTags":[{"Key":"k","Value":"v"}],` +
			`"imageTagMutability":"MUTABLE","imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"x*"}],` +
			`"repositoryPolicy":"{}","lifecyclePolicy":"{}","appliedFor":["CREATE_ON_PUSH"],"customRoleArn":"arn:aws:iam::123456789012:role/r",` +
			`"createdAt":1719871234.123,"updatedAt":1719871300}}`},
		{"DescribeRepositoryCreationTemplates", &DescribeRepositoryCreationTemplatesOutput{RegistryId: "r",
			RepositoryCreationTemplates: []RepositoryCreationTemplate{{Prefix: "a"}}, NextToken: "n"},
			`{"registryId":"r","repositoryCreationTemplates":[{"prefix":"a"}],"nextToken":"n"}`},
		{"DeleteRepositoryCreationTemplate", &DeleteRepositoryCreationTemplateOutput{RegistryId: "r", RepositoryCreationTemplate: &RepositoryCreationTemplate{Prefix: "a"}},
			`{"registryId":"r","repositoryCreationTemplate":{"prefix":"a"}}`},
		{"UpdateRepositoryCreationTemplate", &UpdateRepositoryCreationTemplateOutput{RegistryId: "r"}, `{"registryId":"r"}`},
	}
	for _, tt := range tests {
		if got := marshal(t, tt.v); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestOutputsReadBack checks that what the outputs write reads back, as an
// SDK would read it, into the same values.
func TestOutputsReadBack(t *testing.T) {
	out := DescribeImagesOutput{ImageDetails: []ImageDetail{{
		ImageDigest: "sha256:ab", ImagePushedAt: awsjson.NewTimestamp(time.UnixMilli(1719871234567)),
		ImageScanFindingsSummary: &ImageScanFindingsSummary{FindingSeverityCounts: map[string]int32{"LOW": 3}},
	}}}
	var back DescribeImagesOutput
	if err := json.Unmarshal([]byte(marshal(t, out)), &back); err != nil {
		t.Fatal(err)
	}
	d := back.ImageDetails[0]
	if d.ImageDigest != "sha256:ab" || d.ImagePushedAt.UnixMilli() != 1719871234567 || d.ImageScanFindingsSummary.FindingSeverityCounts["LOW"] != 3 {
		t.Fatalf("read back %+v", d)
	}
}

// A zero time left in a response is a bug; it must fail loudly rather than
// reach the client as year 1.
func TestOutputZeroTimestampFails(t *testing.T) {
	if _, err := json.Marshal(&CreateRepositoryOutput{Repository: &Repository{CreatedAt: &Timestamp{}}}); err == nil {
		t.Fatal("zero createdAt marshalled")
	}
}

// TestReplicationEcho: a configuration read from a request, given to the
// core and written back is the request's, member for member:
// deleteReplication and repositoryFilters only where the request had them.
func TestReplicationEcho(t *testing.T) {
	for _, body := range []string{
		`{"rules":[]}`,
		`{"rules":[{"destinations":[]}]}`,
		`{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"123456789012"},{"region":"us-west-2","registryId":"210987654321"}],` +
			`"repositoryFilters":[{"filter":"team/","filterType":"PREFIX_MATCH"},{"filter":"prod","filterType":"PREFIX_MATCH"}],` +
			`"deleteReplication":{"enabled":true}},` +
			`{"destinations":[{"region":"ap-south-1","registryId":"123456789012"}],"deleteReplication":{"enabled":false}},` +
			`{"destinations":[{"region":"ap-south-2","registryId":"123456789012"}]}]}`,
	} {
		in := new(PutReplicationConfigurationInput)
		if err := awsjson.Decode([]byte(`{"replicationConfiguration":`+body+`}`), in); err != nil {
			t.Fatal(err)
		}
		if err := in.validate(); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got := marshal(t, &PutReplicationConfigurationOutput{ReplicationConfiguration: wireReplication(coreReplication(in.ReplicationConfiguration))})
		if want := `{"replicationConfiguration":` + body + `}`; got != want {
			t.Errorf("echo\n got %s\nwant %s", got, want)
		}
	}
}

// TestBackfillResultsOnlyOnceEnded: results are left out until the
// backfill has ended, and then given even when there are none.
func TestBackfillResultsOnlyOnceEnded(t *testing.T) {
	for status, ended := range map[string]bool{
		registry.BackfillPreparing: false, registry.BackfillInProgress: false, registry.BackfillStopping: false,
		registry.BackfillComplete: true, registry.BackfillFailed: true, registry.BackfillStopped: true,
	} {
		if got := backfillEnded(registry.Backfill{Status: status}); got != ended {
			t.Errorf("backfillEnded(%s) = %v", status, got)
		}
	}
}
