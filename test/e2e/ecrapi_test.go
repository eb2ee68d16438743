package e2e

// End-to-end tests of the ECR API: every operation ecrd serves, driven
// through the AWS SDK for Go v2 against the real binary, with images pushed
// through the OCI API by hand or through the ECR layer API. Helpers are in
// ecrapi_helpers_test.go.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

const (
	repoNameRE   = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
	uploadIDRE   = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	notNullError = "must not be null"
)

func repoARN(account, name string) string {
	return "arn:aws:ecr:" + testRegion + ":" + account + ":repository/" + name
}

func repoNotFound(name, account string) string {
	return fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, account)
}

func invalidParam(member, constraint string) string {
	return "Invalid parameter at '" + member + "' failed to satisfy constraint: '" + constraint + "'"
}

func wildcards(filters ...string) []ecrtypes.ImageTagMutabilityExclusionFilter {
	var out []ecrtypes.ImageTagMutabilityExclusionFilter
	for _, f := range filters {
		out = append(out, ecrtypes.ImageTagMutabilityExclusionFilter{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String(f)})
	}
	return out
}

func filterValues(in []ecrtypes.ImageTagMutabilityExclusionFilter) []string {
	out := []string{}
	for _, f := range in {
		if f.FilterType != ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard {
			out = append(out, "<filterType "+string(f.FilterType)+">")
		}
		out = append(out, aws.ToString(f.Filter))
	}
	return out
}

func ecrTags(kv ...string) []ecrtypes.Tag {
	var out []ecrtypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ecrtypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func ecrTagMap(tags []ecrtypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func ecrSameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// wantRepo describes the settings a repository must show.
type wantRepo struct {
	account    string
	name       string
	mutability ecrtypes.ImageTagMutability
	filters    []string
	encryption ecrtypes.EncryptionType
	kmsKey     string
	scanOnPush bool
}

// checkRepository compares a Repository of an answer with what it must be.
func checkRepository(t *testing.T, e *ecrd, what string, r *ecrtypes.Repository, w wantRepo, createdAfter time.Time) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no repository in the answer", what)
		return
	}
	account := w.account
	if account == "" {
		account = testAccount
	}
	if got := aws.ToString(r.RepositoryName); got != w.name {
		t.Errorf("%s: repositoryName %q, want %q", what, got, w.name)
	}
	if got := aws.ToString(r.RegistryId); got != account {
		t.Errorf("%s: registryId %q, want %q", what, got, account)
	}
	if got, want := aws.ToString(r.RepositoryArn), repoARN(account, w.name); got != want {
		t.Errorf("%s: repositoryArn %q, want %q", what, got, want)
	}
	if got, want := aws.ToString(r.RepositoryUri), e.Addr+"/"+w.name; got != want {
		t.Errorf("%s: repositoryUri %q, want %q", what, got, want)
	}
	if r.CreatedAt == nil || r.CreatedAt.Before(createdAfter.Add(-time.Second)) || r.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: createdAt %v, want between %v and now", what, r.CreatedAt, createdAfter)
	}
	if r.ImageTagMutability != w.mutability {
		t.Errorf("%s: imageTagMutability %q, want %q", what, r.ImageTagMutability, w.mutability)
	}
	if got, want := filterValues(r.ImageTagMutabilityExclusionFilters), append([]string{}, w.filters...); !slices.Equal(got, want) {
		t.Errorf("%s: imageTagMutabilityExclusionFilters %q, want %q", what, got, want)
	}
	if r.ImageScanningConfiguration == nil {
		t.Errorf("%s: no imageScanningConfiguration", what)
	} else if r.ImageScanningConfiguration.ScanOnPush != w.scanOnPush {
		t.Errorf("%s: scanOnPush %v, want %v", what, r.ImageScanningConfiguration.ScanOnPush, w.scanOnPush)
	}
	if r.EncryptionConfiguration == nil {
		t.Errorf("%s: no encryptionConfiguration", what)
	} else {
		if r.EncryptionConfiguration.EncryptionType != w.encryption {
			t.Errorf("%s: encryptionType %q, want %q", what, r.EncryptionConfiguration.EncryptionType, w.encryption)
		}
		if got := aws.ToString(r.EncryptionConfiguration.KmsKey); got != w.kmsKey {
			t.Errorf("%s: kmsKey %q, want %q", what, got, w.kmsKey)
		}
	}
}

func TestECRRepositories(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	testKMSKey := newKMSKey(t, e) // KMS repositories need a key that exists
	ctx := context.Background()
	start := time.Now()

	cases := []struct {
		in   ecr.CreateRepositoryInput
		want wantRepo
		tags map[string]string
	}{
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/defaults")},
			wantRepo{name: "ecrapi/defaults", mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeAes256}, nil},
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/tagged"), Tags: ecrTags("team", "a", "env", "prod")},
			wantRepo{name: "ecrapi/tagged", mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeAes256},
			map[string]string{"team": "a", "env": "prod"}},
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/immutable"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}},
			wantRepo{name: "ecrapi/immutable", mutability: ecrtypes.ImageTagMutabilityImmutable, encryption: ecrtypes.EncryptionTypeAes256, scanOnPush: true}, nil},
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/immutable-excl"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion,
			ImageTagMutabilityExclusionFilters: wildcards("latest", "dev-*")},
			wantRepo{name: "ecrapi/immutable-excl", mutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion, filters: []string{"latest", "dev-*"}, encryption: ecrtypes.EncryptionTypeAes256}, nil},
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/mutable-excl"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutableWithExclusion,
			ImageTagMutabilityExclusionFilters: wildcards("release-*")},
			wantRepo{name: "ecrapi/mutable-excl", mutability: ecrtypes.ImageTagMutabilityMutableWithExclusion, filters: []string{"release-*"}, encryption: ecrtypes.EncryptionTypeAes256}, nil},
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/aes"), EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeAes256}},
			wantRepo{name: "ecrapi/aes", mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeAes256}, nil},
		{ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/kms"), EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(testKMSKey)}},
			wantRepo{name: "ecrapi/kms", mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeKms, kmsKey: testKMSKey}, nil},
	}
	wants := map[string]wantRepo{}
	for _, tc := range cases {
		out, err := c.CreateRepository(ctx, &tc.in)
		ecrMust(t, "CreateRepository "+tc.want.name, err)
		checkRepository(t, e, "CreateRepository "+tc.want.name, out.Repository, tc.want, start)
		if id := sdkRequestID(out.ResultMetadata); !requestIDRE.MatchString(id) {
			t.Errorf("CreateRepository %s: x-amzn-RequestId %q", tc.want.name, id)
		}
		wants[tc.want.name] = tc.want
		tags, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repoARN(testAccount, tc.want.name))})
		ecrMust(t, "ListTagsForResource", err)
		if want := tc.tags; !ecrSameMap(ecrTagMap(tags.Tags), want) && !(len(want) == 0 && len(tags.Tags) == 0) {
			t.Errorf("ListTagsForResource %s = %v, want %v", tc.want.name, ecrTagMap(tags.Tags), want)
		}
	}

	// DescribeRepositories by name, in any order.
	names := []string{"ecrapi/kms", "ecrapi/defaults", "ecrapi/immutable-excl", "ecrapi/tagged", "ecrapi/mutable-excl", "ecrapi/immutable", "ecrapi/aes"}
	desc, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: names})
	ecrMust(t, "DescribeRepositories by name", err)
	if len(desc.Repositories) != len(names) || desc.NextToken != nil {
		t.Fatalf("DescribeRepositories by name: %d repositories, nextToken %v; want %d and none", len(desc.Repositories), desc.NextToken, len(names))
	}
	for i := range desc.Repositories {
		r := &desc.Repositories[i]
		w, ok := wants[aws.ToString(r.RepositoryName)]
		if !ok {
			t.Errorf("DescribeRepositories returned %q, which was not asked for", aws.ToString(r.RepositoryName))
			continue
		}
		checkRepository(t, e, "DescribeRepositories "+w.name, r, w, start)
	}

	// Paging with the SDK paginator, 3 at a time, over 11 repositories.
	for i := range 4 {
		_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(fmt.Sprintf("ecrapi/page-%d", i))})
		ecrMust(t, "CreateRepository page", err)
		names = append(names, fmt.Sprintf("ecrapi/page-%d", i))
	}
	pager := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(3)})
	var seen []string
	pages := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		ecrMust(t, "DescribeRepositories page", err)
		pages++
		if len(page.Repositories) > 3 {
			t.Errorf("page %d has %d repositories, more than maxResults 3", pages, len(page.Repositories))
		}
		for _, r := range page.Repositories {
			seen = append(seen, aws.ToString(r.RepositoryName))
			if r.EncryptionConfiguration == nil || r.EncryptionConfiguration.EncryptionType == "" {
				t.Errorf("paged repository %s has no encryptionConfiguration", aws.ToString(r.RepositoryName))
			}
			if r.ImageScanningConfiguration == nil {
				t.Errorf("paged repository %s has no imageScanningConfiguration", aws.ToString(r.RepositoryName))
			}
			if aws.ToString(r.RepositoryArn) != repoARN(testAccount, aws.ToString(r.RepositoryName)) || aws.ToString(r.RepositoryUri) != e.Addr+"/"+aws.ToString(r.RepositoryName) {
				t.Errorf("paged repository: ARN %q URI %q", aws.ToString(r.RepositoryArn), aws.ToString(r.RepositoryUri))
			}
		}
		if pages > 10 {
			t.Fatal("DescribeRepositories paging does not end")
		}
	}
	if pages != 4 || !slices.Equal(ecrSorted(seen), ecrSorted(names)) {
		t.Errorf("paging 3 at a time: %d pages of %q; want 4 pages of %q", pages, seen, ecrSorted(names))
	}
	all, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories", err)
	if len(all.Repositories) != len(names) || all.NextToken != nil {
		t.Errorf("DescribeRepositories without maxResults: %d repositories, nextToken %v; want %d in one page", len(all.Repositories), all.NextToken, len(names))
	}

	// Errors of CreateRepository and DescribeRepositories.
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/defaults")})
	wantAPIError(t, "CreateRepository of an existing name", err, "RepositoryAlreadyExistsException", 400,
		"The repository with name 'ecrapi/defaults' already exists in the registry with id '123456789012'")
	wantTyped[*ecrtypes.RepositoryAlreadyExistsException](t, "CreateRepository of an existing name", err)
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecrapi/defaults", "ecrapi/missing"}})
	wantAPIError(t, "DescribeRepositories of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))
	wantTyped[*ecrtypes.RepositoryNotFoundException](t, "DescribeRepositories of a missing repository", err)
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/aes-with-key"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeAes256, KmsKey: aws.String(testKMSKey)}})
	wantAPIError(t, "CreateRepository AES256 with a KMS key", err, "InvalidParameterException", 400,
		invalidParam("encryptionConfiguration.kmsKey", "a KMS key can only be given with the KMS or KMS_DSSE encryption type"))
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/no-filters"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion})
	wantAPIError(t, "CreateRepository IMMUTABLE_WITH_EXCLUSION without filters", err, "InvalidParameterException", 400,
		invalidParam("imageTagMutabilityExclusionFilters", "exclusion filters are required when imageTagMutability is IMMUTABLE_WITH_EXCLUSION"))
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/stray-filters"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityMutable, ImageTagMutabilityExclusionFilters: wildcards("x")})
	wantAPIError(t, "CreateRepository MUTABLE with filters", err, "InvalidParameterException", 400,
		invalidParam("imageTagMutabilityExclusionFilters", "exclusion filters can only be used when imageTagMutability is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION"))
	for _, n := range []string{"ecrapi/aes-with-key", "ecrapi/no-filters", "ecrapi/stray-filters"} {
		_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{n}})
		wantAPIError(t, "DescribeRepositories of a refused creation", err, "RepositoryNotFoundException", 400, repoNotFound(n, testAccount))
	}

	// PutImageTagMutability and PutImageScanningConfiguration.
	mut, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("ecrapi/defaults"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: wildcards("latest", "pr-*")})
	ecrMust(t, "PutImageTagMutability", err)
	if aws.ToString(mut.RegistryId) != testAccount || aws.ToString(mut.RepositoryName) != "ecrapi/defaults" ||
		mut.ImageTagMutability != ecrtypes.ImageTagMutabilityImmutableWithExclusion || !slices.Equal(filterValues(mut.ImageTagMutabilityExclusionFilters), []string{"latest", "pr-*"}) {
		t.Errorf("PutImageTagMutability = %q %q %q %q", aws.ToString(mut.RegistryId), aws.ToString(mut.RepositoryName), mut.ImageTagMutability, filterValues(mut.ImageTagMutabilityExclusionFilters))
	}
	scan, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("ecrapi/defaults"),
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
	ecrMust(t, "PutImageScanningConfiguration", err)
	if aws.ToString(scan.RegistryId) != testAccount || aws.ToString(scan.RepositoryName) != "ecrapi/defaults" || scan.ImageScanningConfiguration == nil || !scan.ImageScanningConfiguration.ScanOnPush {
		t.Errorf("PutImageScanningConfiguration = %q %q %+v", aws.ToString(scan.RegistryId), aws.ToString(scan.RepositoryName), scan.ImageScanningConfiguration)
	}
	desc, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecrapi/defaults"}})
	ecrMust(t, "DescribeRepositories", err)
	checkRepository(t, e, "after PutImageTagMutability and PutImageScanningConfiguration", &desc.Repositories[0], wantRepo{name: "ecrapi/defaults",
		mutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion, filters: []string{"latest", "pr-*"}, encryption: ecrtypes.EncryptionTypeAes256, scanOnPush: true}, start)
	_, err = c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("ecrapi/defaults"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutable})
	ecrMust(t, "PutImageTagMutability MUTABLE", err)
	_, err = c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("ecrapi/defaults"),
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: false}})
	ecrMust(t, "PutImageScanningConfiguration false", err)
	desc, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecrapi/defaults"}})
	ecrMust(t, "DescribeRepositories", err)
	checkRepository(t, e, "back to MUTABLE without scan on push", &desc.Repositories[0], wantRepo{name: "ecrapi/defaults",
		mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeAes256}, start)
	_, err = c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("ecrapi/defaults"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityMutableWithExclusion})
	wantAPIError(t, "PutImageTagMutability MUTABLE_WITH_EXCLUSION without filters", err, "InvalidParameterException", 400,
		invalidParam("imageTagMutabilityExclusionFilters", "exclusion filters are required when imageTagMutability is MUTABLE_WITH_EXCLUSION"))
	_, err = c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("ecrapi/missing"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable})
	wantAPIError(t, "PutImageTagMutability of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))
	_, err = c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("ecrapi/missing"),
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
	wantAPIError(t, "PutImageScanningConfiguration of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))

	// Resource tags.
	arn := aws.String(repoARN(testAccount, "ecrapi/tagged"))
	listTags := func() map[string]string {
		t.Helper()
		out, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn})
		ecrMust(t, "ListTagsForResource", err)
		return ecrTagMap(out.Tags)
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: ecrTags("team", "b", "owner", "me")})
	ecrMust(t, "TagResource", err)
	if got, want := listTags(), map[string]string{"team": "b", "env": "prod", "owner": "me"}; !ecrSameMap(got, want) {
		t.Errorf("tags after TagResource = %v, want %v", got, want)
	}
	_, err = c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env", "not-there"}})
	ecrMust(t, "UntagResource", err)
	if got, want := listTags(), map[string]string{"team": "b", "owner": "me"}; !ecrSameMap(got, want) {
		t.Errorf("tags after UntagResource = %v, want %v", got, want)
	}
	many := func(n, from int) []ecrtypes.Tag {
		var out []ecrtypes.Tag
		for i := range n {
			out = append(out, ecrtypes.Tag{Key: aws.String(fmt.Sprintf("k%02d", from+i)), Value: aws.String("v")})
		}
		return out
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: many(49, 0)})
	wantAPIError(t, "TagResource to 51 tags", err, "TooManyTagsException", 400, "")
	wantTyped[*ecrtypes.TooManyTagsException](t, "TagResource to 51 tags", err)
	if got := listTags(); len(got) != 2 {
		t.Errorf("a refused TagResource changed the tags: %v", got)
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: many(48, 0)})
	ecrMust(t, "TagResource to 50 tags", err)
	if got := listTags(); len(got) != 50 {
		t.Errorf("%d tags after TagResource to 50, want 50", len(got))
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: many(1, 48)})
	wantAPIError(t, "TagResource of a 51st tag", err, "TooManyTagsException", 400, "")
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: ecrTags("team", "c")})
	ecrMust(t, "TagResource replacing a tag at 50", err)
	if got := listTags(); len(got) != 50 || got["team"] != "c" {
		t.Errorf("after replacing a tag at 50: %d tags, team=%q", len(got), got["team"])
	}
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/too-many-tags"), Tags: many(51, 0)})
	wantAPIError(t, "CreateRepository with 51 tags", err, "TooManyTagsException", 400, "")
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecrapi/too-many-tags"}})
	wantAPIError(t, "DescribeRepositories after a refused creation", err, "RepositoryNotFoundException", 400, "")
	for _, bad := range []struct {
		tag     ecrtypes.Tag
		message string
	}{
		{ecrTags("aws:reserved", "x")[0], "Tag keys starting with 'aws:' are reserved for AWS use"},
		{ecrTags(strings.Repeat("k", 129), "x")[0], "Tag keys must be between 1 and 128 characters long"},
		{ecrTags("", "x")[0], "Tag keys must be between 1 and 128 characters long"},
		{ecrTags("key", strings.Repeat("v", 257))[0], "Tag values must be at most 256 characters long"},
	} {
		_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN(testAccount, "ecrapi/defaults")), Tags: []ecrtypes.Tag{bad.tag}})
		wantAPIError(t, fmt.Sprintf("TagResource %.20q=%.20q", aws.ToString(bad.tag.Key), aws.ToString(bad.tag.Value)), err, "InvalidTagParameterException", 400, bad.message)
		wantTyped[*ecrtypes.InvalidTagParameterException](t, "TagResource of a bad tag", err)
	}
	_, err = c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket")})
	wantAPIError(t, "ListTagsForResource of an S3 ARN", err, "InvalidParameterException", 400,
		invalidParam("resourceArn", `Invalid ARN "arn:aws:s3:::bucket": use arn:aws:ecr:<region>:<account>:repository/<name>`))
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String("not-an-arn"), Tags: ecrTags("a", "b")})
	wantAPIError(t, "TagResource of a malformed ARN", err, "InvalidParameterException", 400,
		invalidParam("resourceArn", `Invalid ARN "not-an-arn": use arn:aws:ecr:<region>:<account>:repository/<name>`))
	_, err = c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repoARN(testAccount, "ecrapi/missing"))})
	wantAPIError(t, "ListTagsForResource of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))
	_, err = c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: aws.String(repoARN(testAccount, "ecrapi/missing")), TagKeys: []string{"a"}})
	wantAPIError(t, "UntagResource of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))

	// DeleteRepository: an empty one; a non-empty one only with force.
	del, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("ecrapi/aes")})
	ecrMust(t, "DeleteRepository of an empty repository", err)
	checkRepository(t, e, "DeleteRepository", del.Repository, wants["ecrapi/aes"], start)
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecrapi/aes"}})
	wantAPIError(t, "DescribeRepositories after DeleteRepository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/aes", testAccount))
	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("ecrapi/aes")})
	wantAPIError(t, "DeleteRepository of a deleted repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/aes", testAccount))

	hc := e.HTTPClient(t)
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 300))
	ociPushImage(t, e, hc, "ecrapi/full", img, "v1")
	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("ecrapi/full")})
	wantAPIError(t, "DeleteRepository of a repository with images", err, "RepositoryNotEmptyException", 400,
		"The repository with name 'ecrapi/full' in registry with id '123456789012' cannot be deleted because it still contains images")
	wantTyped[*ecrtypes.RepositoryNotEmptyException](t, "DeleteRepository without force", err)
	if a := ociGet(t, hc, e.URL()+"/v2/ecrapi/full/manifests/v1", mtOCIManifest); a.Status != http.StatusOK {
		t.Errorf("the image is gone after a refused DeleteRepository: %d", a.Status)
	}
	del, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("ecrapi/full"), Force: true})
	ecrMust(t, "DeleteRepository with force", err)
	checkRepository(t, e, "DeleteRepository with force", del.Repository, wantRepo{name: "ecrapi/full", mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeAes256}, start)
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecrapi/full"}})
	wantAPIError(t, "DescribeRepositories after a forced delete", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/full", testAccount))
	if a := ociGet(t, hc, e.URL()+"/v2/ecrapi/full/manifests/v1", mtOCIManifest); a.Status != http.StatusNotFound {
		t.Errorf("GET of a manifest of a deleted repository = %d %s, want 404", a.Status, a.Body)
	} else if code, _ := ociError(a); code != "NAME_UNKNOWN" && code != "MANIFEST_UNKNOWN" {
		t.Errorf("GET of a manifest of a deleted repository: error code %q", code)
	}
	noServerErrors(t, e)
}

