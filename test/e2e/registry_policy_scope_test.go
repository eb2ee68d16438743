package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// TestRegistryPolicyScopeV2: under the V2 scope a registry policy decides
// requests to every repository of the registry: it lets another account
// pull through both APIs and create repositories, its explicit deny binds
// the registry's own root; under V1 it decides none of them.
func TestRegistryPolicyScopeV2(t *testing.T) {
	e := startECRD(t, t.TempDir())
	a, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo, b = "upstream/app", "210987654321"
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, repo, img, "v1")
	cb, bPassword := newAccount(t, e, b)
	pull := func() error {
		_, err := cb.BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: aws.String(testAccount), RepositoryName: aws.String(repo),
			ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		return err
	}
	create := func(name string) error {
		_, err := cb.CreateRepository(ctx, &ecr.CreateRepositoryInput{RegistryId: aws.String(testAccount), RepositoryName: aws.String(name)})
		return err
	}
	bClient := &http.Client{Transport: authTransport{Password: bPassword, Base: http.DefaultTransport}}
	pullV2 := func() int {
		req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v2/"+repo+"/manifests/v1", nil)
		req.Host = testAccount + ".dkr.ecr." + testRegion + ".localhost"
		req.Header.Set("Accept", mtOCIManifest)
		return ecrDo(t, bClient, req).Status
	}
	wantAPIError(t, "B pulls before any policy", pull(), "AccessDeniedException", 403, "")

	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Upstream","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:root"},` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:CreateRepository"],"Resource":"arn:aws:ecr:us-east-1:` + testAccount + `:repository/*"},` +
		`{"Sid":"KeepImages","Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage","Resource":"*"}]}`
	_, err := a.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(policy)})
	ecrMust(t, "PutRegistryPolicy", err)
	ecrMust(t, "B pulls under the registry policy", pull())
	if s := pullV2(); s != http.StatusOK {
		t.Errorf("B pulls through /v2 under the registry policy: %d", s)
	}
	ecrMust(t, "B creates a repository under the registry policy", create("upstream/b-made"))
	_, err = a.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	wantAPIError(t, "the owner deletes under the registry policy's deny", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+testAccount+":root is not authorized to perform: ecr:BatchDeleteImage on resource: "+repoARN(testAccount, repo)+
			" with an explicit deny in a resource-based policy")

	_, err = a.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("REGISTRY_POLICY_SCOPE"), Value: aws.String("V1")})
	ecrMust(t, "PutAccountSetting REGISTRY_POLICY_SCOPE V1", err)
	wantAPIError(t, "B pulls under V1", pull(), "AccessDeniedException", 403, "")
	if s := pullV2(); s != http.StatusForbidden {
		t.Errorf("B pulls through /v2 under V1: %d, want 403", s)
	}
	wantAPIError(t, "B creates a repository under V1", create("upstream/b-made-2"), "AccessDeniedException", 403, "")
	_, err = a.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	ecrMust(t, "the owner deletes under V1", err)
	noServerErrors(t, e)
}
