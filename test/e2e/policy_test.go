package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// newAccountKey creates an account in the server's data folder and returns
// its root access key.
func newAccountKey(t *testing.T, e *ecrd, id string) (key, secret string) {
	t.Helper()
	if out, err := exec.Command(ecrdtest.Bin(), "account", "create", "--id", id, "--data", e.Data).CombinedOutput(); err != nil {
		t.Fatalf("ecrd account create: %v\n%s", err, out)
	}
	out, err := exec.Command(ecrdtest.Bin(), "access-key", "create", "--account", id, "--data", e.Data).CombinedOutput()
	if err != nil {
		t.Fatalf("ecrd access-key create: %v\n%s", err, out)
	}
	return parseAccessKeyOutput(t, string(out))
}

// newAccount is newAccountKey returning an ECR client of the key and the
// account's registry password.
func newAccount(t *testing.T, e *ecrd, id string) (*ecr.Client, string) {
	t.Helper()
	key, secret := newAccountKey(t, e, id)
	c := ecrClientWith(e, key, secret)
	tok, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(b), ":")
	return c, password
}

// TestRepositoryPolicyCrossAccount: a repository policy of account A that
// grants pull to account B's root lets B pull, through both APIs, and
// nothing else; account C stays out; an explicit deny wins; every refusal
// carries AWS's message.
func TestRepositoryPolicyCrossAccount(t *testing.T) {
	e := startECRD(t, t.TempDir())
	a, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo, b, c = "shared/app", "210987654321", "333333333333"
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, repo, img, "v1")
	cb, bPassword := newAccount(t, e, b)
	cc, _ := newAccount(t, e, c)
	arn := repoARN(testAccount, repo)
	pull := func(cl *ecr.Client) error {
		_, err := cl.BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: aws.String(testAccount), RepositoryName: aws.String(repo),
			ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		return err
	}
	notAllowed := func(account, action string) string {
		return "User: arn:aws:iam::" + account + ":root is not authorized to perform: " + action + " on resource: " + arn +
			" because no resource-based policy allows the " + action + " action"
	}

	wantAPIError(t, "B pulls before any policy", pull(cb), "AccessDeniedException", 403, notAllowed(b, "ecr:BatchGetImage"))
	_, err := a.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "GetRepositoryPolicy before a set", err, "RepositoryPolicyNotFoundException", 400,
		"Repository policy does not exist for the repository with name '"+repo+"' in the registry with id '"+testAccount+"'")

	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"CrossAccountPull","Effect":"Allow",