func TestECRImages(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	hc := e.HTTPClient(t)
	const repo = "ecrapi/images"
	start := time.Now()

	a := newOCIImage(t, mtDockerManifest, ecrRandom(t, 2048), ecrRandom(t, 1000)) // tags v1, latest
	b := newOCIImage(t, mtOCIManifest, ecrRandom(t, 1024))                        // tag v2
	u := newOCIImage(t, mtDockerManifest, ecrRandom(t, 512))                      // untagged
	ociPushImage(t, e, hc, repo, a, "v1", "latest")
	ociPushImage(t, e, hc, repo, b, "v2")
	ociPushImage(t, e, hc, repo, u)
	pushed := time.Now()
	byDigest := map[string]ociImage{a.Digest: a, b.Digest: b, u.Digest: u}
	wantTags := map[string][]string{a.Digest: {"latest", "v1"}, b.Digest: {"v2"}, u.Digest: nil}

	// No pull yet: no lastRecordedPullTime. Then pull b through /v2.
	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v2")}}})
	ecrMust(t, "DescribeImages v2", err)
	if len(d.ImageDetails) != 1 || d.ImageDetails[0].LastRecordedPullTime != nil {
		t.Fatalf("DescribeImages before any pull: %+v", d.ImageDetails)
	}
	pulled := time.Now()
	if m := ociGet(t, hc, e.URL()+"/v2/"+repo+"/manifests/v2", mtOCIManifest+", "+mtDockerManifest); m.Status != http.StatusOK || m.Header.Get("Docker-Content-Digest") != b.Digest {
		t.Fatalf("pulling v2: %d %s", m.Status, m.Body)
	}

	// ListImages: one ID per tag, one per untagged image; filters; paging.
	listIDs := func(what string, in *ecr.ListImagesInput) (ids []string, pages int) {
		t.Helper()
		p := ecr.NewListImagesPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			ecrMust(t, what, err)
			pages++
			if in.MaxResults != nil && len(page.ImageIds) > int(*in.MaxResults) {
				t.Errorf("%s: page %d holds %d imageIds, more than maxResults %d", what, pages, len(page.ImageIds), *in.MaxResults)
			}
			for _, id := range page.ImageIds {
				ids = append(ids, imageIDString(id.ImageDigest, id.ImageTag))
			}
			if pages > 10 {
				t.Fatalf("%s: paging does not end", what)
			}
		}
		return ecrSorted(ids), pages
	}
	tagged := []string{a.Digest + "|latest", a.Digest + "|v1", b.Digest + "|v2"}
	anyIDs := ecrSorted(append(slices.Clone(tagged), u.Digest+"|"))
	if got, _ := listIDs("ListImages", &ecr.ListImagesInput{RepositoryName: aws.String(repo)}); !slices.Equal(got, anyIDs) {
		t.Errorf("ListImages = %q, want %q", got, anyIDs)
	}
	if got, _ := listIDs("ListImages ANY", &ecr.ListImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusAny}}); !slices.Equal(got, anyIDs) {
		t.Errorf("ListImages ANY = %q, want %q", got, anyIDs)
	}
	if got, _ := listIDs("ListImages TAGGED", &ecr.ListImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusTagged}}); !slices.Equal(got, ecrSorted(tagged)) {
		t.Errorf("ListImages TAGGED = %q, want %q", got, ecrSorted(tagged))
	}
	if got, _ := listIDs("ListImages UNTAGGED", &ecr.ListImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusUntagged}}); !slices.Equal(got, []string{u.Digest + "|"}) {
		t.Errorf("ListImages UNTAGGED = %q, want %q", got, []string{u.Digest + "|"})
	}
	// maxResults counts image IDs (ECR: "the maximum number of image
	// results"), not images: 4 IDs, 4 pages of one.
	if got, pages := listIDs("ListImages by 1", &ecr.ListImagesInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(1)}); !slices.Equal(got, anyIDs) || pages != 4 {
		t.Errorf("ListImages one result a page: %d pages of %q, want 4 pages of %q", pages, got, anyIDs)
	}
	if got, pages := listIDs("ListImages by 3", &ecr.ListImagesInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(3)}); !slices.Equal(got, anyIDs) || pages != 2 {
		t.Errorf("ListImages three results a page: %d pages of %q, want 2 pages of %q", pages, got, anyIDs)
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("ecrapi/missing")})
	wantAPIError(t, "ListImages of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))

	// DescribeImages.
	checkDetail := func(what string, dt ecrtypes.ImageDetail) {
		t.Helper()
		dg := aws.ToString(dt.ImageDigest)
		img, ok := byDigest[dg]
		if !ok {
			t.Errorf("%s: unexpected image %s", what, dg)
			return
		}
		if aws.ToString(dt.RegistryId) != testAccount || aws.ToString(dt.RepositoryName) != repo {
			t.Errorf("%s: registryId %q repositoryName %q", what, aws.ToString(dt.RegistryId), aws.ToString(dt.RepositoryName))
		}
		if got := ecrSorted(dt.ImageTags); !slices.Equal(got, wantTags[dg]) {
			t.Errorf("%s: %s has tags %q, want %q", what, dg, got, wantTags[dg])
		}
		if aws.ToInt64(dt.ImageSizeInBytes) != img.Size || dt.ImageSizeInBytes == nil {
			t.Errorf("%s: imageSizeInBytes %v, want %d", what, aws.ToInt64(dt.ImageSizeInBytes), img.Size)
		}
		if dt.ImagePushedAt == nil || dt.ImagePushedAt.Before(start.Add(-time.Second)) || dt.ImagePushedAt.After(pushed.Add(time.Second)) {
			t.Errorf("%s: imagePushedAt %v, want between %v and %v", what, dt.ImagePushedAt, start, pushed)
		}
		if aws.ToString(dt.ImageManifestMediaType) != img.MediaType {
			t.Errorf("%s: imageManifestMediaType %q, want %q", what, aws.ToString(dt.ImageManifestMediaType), img.MediaType)
		}
		if aws.ToString(dt.ArtifactMediaType) != img.ConfigMediaType {
			t.Errorf("%s: artifactMediaType %q, want %q", what, aws.ToString(dt.ArtifactMediaType), img.ConfigMediaType)
		}
		if dt.ImageStatus != ecrtypes.ImageStatusActive {
			t.Errorf("%s: imageStatus %q, want ACTIVE", what, dt.ImageStatus)
		}
	}
	describe := func(what string, in *ecr.DescribeImagesInput) (digests []string, pages int) {
		t.Helper()
		p := ecr.NewDescribeImagesPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			ecrMust(t, what, err)
			pages++
			for _, dt := range page.ImageDetails {
				checkDetail(what, dt)
				digests = append(digests, aws.ToString(dt.ImageDigest))
			}
			if pages > 10 {
				t.Fatalf("%s: paging does not end", what)
			}
		}
		return ecrSorted(digests), pages
	}
	allDigests := ecrSorted([]string{a.Digest, b.Digest, u.Digest})
	if got, _ := describe("DescribeImages", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)}); !slices.Equal(got, allDigests) {
		t.Errorf("DescribeImages = %q, want %q", got, allDigests)
	}
	if got, _ := describe("DescribeImages TAGGED", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusTagged}}); !slices.Equal(got, ecrSorted([]string{a.Digest, b.Digest})) {
		t.Errorf("DescribeImages TAGGED = %q", got)
	}
	if got, _ := describe("DescribeImages UNTAGGED", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusUntagged}}); !slices.Equal(got, []string{u.Digest}) {
		t.Errorf("DescribeImages UNTAGGED = %q", got)
	}
	if got, pages := describe("DescribeImages by 2", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(2)}); !slices.Equal(got, allDigests) || pages != 2 {
		t.Errorf("DescribeImages two a page: %d pages of %q, want 2 pages", pages, got)
	}
	if got, _ := describe("DescribeImages by ID", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(u.Digest)}}}); !slices.Equal(got, ecrSorted([]string{a.Digest, u.Digest})) {
		t.Errorf("DescribeImages by tag v1 and by digest = %q", got)
	}
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("nope")}}})
	wantAPIError(t, "DescribeImages of a missing tag", err, "ImageNotFoundException", 400, imageNotFound("", "nope", repo, testAccount))
	wantTyped[*ecrtypes.ImageNotFoundException](t, "DescribeImages of a missing tag", err)
	missing := ecrDigest([]byte("no such image"))
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(missing)}}})
	wantAPIError(t, "DescribeImages of a missing digest", err, "ImageNotFoundException", 400, imageNotFound(missing, "", repo, testAccount))
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("ecrapi/missing")})
	wantAPIError(t, "DescribeImages of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))

	// BatchGetImage.
	get, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(b.Digest)}}})
	ecrMust(t, "BatchGetImage", err)
	if len(get.Images) != 2 || len(get.Failures) != 0 {
		t.Fatalf("BatchGetImage: %d images, failures %+v", len(get.Images), get.Failures)
	}
	for i, want := range []struct {
		img ociImage
		tag string
	}{{a, "v1"}, {b, ""}} {
		got := get.Images[i]
		if aws.ToString(got.RegistryId) != testAccount || aws.ToString(got.RepositoryName) != repo || got.ImageId == nil ||
			aws.ToString(got.ImageId.ImageDigest) != want.img.Digest || aws.ToString(got.ImageId.ImageTag) != want.tag ||
			aws.ToString(got.ImageManifest) != string(want.img.Manifest) || aws.ToString(got.ImageManifestMediaType) != want.img.MediaType {
			t.Errorf("BatchGetImage image %d = %s %s %+v %q, want digest %s tag %q and the pushed manifest of type %s", i,
				aws.ToString(got.RegistryId), aws.ToString(got.RepositoryName), got.ImageId, aws.ToString(got.ImageManifestMediaType), want.img.Digest, want.tag, want.img.MediaType)
		}
	}
	get, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{
		{ImageTag: aws.String("nope")}, {ImageDigest: aws.String(missing)}, {ImageDigest: aws.String("sha256:abc")},
		{ImageDigest: aws.String(a.Digest), ImageTag: aws.String("v2")}, {ImageTag: aws.String("v2")},
	}})
	ecrMust(t, "BatchGetImage with failures", err)
	if len(get.Images) != 1 || aws.ToString(get.Images[0].ImageId.ImageDigest) != b.Digest {
		t.Errorf("BatchGetImage with failures returned %d images, want only v2", len(get.Images))
	}
	wantFailures := []string{
		"|nope|ImageNotFound|Requested image not found",
		missing + "||ImageNotFound|Requested image not found",
		"sha256:abc||InvalidImageDigest|",
		a.Digest + "|v2|ImageTagDoesNotMatchDigest|",
	}
	var gotFailures []string
	for _, f := range get.Failures {
		reason := aws.ToString(f.FailureReason)
		if f.FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
			reason = "" // only ImageNotFound's reason is ECR's well-known text
		}
		gotFailures = append(gotFailures, imageIDString(f.ImageId.ImageDigest, f.ImageId.ImageTag)+"|"+string(f.FailureCode)+"|"+reason)
	}
	if !slices.Equal(gotFailures, wantFailures) {
		t.Errorf("BatchGetImage failures\n  %q\nwant\n  %q", gotFailures, wantFailures)
	}
	get, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v2")}},
		AcceptedMediaTypes: []string{mtOCIManifest, b.MediaType}})
	ecrMust(t, "BatchGetImage with acceptedMediaTypes", err)
	if len(get.Images) != 1 || len(get.Failures) != 0 || aws.ToString(get.Images[0].ImageManifestMediaType) != b.MediaType {
		t.Errorf("BatchGetImage accepting %s: %d images, failures %+v", b.MediaType, len(get.Images), get.Failures)
	}
	get, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v2")}},
		AcceptedMediaTypes: []string{"application/vnd.oci.image.index.v1+json"}})
	ecrMust(t, "BatchGetImage with other acceptedMediaTypes", err)
	if len(get.Images) != 0 || len(get.Failures) != 1 || get.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageNotFound ||
		aws.ToString(get.Failures[0].ImageId.ImageTag) != "v2" {
		t.Errorf("BatchGetImage accepting only OCI indexes: %d images, failures %+v", len(get.Images), get.Failures)
	}
	_, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("ecrapi/missing"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	wantAPIError(t, "BatchGetImage of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))

	// PutImage.
	put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(b.Manifest)), ImageTag: aws.String("v2-copy")})
	ecrMust(t, "PutImage of a new tag", err)
	if im := put.Image; im == nil || aws.ToString(im.RegistryId) != testAccount || aws.ToString(im.RepositoryName) != repo ||
		aws.ToString(im.ImageId.ImageDigest) != b.Digest || aws.ToString(im.ImageId.ImageTag) != "v2-copy" ||
		aws.ToString(im.ImageManifest) != string(b.Manifest) || aws.ToString(im.ImageManifestMediaType) != b.MediaType {
		t.Errorf("PutImage = %+v", put.Image)
	}
	wantTags[b.Digest] = []string{"v2", "v2-copy"}
	describe("DescribeImages after PutImage", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(b.Digest)}}})
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(b.Manifest)), ImageTag: aws.String("v2-copy")})
	wantAPIError(t, "PutImage that changes nothing", err, "ImageAlreadyExistsException", 400,
		fmt.Sprintf("Image with digest '%s' and tag 'v2-copy' already exists in the repository with name '%s' in registry with id '%s'", b.Digest, repo, testAccount))
	wantTyped[*ecrtypes.ImageAlreadyExistsException](t, "PutImage that changes nothing", err)
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(b.Manifest))})
	wantAPIError(t, "PutImage of an existing manifest without a tag", err, "ImageAlreadyExistsException", 400,
		fmt.Sprintf("Image with digest '%s' already exists in the repository with name '%s' in registry with id '%s'", b.Digest, repo, testAccount))
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(b.Manifest)),
		ImageTag: aws.String("v2-other"), ImageDigest: aws.String(a.Digest)})
	wantAPIError(t, "PutImage with another image's digest", err, "ImageDigestDoesNotMatchException", 400, "")
	wantTyped[*ecrtypes.ImageDigestDoesNotMatchException](t, "PutImage with another image's digest", err)
	put, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(b.Manifest)),
		ImageTag: aws.String("v2-pinned"), ImageDigest: aws.String(b.Digest), ImageManifestMediaType: aws.String(b.MediaType)})
	ecrMust(t, "PutImage with the right digest", err)
	if aws.ToString(put.Image.ImageId.ImageDigest) != b.Digest || aws.ToString(put.Image.ImageId.ImageTag) != "v2-pinned" {
		t.Errorf("PutImage with the right digest = %+v", put.Image.ImageId)
	}
	wantTags[b.Digest] = []string{"v2", "v2-copy", "v2-pinned"}
	// Retagging moves a mutable tag.
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(b.Manifest)), ImageTag: aws.String("latest")})
	ecrMust(t, "PutImage moving latest", err)
	wantTags[b.Digest] = []string{"latest", "v2", "v2-copy", "v2-pinned"}
	wantTags[a.Digest] = []string{"v1"}
	describe("DescribeImages after retagging", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	orphan := newOCIImage(t, mtOCIManifest, ecrRandom(t, 100))
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(orphan.Manifest)), ImageTag: aws.String("orphan")})
	wantAPIError(t, "PutImage of a manifest whose blobs are missing", err, "LayersNotFoundException", 400, "")
	wantTyped[*ecrtypes.LayersNotFoundException](t, "PutImage of a manifest whose blobs are missing", err)
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String("{not a manifest"), ImageTag: aws.String("junk")})
	wantAPIError(t, "PutImage of a malformed manifest", err, "InvalidParameterException", 400, "")

	// BatchDeleteImage: by tag (the last tag takes the image), by digest,
	// and failures.
	del, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v2-copy")}}})
	ecrMust(t, "BatchDeleteImage of one of several tags", err)
	if len(del.ImageIds) != 1 || imageIDString(del.ImageIds[0].ImageDigest, del.ImageIds[0].ImageTag) != b.Digest+"|v2-copy" || len(del.Failures) != 0 {
		t.Errorf("BatchDeleteImage v2-copy = %+v, failures %+v", del.ImageIds, del.Failures)
	}
	wantTags[b.Digest] = []string{"latest", "v2", "v2-pinned"}
	describe("DescribeImages after deleting a tag", &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(b.Digest)}}})
	del, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	ecrMust(t, "BatchDeleteImage of the last tag", err)
	if len(del.ImageIds) != 1 || imageIDString(del.ImageIds[0].ImageDigest, del.ImageIds[0].ImageTag) != a.Digest+"|v1" {
		t.Errorf("BatchDeleteImage v1 = %+v", del.ImageIds)
	}
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(a.Digest)}}})
	wantAPIError(t, "DescribeImages of an image whose last tag was deleted", err, "ImageNotFoundException", 400, imageNotFound(a.Digest, "", repo, testAccount))
	del, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{
		{ImageDigest: aws.String(u.Digest)}, {ImageTag: aws.String("nope")}, {ImageDigest: aws.String(missing)}, {},
	}})
	ecrMust(t, "BatchDeleteImage by digest with failures", err)
	if len(del.ImageIds) != 1 || imageIDString(del.ImageIds[0].ImageDigest, del.ImageIds[0].ImageTag) != u.Digest+"|" {
		t.Errorf("BatchDeleteImage by digest deleted %+v", del.ImageIds)
	}
	gotFailures = nil
	for _, f := range del.Failures {
		reason := aws.ToString(f.FailureReason)
		if f.FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
			reason = ""
		}
		gotFailures = append(gotFailures, imageIDString(f.ImageId.ImageDigest, f.ImageId.ImageTag)+"|"+string(f.FailureCode)+"|"+reason)
	}
	wantFailures = []string{"|nope|ImageNotFound|Requested image not found", missing + "||ImageNotFound|Requested image not found", "||MissingDigestAndTag|"}
	if !slices.Equal(gotFailures, wantFailures) {
		t.Errorf("BatchDeleteImage failures\n  %q\nwant\n  %q", gotFailures, wantFailures)
	}
	remaining := []string{b.Digest + "|latest", b.Digest + "|v2", b.Digest + "|v2-pinned"}
	if got, _ := listIDs("ListImages after deletes", &ecr.ListImagesInput{RepositoryName: aws.String(repo)}); !slices.Equal(got, remaining) {
		t.Errorf("ListImages after deletes = %q, want %q", got, remaining)
	}
	_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("ecrapi/missing"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	wantAPIError(t, "BatchDeleteImage of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))

	// lastRecordedPullTime: ecrd writes pull times every 10 s.
	deadline := time.Now().Add(15 * time.Second)
	for {
		d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v2")}}})
		ecrMust(t, "DescribeImages", err)
		if lp := d.ImageDetails[0].LastRecordedPullTime; lp != nil {
			if lp.Before(pulled.Add(-time.Second)) || lp.After(time.Now().Add(time.Second)) {
				t.Errorf("lastRecordedPullTime %v, want after the pull at %v", lp, pulled)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no lastRecordedPullTime 15 s after a pull")
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	noServerErrors(t, e)
}

func TestECRTagImmutability(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	hc := e.HTTPClient(t)

	immutableMessage := func(tag, repo string) string {
		return fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", tag, repo)
	}
	x := newOCIImage(t, mtOCIManifest, ecrRandom(t, 200))
	y := newOCIImage(t, mtDockerManifest, ecrRandom(t, 300))
	setup := func(repo string, mut ecrtypes.ImageTagMutability, filters []string, tags ...string) {
		t.Helper()
		in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo), ImageTagMutability: mut}
		if len(filters) > 0 {
			in.ImageTagMutabilityExclusionFilters = wildcards(filters...)
		}
		_, err := c.CreateRepository(ctx, in)
		ecrMust(t, "CreateRepository "+repo, err)
		for _, b := range y.Blobs {
			ociPushBlob(t, e, hc, repo, b)
		}
		ociPushImage(t, e, hc, repo, x, tags...)
	}
	putImage := func(repo string, img ociImage, tag string) error {
		_, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(img.Manifest)), ImageTag: aws.String(tag)})
		return err
	}
	tagDigest := func(repo, tag string) string {
		t.Helper()
		out, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}}})
		ecrMust(t, "BatchGetImage", err)
		if len(out.Images) != 1 {
			t.Fatalf("BatchGetImage %s:%s: %+v", repo, tag, out.Failures)
		}
		return aws.ToString(out.Images[0].ImageId.ImageDigest)
	}

	const imm = "ecrapi/immutable"
	setup(imm, ecrtypes.ImageTagMutabilityImmutable, nil, "release")
	err := putImage(imm, y, "release")
	wantAPIError(t, "PutImage moving an immutable tag", err, "ImageTagAlreadyExistsException", 400, immutableMessage("release", imm))
	wantTyped[*ecrtypes.ImageTagAlreadyExistsException](t, "PutImage moving an immutable tag", err)
	err = putImage(imm, x, "release")
	wantAPIError(t, "PutImage of the same manifest under its immutable tag", err, "ImageAlreadyExistsException", 400,
		fmt.Sprintf("Image with digest '%s' and tag 'release' already exists in the repository with name '%s' in registry with id '%s'", x.Digest, imm, testAccount))
	if err := putImage(imm, y, "other"); err != nil {
		t.Errorf("PutImage of a new tag in an immutable repository: %v", err)
	}
	// Through /v2: the same manifest again succeeds, another one is TAG_INVALID.
	if a := ociPutManifest(t, e, hc, imm, "release", x.MediaType, x.Manifest); a.Status != http.StatusCreated || a.Header.Get("Docker-Content-Digest") != x.Digest {
		t.Errorf("/v2 PUT of the same manifest under an immutable tag = %d %s, want 201", a.Status, a.Body)
	}
	a := ociPutManifest(t, e, hc, imm, "release", y.MediaType, y.Manifest)
	if code, msg := ociError(a); a.Status != http.StatusBadRequest || code != "TAG_INVALID" || msg != immutableMessage("release", imm) {
		t.Errorf("/v2 PUT of another manifest under an immutable tag = %d %s %q, want 400 TAG_INVALID %q", a.Status, code, msg, immutableMessage("release", imm))
	}
	if got := tagDigest(imm, "release"); got != x.Digest {
		t.Errorf("the immutable tag moved to %s", got)
	}

	const immEx = "ecrapi/immutable-excl"
	setup(immEx, ecrtypes.ImageTagMutabilityImmutableWithExclusion, []string{"latest", "dev-*"}, "latest", "dev-1", "v1")
	for _, tag := range []string{"latest", "dev-1"} {
		if err := putImage(immEx, y, tag); err != nil {
			t.Errorf("PutImage moving the excluded tag %s of an IMMUTABLE_WITH_EXCLUSION repository: %v", tag, err)
		} else if got := tagDigest(immEx, tag); got != y.Digest {
			t.Errorf("%s points to %s after PutImage, want %s", tag, got, y.Digest)
		}
	}
	err = putImage(immEx, y, "v1")
	wantAPIError(t, "PutImage moving v1 of an IMMUTABLE_WITH_EXCLUSION repository", err, "ImageTagAlreadyExistsException", 400, immutableMessage("v1", immEx))

	const mutEx = "ecrapi/mutable-excl"
	setup(mutEx, ecrtypes.ImageTagMutabilityMutableWithExclusion, []string{"release-*"}, "main", "release-1")
	if err := putImage(mutEx, y, "main"); err != nil {
		t.Errorf("PutImage moving main of a MUTABLE_WITH_EXCLUSION repository: %v", err)
	}
	err = putImage(mutEx, y, "release-1")
	wantAPIError(t, "PutImage moving release-1 of a MUTABLE_WITH_EXCLUSION repository", err, "ImageTagAlreadyExistsException", 400, immutableMessage("release-1", mutEx))
	a = ociPutManifest(t, e, hc, mutEx, "release-1", y.MediaType, y.Manifest)
	if code, _ := ociError(a); a.Status != http.StatusBadRequest || code != "TAG_INVALID" {
		t.Errorf("/v2 PUT moving release-1 = %d %s, want 400 TAG_INVALID", a.Status, a.Body)
	}

	// Turning immutability off lets the tag move.
	_, err = c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String(imm), ImageTagMutability: ecrtypes.ImageTagMutabilityMutable})
	ecrMust(t, "PutImageTagMutability", err)
	if err := putImage(imm, y, "release"); err != nil {
		t.Errorf("PutImage moving a tag after PutImageTagMutability MUTABLE: %v", err)
	}
	noServerErrors(t, e)
}