"Principal":{"AWS":"arn:aws:iam::` + b + `:root"},
"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`
	set, err := a.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(policy)})
	ecrMust(t, "SetRepositoryPolicy", err)
	if aws.ToString(set.PolicyText) != policy || aws.ToString(set.RegistryId) != testAccount {
		t.Errorf("SetRepositoryPolicy answered %+v", set)
	}
	got, err := a.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "GetRepositoryPolicy", err)
	if aws.ToString(got.PolicyText) != policy {
		t.Errorf("GetRepositoryPolicy = %q", aws.ToString(got.PolicyText))
	}

	ecrMust(t, "B pulls with the policy", pull(cb))
	wantAPIError(t, "C pulls", pull(cc), "AccessDeniedException", 403, notAllowed(c, "ecr:BatchGetImage"))
	_, err = cb.PutImage(ctx, &ecr.PutImageInput{RegistryId: aws.String(testAccount), RepositoryName: aws.String(repo),
		ImageManifest: aws.String(string(img.Manifest)), ImageTag: aws.String("b-was-here")})
	wantAPIError(t, "B pushes", err, "AccessDeniedException", 403, notAllowed(b, "ecr:PutImage"))

	// Through /v2 with B's registry password, addressing A's registry by
	// its ECR-shaped host name: the manifest and a layer, not an upload.
	bClient := &http.Client{Transport: authTransport{Password: bPassword, Base: http.DefaultTransport}}
	aRegistry := func(method, path, accept string) httpAnswer {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL()+path, nil)
		req.Host = testAccount + ".dkr.ecr." + testRegion + ".localhost"
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return ecrDo(t, bClient, req)
	}
	if a := aRegistry(http.MethodGet, "/v2/"+repo+"/manifests/v1", mtOCIManifest); a.Status != http.StatusOK {
		t.Errorf("B pulls the manifest through /v2: %d %s", a.Status, a.Body)
	}
	if a := aRegistry(http.MethodGet, "/v2/"+repo+"/blobs/"+ecrDigest(img.Blobs[1]), ""); a.Status != http.StatusOK {
		t.Errorf("B pulls a layer through /v2: %d %s", a.Status, a.Body)
	}
	if a := aRegistry(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", ""); a.Status != http.StatusForbidden {
		t.Errorf("B starts an upload through /v2: %d %s", a.Status, a.Body)
	} else if code, msg := ociError(a); code != "DENIED" || msg != notAllowed(b, "ecr:InitiateLayerUpload") {
		t.Errorf("B's upload refused with %s %q", code, msg)
	}

	// An explicit deny wins, for B and for the repository's own account.
	deny := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":"` + b + `"},"Action":"ecr:BatchGetImage"},` +
		`{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage"}]}`
	_, err = a.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(deny)})
	ecrMust(t, "SetRepositoryPolicy with a deny", err)
	ecrMust(t, "B pulls, named by account ID", pull(cb))
	_, err = a.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	wantAPIError(t, "the owner deletes under an explicit deny", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+testAccount+":root is not authorized to perform: ecr:BatchDeleteImage on resource: "+arn+
			" with an explicit deny in a resource-based policy")

	// What ECR refuses.
	for _, bad := range []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}`,
		`not json`, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:BatchGetImage"}]}`} {
		_, err = a.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(bad)})
		wantAPIError(t, "SetRepositoryPolicy "+bad, err, "InvalidParameterException", 400,
			"Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
	}

	del, err := a.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "DeleteRepositoryPolicy", err)
	if aws.ToString(del.PolicyText) != deny {
		t.Errorf("DeleteRepositoryPolicy answered %q", aws.ToString(del.PolicyText))
	}
	wantAPIError(t, "B pulls after the delete", pull(cb), "AccessDeniedException", 403, notAllowed(b, "ecr:BatchGetImage"))
	_, err = a.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "a second DeleteRepositoryPolicy", err, "RepositoryPolicyNotFoundException", 400, "")
	noServerErrors(t, e)
}

// TestRegistryPolicy: under the registry policy scope V2 (the default) a
// registry policy may grant any ECR action, such as the upstream side of a
// cross-account ECR-to-ECR pull-through cache rule; under V1 only
// replication, pull-through imports and repository creation; never
// another service's actions.
func TestRegistryPolicy(t *testing.T) {
	e := startECRD(t, t.TempDir())
	a := ecrClient(e)
	ctx := context.Background()
	_, err := a.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	wantAPIError(t, "GetRegistryPolicy before a put", err, "RegistryPolicyNotFoundException", 400,
		"Registry policy does not exist in the registry with id '"+testAccount+"'")
	invalid := "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'"
	put := func(what, policy string) error {
		t.Helper()
		out, err := a.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(policy)})
		if err == nil && (aws.ToString(out.RegistryId) != testAccount || aws.ToString(out.PolicyText) != policy) {
			t.Errorf("PutRegistryPolicy %s answered %+v", what, out)
		}
		return err
	}
	scope := func(want string) {
		t.Helper()
		out, err := a.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("REGISTRY_POLICY_SCOPE")})
		ecrMust(t, "GetAccountSetting REGISTRY_POLICY_SCOPE", err)
		if aws.ToString(out.Value) != want {
			t.Errorf("REGISTRY_POLICY_SCOPE = %q, want %q", aws.ToString(out.Value), want)
		}
	}
	upstream := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchImportUpstreamImage","ecr:GetImageCopyStatus"],` +
		`"Resource":"arn:aws:ecr:us-east-1:` + testAccount + `:repository/*"}]}`
	replication := `{"Version":"2012-10-17","Statement":[{"Sid":"Replicate","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},` +
		`"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:us-east-1:` + testAccount + `:repository/*"}]}`
	s3 := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`

	scope("V2")
	ecrMust(t, "PutRegistryPolicy of a pull-through upstream's policy under V2", put("upstream", upstream))
	wantAPIError(t, "a registry policy granting another service's action", put("s3", s3), "InvalidParameterException", 400, invalid)
	wantAPIError(t, "a registry policy that would lock its owner out", put("lockout",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"*"}]}`),
		"InvalidParameterException", 400, "")
	got, err := a.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	ecrMust(t, "GetRegistryPolicy", err)
	if aws.ToString(got.PolicyText) != upstream {
		t.Errorf("GetRegistryPolicy = %q", aws.ToString(got.PolicyText))
	}

	_, err = a.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("REGISTRY_POLICY_SCOPE"), Value: aws.String("V1")})
	ecrMust(t, "PutAccountSetting REGISTRY_POLICY_SCOPE V1", err)
	scope("V1")
	wantAPIError(t, "a registry policy granting pulls under V1", put("upstream", upstream), "InvalidParameterException", 400, invalid)
	ecrMust(t, "PutRegistryPolicy of a replication policy under V1", put("replication", replication))
	_, err = a.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("REGISTRY_POLICY_SCOPE"), Value: aws.String("V3")})
	wantAPIError(t, "PutAccountSetting REGISTRY_POLICY_SCOPE V3", err, "ValidationException", 400,
		"Invalid value 'V3' for account setting REGISTRY_POLICY_SCOPE: use one of V2, V1")

	_, err = a.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	ecrMust(t, "DeleteRegistryPolicy", err)
	_, err = a.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	wantAPIError(t, "a second DeleteRegistryPolicy", err, "RegistryPolicyNotFoundException", 400, "")
	noServerErrors(t, e)
}

// TestRepositoryPolicyAnonymousFromANetwork: a policy's "*" is any
// authenticated principal, so a policy alone never lets anonymous
// clients pull; a repository that opts in to anonymous pulls can keep
// them to a network with an explicit Deny for every other.
func TestRepositoryPolicyAnonymousFromANetwork(t *testing.T) {
	e := startECRD(t, t.TempDir())
	a, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo = "public/app"
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, repo, img, "v1")
	anonymous := http.DefaultClient
	get := func() httpAnswer { return ociGet(t, anonymous, e.URL()+"/v2/"+repo+"/manifests/v1", mtOCIManifest) }
	if a := get(); a.Status != http.StatusUnauthorized {
		t.Fatalf("an anonymous pull before any policy: %d", a.Status)
	}
	allow := `{"Version":"2012-10-17","Statement":[{"Sid":"LocalPulls","Effect":"Allow","Principal":"*",` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`
	_, err := a.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(allow)})
	ecrMust(t, "SetRepositoryPolicy allowing 127.0.0.0/8", err)
	if a := get(); a.Status != http.StatusUnauthorized {
		t.Errorf("an anonymous pull under a \"*\" policy alone: %d %s, want 401", a.Status, a.Body)
	}
	_, err = a.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN(testAccount, repo)),
		Tags: []ecrtypes.Tag{{Key: aws.String("ecrd:anonymous-pull"), Value: aws.String("true")}}})
	ecrMust(t, "TagResource ecrd:anonymous-pull", err)
	denyOthers := func(cidr string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"OnlyLocal","Effect":"Deny","Principal":"*",` +
			`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"NotIpAddress":{"aws:SourceIp":"` + cidr + `"}}}]}`
	}
	_, err = a.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(denyOthers("127.0.0.0/8"))})
	ecrMust(t, "SetRepositoryPolicy denying all but 127.0.0.0/8", err)
	if a := get(); a.Status != http.StatusOK {
		t.Errorf("an anonymous pull from 127.0.0.1 where others are denied: %d %s", a.Status, a.Body)
	}
	if a := ociGet(t, anonymous, e.URL()+"/v2/"+repo+"/blobs/"+ecrDigest(img.Blobs[1]), ""); a.Status != http.StatusOK {
		t.Errorf("an anonymous layer pull: %d", a.Status)
	}
	_, err = a.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(denyOthers("10.0.0.0/8"))})
	ecrMust(t, "SetRepositoryPolicy denying all but 10.0.0.0/8", err)
	if a := get(); a.Status != http.StatusUnauthorized {
		t.Errorf("an anonymous pull from 127.0.0.1 where only 10.0.0.0/8 may pull: %d %s", a.Status, a.Body)
	}
	noServerErrors(t, e)
}