func TestECRImageReferrers(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	hc := e.HTTPClient(t)
	const repo = "ecrapi/referrers"

	subject := newOCIImage(t, mtOCIManifest, ecrRandom(t, 500))
	ociPushImage(t, e, hc, repo, subject, "app")
	const sbomType, sigType = "application/vnd.example.sbom+json", "application/vnd.example.signature"
	sbom := newOCIArtifact(t, sbomType, subject.Descriptor(), map[string]string{"org.example.kind": "sbom"})
	sig := newOCIArtifact(t, sigType, subject.Descriptor(), map[string]string{"org.example.kind": "sig"})
	for _, art := range []ociImage{sbom, sig} {
		for _, b := range art.Blobs {
			ociPushBlob(t, e, hc, repo, b)
		}
		a := ociPutManifest(t, e, hc, repo, art.Digest, art.MediaType, art.Manifest)
		if a.Status != http.StatusCreated || a.Header.Get("OCI-Subject") != subject.Digest {
			t.Fatalf("pushing a referrer: %d, OCI-Subject %q, %s", a.Status, a.Header.Get("OCI-Subject"), a.Body)
		}
	}

	list := func(what string, in *ecr.ListImageReferrersInput) *ecr.ListImageReferrersOutput {
		t.Helper()
		out, err := c.ListImageReferrers(ctx, in)
		ecrMust(t, what, err)
		return out
	}
	subjectID := &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(subject.Digest)}
	out := list("ListImageReferrers", &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: subjectID})
	want := map[string]struct {
		img  ociImage
		typ  string
		kind string
	}{sbom.Digest: {sbom, sbomType, "sbom"}, sig.Digest: {sig, sigType, "sig"}}
	if len(out.Referrers) != 2 || out.NextToken != nil {
		t.Fatalf("ListImageReferrers: %d referrers, nextToken %v; want 2", len(out.Referrers), out.NextToken)
	}
	for _, r := range out.Referrers {
		w, ok := want[aws.ToString(r.Digest)]
		if !ok {
			t.Errorf("unexpected referrer %s", aws.ToString(r.Digest))
			continue
		}
		if aws.ToString(r.MediaType) != mtOCIManifest || aws.ToString(r.ArtifactType) != w.typ || aws.ToInt64(r.Size) != int64(len(w.img.Manifest)) ||
			!ecrSameMap(r.Annotations, map[string]string{"org.example.kind": w.kind}) || r.ArtifactStatus != ecrtypes.ArtifactStatusActive {
			t.Errorf("referrer %s = mediaType %q artifactType %q size %d annotations %v status %q; want %s %s %d kind=%s ACTIVE",
				aws.ToString(r.Digest), aws.ToString(r.MediaType), aws.ToString(r.ArtifactType), aws.ToInt64(r.Size), r.Annotations, r.ArtifactStatus,
				mtOCIManifest, w.typ, len(w.img.Manifest), w.kind)
		}
	}
	out = list("ListImageReferrers by type", &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: subjectID,
		Filter: &ecrtypes.ListImageReferrersFilter{ArtifactTypes: []string{sbomType}}})
	if len(out.Referrers) != 1 || aws.ToString(out.Referrers[0].Digest) != sbom.Digest {
		t.Errorf("ListImageReferrers of type %s = %d referrers", sbomType, len(out.Referrers))
	}
	out = list("ListImageReferrers of another type", &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: subjectID,
		Filter: &ecrtypes.ListImageReferrersFilter{ArtifactTypes: []string{"application/vnd.example.none"}}})
	if len(out.Referrers) != 0 {
		t.Errorf("ListImageReferrers of an absent type = %d referrers, want 0", len(out.Referrers))
	}
	// Paging one at a time.
	first := list("ListImageReferrers page 1", &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: subjectID, MaxResults: aws.Int32(1)})
	if len(first.Referrers) != 1 || first.NextToken == nil {
		t.Fatalf("ListImageReferrers maxResults 1: %d referrers, nextToken %v", len(first.Referrers), first.NextToken)
	}
	second := list("ListImageReferrers page 2", &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: subjectID, MaxResults: aws.Int32(1), NextToken: first.NextToken})
	if len(second.Referrers) != 1 || second.NextToken != nil || aws.ToString(second.Referrers[0].Digest) == aws.ToString(first.Referrers[0].Digest) {
		t.Errorf("ListImageReferrers page 2: %d referrers, nextToken %v", len(second.Referrers), second.NextToken)
	}
	out = list("ListImageReferrers of an artifact", &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(sbom.Digest)}})
	if len(out.Referrers) != 0 {
		t.Errorf("ListImageReferrers of an image without referrers = %d", len(out.Referrers))
	}
	// DescribeImages shows the subject of an artifact.
	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(sbom.Digest)}}})
	ecrMust(t, "DescribeImages of a referrer", err)
	if len(d.ImageDetails) != 1 || aws.ToString(d.ImageDetails[0].SubjectManifestDigest) != subject.Digest || len(d.ImageDetails[0].ImageTags) != 0 ||
		aws.ToInt64(d.ImageDetails[0].ImageSizeInBytes) != sbom.Size {
		t.Errorf("DescribeImages of a referrer = %+v", d.ImageDetails)
	}
	_, err = c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("ecrapi/missing"), SubjectId: subjectID})
	wantAPIError(t, "ListImageReferrers of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))
	noServerErrors(t, e)
}

func TestECRLayerAPI(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	const repo = "ecrapi/layers"
	_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "CreateRepository", err)
	const mib = 1 << 20
	layer := ecrRandom(t, 5*mib+123457)
	layerDigest := ecrDigest(layer)

	initiate := func(t *testing.T) string {
		t.Helper()
		out, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
		ecrMust(t, "InitiateLayerUpload", err)
		if aws.ToInt64(out.PartSize) != 10*mib {
			t.Errorf("InitiateLayerUpload partSize %d, want %d", aws.ToInt64(out.PartSize), 10*mib)
		}
		if !matchesModelPattern(uploadIDRE, aws.ToString(out.UploadId)) {
			t.Errorf("InitiateLayerUpload uploadId %q does not match the model's UploadId pattern %s, which UploadLayerPart and CompleteLayerUpload enforce",
				aws.ToString(out.UploadId), uploadIDRE)
		}
		return aws.ToString(out.UploadId)
	}
	part := func(id string, first int64, data []byte) (*ecr.UploadLayerPartOutput, error) {
		return c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: aws.String(id),
			PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(first + int64(len(data)) - 1), LayerPartBlob: data})
	}
	complete := func(id, dgst string) (*ecr.CompleteLayerUploadOutput, error) {
		return c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(id), LayerDigests: []string{dgst}})
	}

	// Nothing there yet.
	check, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo),
		LayerDigests: []string{layerDigest, "sha256:zz", "not-a-digest"}})
	ecrMust(t, "BatchCheckLayerAvailability", err)
	var gotFailures []string
	for _, f := range check.Failures {
		gotFailures = append(gotFailures, aws.ToString(f.LayerDigest)+"|"+string(f.FailureCode)+"|"+aws.ToString(f.FailureReason))
	}
	wantFailures := []string{layerDigest + "|MissingLayerDigest|Could not find layer", "sha256:zz|InvalidLayerDigest|Invalid layer digest", "not-a-digest|InvalidLayerDigest|Invalid layer digest"}
	if len(check.Layers) != 0 || !slices.Equal(gotFailures, wantFailures) {
		t.Errorf("BatchCheckLayerAvailability before the upload: layers %+v, failures %q; want none and %q", check.Layers, gotFailures, wantFailures)
	}
	_, err = part("0f0e0d0c-0b0a-4998-8776-655443322110", 0, []byte("x"))
	wantAPIError(t, "UploadLayerPart of an unknown upload", err, "UploadNotFoundException", 400, "")
	wantTyped[*ecrtypes.UploadNotFoundException](t, "UploadLayerPart of an unknown upload", err)
	_, err = complete("0f0e0d0c-0b0a-4998-8776-655443322110", layerDigest)
	wantAPIError(t, "CompleteLayerUpload of an unknown upload", err, "UploadNotFoundException", 400, "")

	uploaded := t.Run("TwoParts", func(t *testing.T) {
		// 5 MiB, then the rest.
		id := initiate(t)
		p1, err := part(id, 0, layer[:5*mib])
		ecrMust(t, "UploadLayerPart 1", err)
		if aws.ToInt64(p1.LastByteReceived) != 5*mib-1 || aws.ToString(p1.UploadId) != id || aws.ToString(p1.RegistryId) != testAccount || aws.ToString(p1.RepositoryName) != repo {
			t.Errorf("UploadLayerPart 1 = lastByteReceived %d uploadId %q registry %q repository %q", aws.ToInt64(p1.LastByteReceived), aws.ToString(p1.UploadId), aws.ToString(p1.RegistryId), aws.ToString(p1.RepositoryName))
		}
		p2, err := part(id, 5*mib, layer[5*mib:])
		ecrMust(t, "UploadLayerPart 2", err)
		if aws.ToInt64(p2.LastByteReceived) != int64(len(layer))-1 {
			t.Errorf("UploadLayerPart 2 lastByteReceived %d, want %d", aws.ToInt64(p2.LastByteReceived), len(layer)-1)
		}
		done, err := complete(id, layerDigest)
		ecrMust(t, "CompleteLayerUpload", err)
		if aws.ToString(done.LayerDigest) != layerDigest || aws.ToString(done.UploadId) != id || aws.ToString(done.RegistryId) != testAccount || aws.ToString(done.RepositoryName) != repo {
			t.Errorf("CompleteLayerUpload = %s %s %s %s", aws.ToString(done.LayerDigest), aws.ToString(done.UploadId), aws.ToString(done.RegistryId), aws.ToString(done.RepositoryName))
		}
		check, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo), LayerDigests: []string{layerDigest}})
		ecrMust(t, "BatchCheckLayerAvailability", err)
		if len(check.Layers) != 1 || len(check.Failures) != 0 || aws.ToString(check.Layers[0].LayerDigest) != layerDigest ||
			check.Layers[0].LayerAvailability != ecrtypes.LayerAvailabilityAvailable || aws.ToInt64(check.Layers[0].LayerSize) != int64(len(layer)) {
			t.Errorf("BatchCheckLayerAvailability after the upload: %+v, failures %+v", check.Layers, check.Failures)
		}
		_, err = complete(id, layerDigest)
		wantAPIError(t, "CompleteLayerUpload of a finished upload", err, "UploadNotFoundException", 400, "")
	})

	t.Run("LayerAlreadyExists", func(t *testing.T) {
		if !uploaded {
			t.Skip("needs the layer TwoParts uploads")
		}
		id := initiate(t)
		_, err := part(id, 0, layer) // one part: the last may be of any size
		ecrMust(t, "UploadLayerPart of the whole layer", err)
		_, err = complete(id, layerDigest)
		wantAPIError(t, "CompleteLayerUpload of a layer the repository has", err, "LayerAlreadyExistsException", 400,
			fmt.Sprintf("The image layer %s already exists in the repository with name '%s' in the registry with id '%s'", layerDigest, repo, testAccount))
		wantTyped[*ecrtypes.LayerAlreadyExistsException](t, "CompleteLayerUpload of an existing layer", err)
	})

	t.Run("PartTooSmall", func(t *testing.T) {
		// Parts under 5 MiB may only be last.
		id := initiate(t)
		_, err := part(id, 0, layer[:mib])
		ecrMust(t, "UploadLayerPart of 1 MiB", err)
		_, err = part(id, mib, layer[mib:2*mib])
		wantAPIError(t, "UploadLayerPart after a 1 MiB part", err, "LayerPartTooSmallException", 400, "")
		wantTyped[*ecrtypes.LayerPartTooSmallException](t, "UploadLayerPart after a small part", err)
	})

	t.Run("WrongFirstByte", func(t *testing.T) {
		id := initiate(t)
		_, err := part(id, 10, layer[:100])
		wantAPIError(t, "UploadLayerPart starting at byte 10 of an empty upload", err, "InvalidLayerPartException", 400, "")
		wantTyped[*ecrtypes.InvalidLayerPartException](t, "UploadLayerPart at the wrong first byte", err)
		_, err = c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: aws.String(id),
			PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(999), LayerPartBlob: layer[:100]})
		wantAPIError(t, "UploadLayerPart whose byte range is not its length", err, "InvalidLayerPartException", 400, "")
	})

	t.Run("WrongDigest", func(t *testing.T) {
		id := initiate(t)
		_, err := part(id, 0, ecrRandom(t, 1000))
		ecrMust(t, "UploadLayerPart", err)
		_, err = complete(id, ecrDigest([]byte("something else")))
		wantAPIError(t, "CompleteLayerUpload with the wrong digest", err, "InvalidLayerException", 400, "")
		wantTyped[*ecrtypes.InvalidLayerException](t, "CompleteLayerUpload with the wrong digest", err)
	})

	t.Run("EmptyUpload", func(t *testing.T) {
		id := initiate(t)
		_, err := complete(id, ecrDigest([]byte("x")))
		wantAPIError(t, "CompleteLayerUpload of an empty upload", err, "EmptyUploadException", 400, "")
		wantTyped[*ecrtypes.EmptyUploadException](t, "CompleteLayerUpload of an empty upload", err)
	})

	t.Run("PutImageAndPull", func(t *testing.T) {
		if !uploaded {
			t.Skip("needs the layer TwoParts uploads")
		}
		// A config through the layer API, PutImage of a manifest of both,
		// then a pull through /v2 and a download URL.
		img := newOCIImage(t, mtOCIManifest, layer)
		config := img.Blobs[0]
		id := initiate(t)
		_, err := part(id, 0, config)
		ecrMust(t, "UploadLayerPart of the config", err)
		_, err = complete(id, ecrDigest(config))
		ecrMust(t, "CompleteLayerUpload of the config", err)
		put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(img.Manifest)),
			ImageManifestMediaType: aws.String(mtOCIManifest), ImageTag: aws.String("api")})
		ecrMust(t, "PutImage of the uploaded layers", err)
		if aws.ToString(put.Image.ImageId.ImageDigest) != img.Digest {
			t.Errorf("PutImage digest %s, want %s", aws.ToString(put.Image.ImageId.ImageDigest), img.Digest)
		}
		hc := e.HTTPClient(t)
		m := ociGet(t, hc, e.URL()+"/v2/"+repo+"/manifests/api", mtOCIManifest)
		if m.Status != http.StatusOK || string(m.Body) != string(img.Manifest) || m.Header.Get("Docker-Content-Digest") != img.Digest {
			t.Errorf("/v2 GET of the manifest = %d, digest %q", m.Status, m.Header.Get("Docker-Content-Digest"))
		}
		for _, want := range [][]byte{layer, config} {
			bl := ociGet(t, hc, e.URL()+"/v2/"+repo+"/blobs/"+ecrDigest(want), "")
			if bl.Status != http.StatusOK || ecrDigest(bl.Body) != ecrDigest(want) {
				t.Errorf("/v2 GET of blob %s = %d, %d bytes of digest %s", ecrDigest(want), bl.Status, len(bl.Body), ecrDigest(bl.Body))
			}
		}
		dl, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String(repo), LayerDigest: aws.String(layerDigest)})
		ecrMust(t, "GetDownloadUrlForLayer", err)
		if got := ociGet(t, http.DefaultClient, aws.ToString(dl.DownloadUrl), ""); got.Status != http.StatusOK || ecrDigest(got.Body) != layerDigest {
			t.Errorf("GET of the download URL of an uploaded layer = %d, %d bytes", got.Status, len(got.Body))
		}
	})
	noServerErrors(t, e)
}

func TestECRDownloadURL(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	hc := e.HTTPClient(t)
	const repo = "ecrapi/download"
	layer := ecrRandom(t, 3<<20+17)
	layerDigest := ecrDigest(layer)
	img := newOCIImage(t, mtDockerManifest, layer)
	ociPushImage(t, e, hc, repo, img, "v1")
	config := img.Blobs[0]

	check, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo), LayerDigests: []string{layerDigest, ecrDigest(config)}})
	ecrMust(t, "BatchCheckLayerAvailability", err)
	if len(check.Layers) != 2 || len(check.Failures) != 0 || aws.ToInt64(check.Layers[0].LayerSize) != int64(len(layer)) || aws.ToInt64(check.Layers[1].LayerSize) != int64(len(config)) ||
		check.Layers[0].LayerAvailability != ecrtypes.LayerAvailabilityAvailable || aws.ToString(check.Layers[1].LayerDigest) != ecrDigest(config) {
		t.Errorf("BatchCheckLayerAvailability of pushed blobs: %+v, failures %+v", check.Layers, check.Failures)
	}

	dl, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String(repo), LayerDigest: aws.String(layerDigest)})
	ecrMust(t, "GetDownloadUrlForLayer", err)
	url := aws.ToString(dl.DownloadUrl)
	if aws.ToString(dl.LayerDigest) != layerDigest || !strings.HasPrefix(url, e.URL()+"/v2/"+repo+"/blobs/"+layerDigest+"?") {
		t.Fatalf("GetDownloadUrlForLayer = %q for %q", url, aws.ToString(dl.LayerDigest))
	}
	got := ociGet(t, http.DefaultClient, url, "")
	if got.Status != http.StatusOK || len(got.Body) != len(layer) || ecrDigest(got.Body) != layerDigest {
		t.Errorf("GET of the download URL without credentials = %d, %d bytes, want 200 and the layer", got.Status, len(got.Body))
	}
	flipLast := func(s string) string {
		if strings.HasSuffix(s, "A") {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	}
	tampered := map[string]string{
		"signature":       flipLast(url),
		"path":            strings.Replace(url, layerDigest, ecrDigest(config), 1),
		"credential":      strings.Replace(url, "X-Ecrd-Credential=", "X-Ecrd-Credential=e", 1),
		"repository name": strings.Replace(url, "/v2/"+repo+"/", "/v2/ecrapi/other/", 1),
	}
	for what, bad := range tampered {
		if bad == url {
			t.Fatalf("tampering with the %s left the URL unchanged: %s", what, url)
		}
		if a := ociGet(t, http.DefaultClient, bad, ""); a.Status != http.StatusUnauthorized {
			t.Errorf("GET of a download URL with a tampered %s = %d, want 401", what, a.Status)
		}
	}
	missing := ecrDigest([]byte("no such layer"))
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String(repo), LayerDigest: aws.String(missing)})
	wantAPIError(t, "GetDownloadUrlForLayer of a missing layer", err, "LayersNotFoundException", 400,
		fmt.Sprintf("The specified layer %s could not be found in the repository with name '%s' in the registry with id '%s'", missing, repo, testAccount))
	wantTyped[*ecrtypes.LayersNotFoundException](t, "GetDownloadUrlForLayer of a missing layer", err)
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("ecrapi/missing"), LayerDigest: aws.String(layerDigest)})
	wantAPIError(t, "GetDownloadUrlForLayer of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))
	_, err = c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("ecrapi/missing"), LayerDigests: []string{layerDigest}})
	wantAPIError(t, "BatchCheckLayerAvailability of a missing repository", err, "RepositoryNotFoundException", 400, repoNotFound("ecrapi/missing", testAccount))
	noServerErrors(t, e)
}

func TestECRRegistrySettings(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()

	reg, err := c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	ecrMust(t, "DescribeRegistry", err)
	if aws.ToString(reg.RegistryId) != testAccount || reg.ReplicationConfiguration == nil || len(reg.ReplicationConfiguration.Rules) != 0 {
		t.Errorf("DescribeRegistry = %q %+v", aws.ToString(reg.RegistryId), reg.ReplicationConfiguration)
	}
	getSetting := func(n string) string {
		t.Helper()
		out, err := c.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String(n)})
		ecrMust(t, "GetAccountSetting "+n, err)
		if aws.ToString(out.Name) != n {
			t.Errorf("GetAccountSetting %s answered for %q", n, aws.ToString(out.Name))
		}
		return aws.ToString(out.Value)
	}
	for n, want := range map[string]string{"BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE", "REGISTRY_POLICY_SCOPE": "V2", "BLOB_MOUNTING": "ENABLED", "ECRD_LIFECYCLE_EXPIRE_SINCE_PULLED": "DISABLED"} {
		if got := getSetting(n); got != want {
			t.Errorf("GetAccountSetting %s = %q, want the default %q", n, got, want)
		}
	}
	_, err = c.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("NO_SUCH_SETTING")})
	wantAPIError(t, "GetAccountSetting of an unknown name", err, "ValidationException", 400,
		`Unknown account setting "NO_SUCH_SETTING": use one of BASIC_SCAN_TYPE_VERSION, BLOB_MOUNTING, ECRD_LIFECYCLE_EXPIRE_SINCE_PULLED, REGISTRY_POLICY_SCOPE`)
	wantTyped[*ecrtypes.ValidationException](t, "GetAccountSetting of an unknown name", err)
	_, err = c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BLOB_MOUNTING"), Value: aws.String("SOMETIMES")})
	wantAPIError(t, "PutAccountSetting of a bad value", err, "ValidationException", 400,
		"Invalid value 'SOMETIMES' for account setting BLOB_MOUNTING: use one of ENABLED, DISABLED")

	// Blob mounting: 201 when enabled, 202 (an upload session) when not.
	hc := e.HTTPClient(t)
	blob := ecrRandom(t, 4096)
	d := ecrDigest(blob)
	ociPushBlob(t, e, hc, "ecrapi/mount-src", blob)
	mount := func(to string) httpAnswer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2/"+to+"/blobs/uploads/?mount="+d+"&from=ecrapi/mount-src", nil)
		return ecrDo(t, hc, req)
	}
	if a := mount("ecrapi/mount-a"); a.Status != http.StatusCreated || a.Header.Get("Docker-Content-Digest") != d {
		t.Errorf("mount with BLOB_MOUNTING ENABLED = %d %s, want 201", a.Status, a.Body)
	}
	if a := ociGet(t, hc, e.URL()+"/v2/ecrapi/mount-a/blobs/"+d, ""); a.Status != http.StatusOK || ecrDigest(a.Body) != d {
		t.Errorf("GET of a mounted blob = %d", a.Status)
	}
	put, err := c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BLOB_MOUNTING"), Value: aws.String("DISABLED")})
	ecrMust(t, "PutAccountSetting", err)
	if aws.ToString(put.Name) != "BLOB_MOUNTING" || aws.ToString(put.Value) != "DISABLED" {
		t.Errorf("PutAccountSetting = %q %q", aws.ToString(put.Name), aws.ToString(put.Value))
	}
	if got := getSetting("BLOB_MOUNTING"); got != "DISABLED" {
		t.Errorf("BLOB_MOUNTING = %q after setting DISABLED", got)
	}
	if a := mount("ecrapi/mount-b"); a.Status != http.StatusAccepted || a.Header.Get("Location") == "" {
		t.Errorf("mount with BLOB_MOUNTING DISABLED = %d %s, want 202 and an upload", a.Status, a.Body)
	}
	if a := ociGet(t, hc, e.URL()+"/v2/ecrapi/mount-b/blobs/"+d, ""); a.Status != http.StatusNotFound {
		t.Errorf("GET of a blob not mounted = %d, want 404", a.Status)
	}
	_, err = c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BLOB_MOUNTING"), Value: aws.String("ENABLED")})
	ecrMust(t, "PutAccountSetting", err)
	if a := mount("ecrapi/mount-c"); a.Status != http.StatusCreated {
		t.Errorf("mount with BLOB_MOUNTING ENABLED again = %d %s, want 201", a.Status, a.Body)
	}
	noServerErrors(t, e)
}

// checkTemplate compares a template of an answer with what it must be.
func checkTemplate(t *testing.T, what string, got *ecrtypes.RepositoryCreationTemplate, want ecrtypes.RepositoryCreationTemplate) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no template", what)
		return
	}
	if aws.ToString(got.Prefix) != aws.ToString(want.Prefix) || aws.ToString(got.Description) != aws.ToString(want.Description) ||
		got.ImageTagMutability != want.ImageTagMutability ||
		!slices.Equal(filterValues(got.ImageTagMutabilityExclusionFilters), filterValues(want.ImageTagMutabilityExclusionFilters)) ||
		!ecrSameMap(ecrTagMap(got.ResourceTags), ecrTagMap(want.ResourceTags)) || !slices.Equal(got.AppliedFor, want.AppliedFor) {
		t.Errorf("%s: prefix %q description %q mutability %q filters %q tags %v appliedFor %q;\nwant %q %q %q %q %v %q", what,
			aws.ToString(got.Prefix), aws.ToString(got.Description), got.ImageTagMutability, filterValues(got.ImageTagMutabilityExclusionFilters), ecrTagMap(got.ResourceTags), got.AppliedFor,
			aws.ToString(want.Prefix), aws.ToString(want.Description), want.ImageTagMutability, filterValues(want.ImageTagMutabilityExclusionFilters), ecrTagMap(want.ResourceTags), want.AppliedFor)
	}
	if want.EncryptionConfiguration != nil {
		if got.EncryptionConfiguration == nil || got.EncryptionConfiguration.EncryptionType != want.EncryptionConfiguration.EncryptionType ||
			aws.ToString(got.EncryptionConfiguration.KmsKey) != aws.ToString(want.EncryptionConfiguration.KmsKey) {
			t.Errorf("%s: encryption %+v, want %+v", what, got.EncryptionConfiguration, want.EncryptionConfiguration)
		}
	}
	if got.CreatedAt == nil || got.UpdatedAt == nil || got.UpdatedAt.Before(*got.CreatedAt) || !ecrNear(*got.UpdatedAt, time.Now(), time.Minute) {
		t.Errorf("%s: createdAt %v updatedAt %v", what, got.CreatedAt, got.UpdatedAt)
	}
}

func TestECRCreationTemplates(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir()) // has the ROOT template
	c := ecrClient(e)
	testKMSKey := newKMSKey(t, e) // KMS repositories need a key that exists
	ctx := context.Background()

	want := ecrtypes.RepositoryCreationTemplate{
		Prefix:                             aws.String("team-a"),
		Description:                        aws.String("repositories of team A"),
		ImageTagMutability:                 ecrtypes.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: wildcards("latest"),
		EncryptionConfiguration:            &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(testKMSKey)},
		ResourceTags:                       ecrTags("owner", "team-a", "cost", "42"),
		AppliedFor:                         []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush, ecrtypes.RCTAppliedForReplication},
	}
	created, err := c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: want.Prefix, Description: want.Description, ImageTagMutability: want.ImageTagMutability,
		ImageTagMutabilityExclusionFilters: want.ImageTagMutabilityExclusionFilters, EncryptionConfiguration: want.EncryptionConfiguration,
		ResourceTags: want.ResourceTags, AppliedFor: want.AppliedFor,
	})
	ecrMust(t, "CreateRepositoryCreationTemplate", err)
	if aws.ToString(created.RegistryId) != testAccount {
		t.Errorf("CreateRepositoryCreationTemplate registryId %q", aws.ToString(created.RegistryId))
	}
	checkTemplate(t, "CreateRepositoryCreationTemplate", created.RepositoryCreationTemplate, want)
	_, err = c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("team-a"),
		AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush}})
	wantAPIError(t, "CreateRepositoryCreationTemplate of an existing prefix", err, "TemplateAlreadyExistsException", 400,
		"The repository creation template with prefix 'team-a' already exists in the registry with id '123456789012'")
	wantTyped[*ecrtypes.TemplateAlreadyExistsException](t, "CreateRepositoryCreationTemplate of an existing prefix", err)
	_, err = c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("Team_A"),
		AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush}})
	wantAPIError(t, "CreateRepositoryCreationTemplate of a bad prefix", err, "InvalidParameterException", 400,
		invalidParam("prefix", `must satisfy regular expression '^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$'`))

	all, err := c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	ecrMust(t, "DescribeRepositoryCreationTemplates", err)
	var prefixes []string
	for _, tp := range all.RepositoryCreationTemplates {
		prefixes = append(prefixes, aws.ToString(tp.Prefix))
	}
	if aws.ToString(all.RegistryId) != testAccount || !slices.Equal(ecrSorted(prefixes), []string{"ROOT", "team-a"}) {
		t.Errorf("DescribeRepositoryCreationTemplates = %q %q, want ROOT and team-a", aws.ToString(all.RegistryId), prefixes)
	}
	one, err := c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"team-a"}})
	ecrMust(t, "DescribeRepositoryCreationTemplates team-a", err)
	if len(one.RepositoryCreationTemplates) != 1 {
		t.Fatalf("DescribeRepositoryCreationTemplates team-a: %d templates", len(one.RepositoryCreationTemplates))
	}
	checkTemplate(t, "DescribeRepositoryCreationTemplates team-a", &one.RepositoryCreationTemplates[0], want)
	// A prefix with no template is no error (the operation has none): it
	// is left out of the list, as ECR does; clients read that as gone.
	some, err := c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"team-z", "team-a"}})
	ecrMust(t, "DescribeRepositoryCreationTemplates team-z team-a", err)
	if len(some.RepositoryCreationTemplates) != 1 || aws.ToString(some.RepositoryCreationTemplates[0].Prefix) != "team-a" {
		t.Errorf("DescribeRepositoryCreationTemplates team-z team-a = %+v, want team-a alone", some.RepositoryCreationTemplates)
	}
	// Pages of one, through the SDK's paginator.
	var paged []string
	pages := ecr.NewDescribeRepositoryCreationTemplatesPaginator(c, &ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(1)})
	for pages.HasMorePages() && len(paged) < 5 {
		page, err := pages.NextPage(ctx)
		ecrMust(t, "DescribeRepositoryCreationTemplates page", err)
		if len(page.RepositoryCreationTemplates) != 1 {
			t.Errorf("a page of DescribeRepositoryCreationTemplates with maxResults 1 has %d templates", len(page.RepositoryCreationTemplates))
		}
		for _, tp := range page.RepositoryCreationTemplates {
			paged = append(paged, aws.ToString(tp.Prefix))
		}
	}
	if !slices.Equal(paged, []string{"ROOT", "team-a"}) {
		t.Errorf("DescribeRepositoryCreationTemplates in pages of one = %q, want ROOT, team-a", paged)
	}
	_, err = c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{NextToken: aws.String("bogus")})
	wantAPIError(t, "DescribeRepositoryCreationTemplates with a made-up token", err, "InvalidParameterException", 400, "")
	none, err := c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"team-z"}})
	ecrMust(t, "DescribeRepositoryCreationTemplates of a prefix with no template", err)
	if len(none.RepositoryCreationTemplates) != 0 || aws.ToString(none.RegistryId) != testAccount {
		t.Errorf("DescribeRepositoryCreationTemplates team-z = %q %+v, want an empty list", aws.ToString(none.RegistryId), none.RepositoryCreationTemplates)
	}

	// Update some fields; the others stay.
	time.Sleep(10 * time.Millisecond)
	upd, err := c.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("team-a"),
		Description: aws.String("updated"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutable})
	ecrMust(t, "UpdateRepositoryCreationTemplate", err)
	want.Description, want.ImageTagMutability, want.ImageTagMutabilityExclusionFilters = aws.String("updated"), ecrtypes.ImageTagMutabilityMutable, nil
	checkTemplate(t, "UpdateRepositoryCreationTemplate", upd.RepositoryCreationTemplate, want)
	if tp := upd.RepositoryCreationTemplate; tp != nil && tp.CreatedAt != nil && created.RepositoryCreationTemplate.CreatedAt != nil {
		if !tp.CreatedAt.Equal(*created.RepositoryCreationTemplate.CreatedAt) || !tp.UpdatedAt.After(*tp.CreatedAt) {
			t.Errorf("UpdateRepositoryCreationTemplate: createdAt %v (was %v), updatedAt %v", tp.CreatedAt, created.RepositoryCreationTemplate.CreatedAt, tp.UpdatedAt)
		}
	}
	_, err = c.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("team-z"), Description: aws.String("x")})
	wantAPIError(t, "UpdateRepositoryCreationTemplate of a missing prefix", err, "TemplateNotFoundException", 400,
		"The specified repository creation template with prefix 'team-z' was not found in the registry with id '123456789012'")
	wantTyped[*ecrtypes.TemplateNotFoundException](t, "UpdateRepositoryCreationTemplate of a missing prefix", err)

	// A push under the prefix takes the (updated) template, not ROOT.
	hc := e.HTTPClient(t)
	ociPushImage(t, e, hc, "team-a/svc", newOCIImage(t, mtOCIManifest, ecrRandom(t, 100)), "v1")
	desc, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-a/svc"}})
	ecrMust(t, "DescribeRepositories of a repository created on push", err)
	checkRepository(t, e, "repository created on push by team-a", &desc.Repositories[0], wantRepo{name: "team-a/svc",
		mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeKms, kmsKey: testKMSKey}, time.Now().Add(-time.Minute))
	tags, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repoARN(testAccount, "team-a/svc"))})
	ecrMust(t, "ListTagsForResource", err)
	if got := ecrTagMap(tags.Tags); !ecrSameMap(got, map[string]string{"owner": "team-a", "cost": "42"}) {
		t.Errorf("tags of a repository created on push = %v, want the template's", got)
	}

	del, err := c.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("team-a")})
	ecrMust(t, "DeleteRepositoryCreationTemplate", err)
	if aws.ToString(del.RegistryId) != testAccount {
		t.Errorf("DeleteRepositoryCreationTemplate registryId %q", aws.ToString(del.RegistryId))
	}
	checkTemplate(t, "DeleteRepositoryCreationTemplate", del.RepositoryCreationTemplate, want)
	_, err = c.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("team-a")})
	wantAPIError(t, "DeleteRepositoryCreationTemplate of a deleted prefix", err, "TemplateNotFoundException", 400,
		"The specified repository creation template with prefix 'team-a' was not found in the registry with id '123456789012'")
	all, err = c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	ecrMust(t, "DescribeRepositoryCreationTemplates", err)
	if len(all.RepositoryCreationTemplates) != 1 || aws.ToString(all.RepositoryCreationTemplates[0].Prefix) != "ROOT" {
		t.Errorf("templates after the delete: %+v", all.RepositoryCreationTemplates)
	}
	noServerErrors(t, e)
}

func TestECRCreateOnPush(t *testing.T) {
	t.Parallel()
	e := startBareECRD(t, t.TempDir()) // no template
	c := ecrClient(e)
	testKMSKey := newKMSKey(t, e) // KMS repositories need a key that exists
	ctx := context.Background()
	hc := e.HTTPClient(t)

	img := newOCIImage(t, mtDockerManifest, ecrRandom(t, 256))
	// refusedPush checks that both the first step of a push (a blob upload)
	// and a manifest PUT get 404 NAME_UNKNOWN.
	refusedPush := func(what, repo string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2/"+repo+"/blobs/uploads/", nil)
		a := ecrDo(t, hc, req)
		if code, msg := ociError(a); a.Status != http.StatusNotFound || code != "NAME_UNKNOWN" || !strings.Contains(msg, "CREATE_ON_PUSH") {
			t.Errorf("%s: upload POST = %d %s %q, want 404 NAME_UNKNOWN naming CREATE_ON_PUSH", what, a.Status, code, msg)
		}
		a = ociPutManifest(t, e, hc, repo, "v1", img.MediaType, img.Manifest)
		if code, _ := ociError(a); a.Status != http.StatusNotFound || code != "NAME_UNKNOWN" {
			t.Errorf("%s: manifest PUT = %d %s, want 404 NAME_UNKNOWN", what, a.Status, a.Body)
		}
	}
	refusedPush("push to a missing repository without a template", "auto/app")
	// The ECR API's push calls get RepositoryNotFoundException.
	notFoundPrefix := repoNotFound("auto/app", testAccount)
	_, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("auto/app")})
	wantAPIError(t, "InitiateLayerUpload to a missing repository", err, "RepositoryNotFoundException", 400, "")
	wantMessagePrefix(t, "InitiateLayerUpload to a missing repository", err, notFoundPrefix)
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("auto/app"), ImageManifest: aws.String(string(img.Manifest)), ImageTag: aws.String("v1")})
	wantAPIError(t, "PutImage to a missing repository", err, "RepositoryNotFoundException", 400, "")
	wantMessagePrefix(t, "PutImage to a missing repository", err, notFoundPrefix)
	repos, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories", err)
	if len(repos.Repositories) != 0 {
		t.Errorf("a refused push left repositories: %d", len(repos.Repositories))
	}

	_, err = c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("auto"),
		ImageTagMutability:      ecrtypes.ImageTagMutabilityImmutable,
		EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(testKMSKey)},
		ResourceTags:            ecrTags("createdBy", "template"),
		AppliedFor:              []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush}})
	ecrMust(t, "CreateRepositoryCreationTemplate auto", err)
	_, err = c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("repl"),
		AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForReplication}})
	ecrMust(t, "CreateRepositoryCreationTemplate repl", err)

	before := time.Now()
	ociPushImage(t, e, hc, "auto/app", img, "v1")
	desc, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"auto/app"}})
	ecrMust(t, "DescribeRepositories auto/app", err)
	checkRepository(t, e, "repository created on push", &desc.Repositories[0], wantRepo{name: "auto/app",
		mutability: ecrtypes.ImageTagMutabilityImmutable, encryption: ecrtypes.EncryptionTypeKms, kmsKey: testKMSKey}, before)
	tags, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repoARN(testAccount, "auto/app"))})
	ecrMust(t, "ListTagsForResource", err)
	if got := ecrTagMap(tags.Tags); !ecrSameMap(got, map[string]string{"createdBy": "template"}) {
		t.Errorf("tags of a repository created on push = %v", got)
	}
	ids, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("auto/app")})
	ecrMust(t, "ListImages", err)
	if len(ids.ImageIds) != 1 || aws.ToString(ids.ImageIds[0].ImageTag) != "v1" || aws.ToString(ids.ImageIds[0].ImageDigest) != img.Digest {
		t.Errorf("ListImages of the pushed repository = %+v", ids.ImageIds)
	}
	// A template for replication only, or no template, creates nothing.
	refusedPush("push under a REPLICATION-only prefix", "repl/app")
	refusedPush("push under no prefix", "other/app")
	noServerErrors(t, e)
}

func TestECRAuthorizationToken(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()

	before := time.Now()
	out, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "GetAuthorizationToken", err)
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("GetAuthorizationToken: %d authorizationData, want 1", len(out.AuthorizationData))
	}
	ad := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(ad.AuthorizationToken))
	if err != nil {
		t.Fatalf("the token is not base64: %v", err)
	}
	user, password, _ := strings.Cut(string(raw), ":")
	if user != "AWS" || password == "" || strings.Contains(password, ":") {
		t.Errorf("the token decodes to %q, want AWS:<password without a colon>", raw)
	}
	if ad.ExpiresAt == nil || ad.ExpiresAt.Before(before.Add(12*time.Hour-2*time.Second)) || ad.ExpiresAt.After(time.Now().Add(12*time.Hour+time.Second)) {
		t.Errorf("expiresAt %v, want 12 hours from now (%v)", ad.ExpiresAt, before.Add(12*time.Hour))
	}
	if aws.ToString(ad.ProxyEndpoint) != e.URL() {
		t.Errorf("proxyEndpoint %q, want %q", aws.ToString(ad.ProxyEndpoint), e.URL())
	}
	if id := sdkRequestID(out.ResultMetadata); !requestIDRE.MatchString(id) {
		t.Errorf("GetAuthorizationToken: x-amzn-RequestId %q", id)
	}
	// registryIds is deprecated, but the AWS CLI's get-login and the
	// credential helper still send it.
	//lint:ignore SA1019 clients still send registryIds
	withIDs, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{RegistryIds: []string{testAccount}})
	ecrMust(t, "GetAuthorizationToken with registryIds", err)
	if len(withIDs.AuthorizationData) != 1 || aws.ToString(withIDs.AuthorizationData[0].ProxyEndpoint) != e.URL() {
		t.Errorf("GetAuthorizationToken with registryIds = %+v", withIDs.AuthorizationData)
	}

	v2 := func(header string) httpAnswer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v2/", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		return ecrDo(t, http.DefaultClient, req)
	}
	basic := func(user, pw string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)) }
	if a := v2(basic("AWS", password)); a.Status != http.StatusOK {
		t.Errorf("GET /v2/ with the password = %d %s", a.Status, a.Body)
	}
	if a := v2("Basic " + aws.ToString(ad.AuthorizationToken)); a.Status != http.StatusOK {
		t.Errorf("GET /v2/ with the token as Basic credentials = %d", a.Status)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for what, h := range map[string]string{
		"a tampered password":   basic("AWS", flip(password, len(password)/2)),
		"a truncated password":  basic("AWS", password[:len(password)-1]),
		"another user name":     basic("admin", password),
		"no credentials at all": "",
	} {
		a := v2(h)
		if code, _ := ociError(a); a.Status != http.StatusUnauthorized || code != "UNAUTHORIZED" || !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("GET /v2/ with %s = %d %q, challenge %q; want 401 UNAUTHORIZED", what, a.Status, code, a.Header.Get("WWW-Authenticate"))
		}
	}

	// STS GetCallerIdentity names the root of the account.
	sc := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""), Retryer: closedConnRetryer()})
	who, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ecrMust(t, "GetCallerIdentity", err)
	if aws.ToString(who.Account) != testAccount || aws.ToString(who.Arn) != "arn:aws:iam::123456789012:root" || aws.ToString(who.UserId) != testAccount {
		t.Errorf("GetCallerIdentity = %q %q %q", aws.ToString(who.Account), aws.ToString(who.Arn), aws.ToString(who.UserId))
	}
	if id := sdkRequestID(who.ResultMetadata); !requestIDRE.MatchString(id) {
		t.Errorf("GetCallerIdentity request ID %q", id)
	}
	bad := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, "wrong-secret", ""), Retryer: closedConnRetryer()})
	_, err = bad.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, "GetCallerIdentity with a wrong secret", err, "SignatureDoesNotMatch", 403, "")
	unknown := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAE2EUNKNOWNKEY000", testSecret, ""), Retryer: closedConnRetryer()})
	_, err = unknown.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, "GetCallerIdentity with an unknown key", err, "InvalidClientTokenId", 403, "")
	noServerErrors(t, e)
}

func TestECRValidation(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/valid")})
	ecrMust(t, "CreateRepository", err)
	repo := aws.String("ecrapi/valid")
	ids := func(n int) []ecrtypes.ImageIdentifier {
		out := make([]ecrtypes.ImageIdentifier, n)
		for i := range out {
			out[i].ImageTag = aws.String(fmt.Sprintf("t%d", i))
		}
		return out
	}
	cases := []struct {
		kind    string
		call    func() error
		message string
	}{
		{"length (min)", func() error {
			_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("a")})
			return err
		}, invalidParam("repositoryName", "must have length greater than or equal to 2")},
		{"length (max)", func() error {
			_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{strings.Repeat("a", 257)}})
			return err
		}, invalidParam("repositoryNames.1.member", "must have length less than or equal to 256")},
		{"pattern", func() error {
			_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Bad/Name")})
			return err
		}, invalidParam("repositoryName", "must satisfy regular expression '"+repoNameRE+"'")},
		{"pattern of registryId", func() error {
			_, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, RegistryId: aws.String("1234")})
			return err
		}, invalidParam("registryId", "must satisfy regular expression '[0-9]{12}'")},
		{"pattern of uploadId", func() error {
			_, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: repo, UploadId: aws.String("not-an-upload"),
				PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(0), LayerPartBlob: []byte("x")})
			return err
		}, invalidParam("uploadId", "must satisfy regular expression '"+uploadIDRE+"'")},
		{"pattern of layerDigest", func() error {
			_, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: repo, LayerDigest: aws.String("nodigest")})
			return err
		}, invalidParam("layerDigest", "must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")},
		{"pattern of an exclusion filter", func() error {
			_, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: repo,
				ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: wildcards("ok", "not ok!")})
			return err
		}, invalidParam("imageTagMutabilityExclusionFilters.2.member.filter", "must satisfy regular expression '^[0-9a-zA-Z._*-]{1,128}$'")},
		{"enum", func() error {
			_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/enum"), ImageTagMutability: "SOMETIMES"})
			return err
		}, invalidParam("imageTagMutability", "must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]")},
		{"enum (nested)", func() error {
			_, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, Filter: &ecrtypes.ListImagesFilter{TagStatus: "SOME"}})
			return err
		}, invalidParam("filter.tagStatus", "must satisfy enum value set: [TAGGED, UNTAGGED, ANY]")},
		{"enum of encryptionType", func() error {
			_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ecrapi/enc"),
				EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: "ROT13"}})
			return err
		}, invalidParam("encryptionConfiguration.encryptionType", "must satisfy enum value set: [AES256, KMS, KMS_DSSE]")},
		{"list size (max)", func() error {
			_, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: repo, ImageIds: ids(101)})
			return err
		}, invalidParam("imageIds", "must have length less than or equal to 100")},
		{"list size (min)", func() error {
			_, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []ecrtypes.ImageIdentifier{}})
			return err
		}, invalidParam("imageIds", "must have length greater than or equal to 1")},
		{"list size of exclusion filters", func() error {
			_, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: repo,
				ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: wildcards("a", "b", "c", "d", "e", "f")})
			return err
		}, invalidParam("imageTagMutabilityExclusionFilters", "must have length less than or equal to 5")},
		{"list member length", func() error {
			_, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: repo, ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("ok")}, {ImageTag: aws.String("")}}})
			return err
		}, invalidParam("imageIds.2.member.imageTag", "must have length greater than or equal to 1")},
		{"maxResults (min)", func() error {
			_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(0)})
			return err
		}, invalidParam("maxResults", "must be greater than or equal to 1")},
		{"maxResults (max)", func() error {
			_, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, MaxResults: aws.Int32(1001)})
			return err
		}, invalidParam("maxResults", "must be less than or equal to 1000")},
		{"maxResults of ListImageReferrers", func() error {
			_, err := c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: repo,
				SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(ecrDigest(nil))}, MaxResults: aws.Int32(51)})
			return err
		}, invalidParam("maxResults", "must be less than or equal to 50")},
		{"maxResults of DescribeImages", func() error {
			_, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo, MaxResults: aws.Int32(-5)})
			return err
		}, invalidParam("maxResults", "must be greater than or equal to 1")},
		{"nextToken", func() error {
			_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{NextToken: aws.String("not a token!")})
			return err
		}, invalidParam("nextToken", "the token was not returned by a previous call")},
	}
	for _, tc := range cases {
		err := tc.call()
		wantAPIError(t, "InvalidParameterException, "+tc.kind, err, "InvalidParameterException", 400, tc.message)
		wantTyped[*ecrtypes.InvalidParameterException](t, "InvalidParameterException, "+tc.kind, err)
	}
	for _, n := range []string{"ecrapi/enum", "ecrapi/enc"} {
		_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{n}})
		wantAPIError(t, "a refused CreateRepository", err, "RepositoryNotFoundException", 400, "")
	}

	// Hand-made requests: a required member absent, wrong JSON, unknown
	// operations, authentication failures.
	a := rawECR(t, e, "CreateRepository", []byte(`{}`), testAccessKey, testSecret)
	wantRawError(t, "CreateRepository without repositoryName", a, 400, "InvalidParameterException", invalidParam("repositoryName", notNullError))
	a = rawECR(t, e, "DescribeRepositories", []byte(`{}`), testAccessKey, testSecret)
	if a.Status != http.StatusOK || a.Header.Get("Content-Type") != "application/x-amz-json-1.1" || !requestIDRE.MatchString(a.Header.Get("X-Amzn-Requestid")) {
		t.Errorf("a signed DescribeRepositories = %d %q, request ID %q", a.Status, a.Header.Get("Content-Type"), a.Header.Get("X-Amzn-Requestid"))
	}
	var body struct {
		Repositories []json.RawMessage `json:"repositories"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil || len(body.Repositories) != 1 {
		t.Errorf("a signed DescribeRepositories answered %s", a.Body)
	}
	a = rawECR(t, e, "FrobnicateWidgets", []byte(`{}`), testAccessKey, testSecret)
	wantRawError(t, "an unknown operation", a, 400, "UnknownOperationException", "")
	a = rawECR(t, e, "DescribeRepositories", []byte(`{"repositoryNames": [`), testAccessKey, testSecret)
	wantRawError(t, "truncated JSON", a, 400, "SerializationException", "Malformed JSON: unexpected end of the request body")
	a = rawECR(t, e, "DescribeRepositories", []byte(`{"maxResults": "ten"}`), testAccessKey, testSecret)
	wantRawError(t, "a string for an integer", a, 400, "SerializationException", "Unexpected value for member 'maxResults': expected an integer, found a string")
	a = rawECR(t, e, "DescribeRepositories", []byte(`[1, 2]`), testAccessKey, testSecret)
	wantRawError(t, "a JSON array body", a, 400, "SerializationException", "The request body must be a JSON object, found an array")
	a = rawECR(t, e, "DescribeRepositories", []byte(`{}`), "", "")
	wantRawError(t, "no Authorization", a, 403, "MissingAuthenticationTokenException", "Missing Authentication Token")

	mismatch := "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	a = rawECR(t, e, "DescribeRepositories", []byte(`{}`), testAccessKey, "wrong-secret")
	wantRawError(t, "a wrong secret (raw)", a, 400, "InvalidSignatureException", mismatch)
	_, err = ecrClientWith(e, testAccessKey, "wrong-secret").DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	wantAPIError(t, "a wrong secret", err, "InvalidSignatureException", 400, mismatch)
	_, err = ecrClientWith(e, "AKIAE2EUNKNOWNKEY000", testSecret).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	wantAPIError(t, "an unknown access key", err, "UnrecognizedClientException", 400, "The security token included in the request is invalid.")
	noServerErrors(t, e)
}

func TestECRMultiAccount(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c1 := ecrClient(e)
	ctx := context.Background()
	const second = "210987654321"
	_, err := c1.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("first/only")})
	ecrMust(t, "CreateRepository in the first account", err)
	_, err = c1.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("shared/name")})
	ecrMust(t, "CreateRepository in the first account", err)

	out, err := exec.Command(ecrdtest.Bin(), "account", "create", "--id", second, "--data", e.Data).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != second {
		t.Fatalf("ecrd account create: %v\n%s", err, out)
	}
	out, err = exec.Command(ecrdtest.Bin(), "access-key", "create", "--account", second, "--data", e.Data).CombinedOutput()
	if err != nil {
		t.Fatalf("ecrd access-key create: %v\n%s", err, out)
	}
	key, secret := parseAccessKeyOutput(t, string(out))
	c2 := ecrClientWith(e, key, secret)

	sc := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), Retryer: closedConnRetryer()})
	who, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ecrMust(t, "GetCallerIdentity of the second account", err)
	if aws.ToString(who.Account) != second || aws.ToString(who.Arn) != "arn:aws:iam::"+second+":root" {
		t.Errorf("GetCallerIdentity = %q %q", aws.ToString(who.Account), aws.ToString(who.Arn))
	}

	repos, err := c2.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories of the new account", err)
	if len(repos.Repositories) != 0 {
		t.Errorf("a new account sees %d repositories", len(repos.Repositories))
	}
	start := time.Now()
	cr, err := c2.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("shared/name")})
	ecrMust(t, "CreateRepository of a name the other account has", err)
	checkRepository(t, e, "the second account's repository", cr.Repository, wantRepo{account: second, name: "shared/name",
		mutability: ecrtypes.ImageTagMutabilityMutable, encryption: ecrtypes.EncryptionTypeAes256}, start)
	reg, err := c2.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	ecrMust(t, "DescribeRegistry", err)
	if aws.ToString(reg.RegistryId) != second {
		t.Errorf("DescribeRegistry of the second account = %q", aws.ToString(reg.RegistryId))
	}

	names := func(c *ecr.Client, account string) []string {
		t.Helper()
		out, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
		ecrMust(t, "DescribeRepositories", err)
		var ns []string
		for _, r := range out.Repositories {
			ns = append(ns, aws.ToString(r.RepositoryName))
			if aws.ToString(r.RegistryId) != account || aws.ToString(r.RepositoryArn) != repoARN(account, aws.ToString(r.RepositoryName)) {
				t.Errorf("account %s sees %s of registry %s", account, aws.ToString(r.RepositoryArn), aws.ToString(r.RegistryId))
			}
		}
		return ecrSorted(ns)
	}
	if got := names(c1, testAccount); !slices.Equal(got, []string{"first/only", "shared/name"}) {
		t.Errorf("the first account sees %q", got)
	}
	if got := names(c2, second); !slices.Equal(got, []string{"shared/name"}) {
		t.Errorf("the second account sees %q", got)
	}

	// The first account's registry is closed to the second, whether the
	// repository exists or not.
	denied := func(action, resource string) string {
		return fmt.Sprintf("User: arn:aws:iam::%s:root is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
			second, action, resource, action)
	}
	first := aws.String(testAccount)
	_, err = c2.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: first, RepositoryNames: []string{"first/only"}})
	wantAPIError(t, "DescribeRepositories of another account's repository", err, "AccessDeniedException", 403,
		denied("ecr:DescribeRepositories", repoARN(testAccount, "first/only")))
	_, err = c2.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: first, RepositoryNames: []string{"no/such-repo"}})
	wantAPIError(t, "DescribeRepositories of another account's missing repository", err, "AccessDeniedException", 403,
		denied("ecr:DescribeRepositories", repoARN(testAccount, "no/such-repo")))
	_, err = c2.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: first})
	wantAPIError(t, "DescribeRepositories of another registry", err, "AccessDeniedException", 403,
		denied("ecr:DescribeRepositories", repoARN(testAccount, "*")))
	_, err = c2.ListImages(ctx, &ecr.ListImagesInput{RegistryId: first, RepositoryName: aws.String("first/only")})
	wantAPIError(t, "ListImages of another account's repository", err, "AccessDeniedException", 403, denied("ecr:ListImages", repoARN(testAccount, "first/only")))
	_, err = c2.CreateRepository(ctx, &ecr.CreateRepositoryInput{RegistryId: first, RepositoryName: aws.String("intruder")})
	wantAPIError(t, "CreateRepository in another registry", err, "AccessDeniedException", 403, denied("ecr:CreateRepository", repoARN(testAccount, "intruder")))
	_, err = c2.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RegistryId: first, RepositoryName: aws.String("first/only"), Force: true})
	wantAPIError(t, "DeleteRepository in another registry", err, "AccessDeniedException", 403, denied("ecr:DeleteRepository", repoARN(testAccount, "first/only")))
	_, err = c2.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN(testAccount, "first/only")), Tags: ecrTags("a", "b")})
	wantAPIError(t, "TagResource of another account's repository", err, "AccessDeniedException", 403, denied("ecr:TagResource", repoARN(testAccount, "first/only")))
	_, err = c2.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RegistryId: first, RepositoryName: aws.String("first/only")})
	wantAPIError(t, "InitiateLayerUpload in another account's repository", err, "AccessDeniedException", 403, "")
	if got := names(c1, testAccount); !slices.Equal(got, []string{"first/only", "shared/name"}) {
		t.Errorf("after the refused calls the first account has %q", got)
	}

	// Each account's registry password pushes into its own registry.
	tok, err := c2.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "GetAuthorizationToken of the second account", err)
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, pw2, _ := strings.Cut(string(raw), ":")
	hc2 := &http.Client{Transport: authTransport{Password: pw2, Base: http.DefaultTransport}}
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 100))
	ociPushImage(t, e, hc2, "shared/name", img, "v1")
	l2, err := c2.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("shared/name")})
	ecrMust(t, "ListImages of the second account", err)
	if len(l2.ImageIds) != 1 || aws.ToString(l2.ImageIds[0].ImageDigest) != img.Digest {
		t.Errorf("the second account's shared/name holds %+v, want the image pushed with its password", l2.ImageIds)
	}
	l1, err := c1.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("shared/name")})
	ecrMust(t, "ListImages of the first account", err)
	if len(l1.ImageIds) != 0 {
		t.Errorf("the first account's shared/name holds %+v, want nothing", l1.ImageIds)
	}
	noServerErrors(t, e)
}

// TestDefaultPageSizes: without maxResults, DescribeRepositories,
// ListImages and DescribeImages answer at most 100 results and a
// nextToken, as ECR's API reference says; the next page has the rest.
func TestDefaultPageSizes(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	for i := range 101 {
		_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(fmt.Sprintf("page/r%03d", i))})
		ecrMust(t, "CreateRepository", err)
	}
	repos, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories", err)
	if len(repos.Repositories) != 100 || repos.NextToken == nil {
		t.Fatalf("DescribeRepositories without maxResults: %d repositories, nextToken %v; want 100 and a token", len(repos.Repositories), repos.NextToken)
	}
	rest, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{NextToken: repos.NextToken})
	ecrMust(t, "DescribeRepositories, second page", err)
	if len(rest.Repositories) != 1 || rest.NextToken != nil {
		t.Fatalf("the second page: %d repositories, nextToken %v; want 1 and none", len(rest.Repositories), rest.NextToken)
	}

	hc := e.HTTPClient(t)
	img := newOCIImage(t, "application/vnd.oci.image.manifest.v1+json", ecrRandom(t, 64))
	tags := make([]string, 101)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%03d", i)
	}
	ociPushImage(t, e, hc, "page/r000", img, tags...)
	list, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("page/r000")})
	ecrMust(t, "ListImages", err)
	if len(list.ImageIds) != 100 || list.NextToken == nil {
		t.Fatalf("ListImages without maxResults: %d image IDs, nextToken %v; want 100 and a token", len(list.ImageIds), list.NextToken)
	}
	all, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("page/r000"), MaxResults: aws.Int32(1000)})
	ecrMust(t, "ListImages with maxResults", err)
	if len(all.ImageIds) != 101 || all.NextToken != nil {
		t.Fatalf("ListImages with maxResults 1000: %d image IDs, nextToken %v", len(all.ImageIds), all.NextToken)
	}
}
