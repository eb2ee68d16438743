package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ecrd/ecrd/internal/webidentity/oidctest"
)

// clientsFor returns ECR, IAM and STS clients of the server signed with
// a credentials provider (static keys, or a session's).
func clientsFor(e *ecrd, creds aws.CredentialsProvider) (*ecr.Client, *iam.Client, *sts.Client) {
	return ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()}),
		iam.New(iam.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()}),
		sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()})
}

func static(key, secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, "")
}

// newUser creates a user in the account of the IAM client, with an access
// key and the given inline policy (none if empty), and returns its key.
func newUser(t *testing.T, c *iam.Client, name, policy string) aws.CredentialsProvider {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	ecrMust(t, "CreateUser "+name, err)
	if policy != "" {
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("inline"), PolicyDocument: aws.String(policy)})
		ecrMust(t, "PutUserPolicy "+name, err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	ecrMust(t, "CreateAccessKey "+name, err)
	return static(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
}

// registryLogin writes a docker config that logs in to the server with
// the registry token an ECR client gets, for crane, and returns the
// registry password.
func registryLogin(t *testing.T, e *ecrd, c *ecr.Client) string {
	t.Helper()
	out, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "GetAuthorizationToken", err)
	dir := t.TempDir()
	cfg := map[string]any{"auths": map[string]any{e.Addr: map[string]string{"auth": aws.ToString(out.AuthorizationData[0].AuthorizationToken)}}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(raw), ":")
	return password
}

func wantCode(t *testing.T, what string, err error, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: got %v, want %s", what, err, code)
		return
	}
	if ae.ErrorCode() != code || (message != "" && withoutEncoded(ae.ErrorMessage()) != message) {
		t.Errorf("%s: got %s %q, want %s %q", what, ae.ErrorCode(), ae.ErrorMessage(), code, message)
	}
}

// TestGitHubActionsOIDC is the CI flow: a local TLS issuer signs
// GitHub-shaped tokens; the account registers it, creates a role that
// trusts it for one branch and attaches the AWS managed PowerUser policy;
// the SDK's own web identity provider assumes the role; the session gets
// a registry token and pushes with crane; another branch's token, a
// repository an explicit deny covers and an action PowerUser lacks are
// refused with AWS's messages.
func TestGitHubActionsOIDC(t *testing.T) {
	crane := tool(t, "crane")
	issuer := oidctest.New(t)
	caFile := filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(caFile, issuer.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startECRD(t, t.TempDir(), "--oidc-ca-file", caFile)
	ctx := context.Background()
	root, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))

	provider, err := rootIAM.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(issuer.URL()), ClientIDList: []string{"sts.amazonaws.com"}})
	ecrMust(t, "CreateOpenIDConnectProvider", err)
	providerARN := aws.ToString(provider.OpenIDConnectProviderArn)
	if want := "arn:aws:iam::" + testAccount + ":oidc-provider/" + issuer.Host(); providerARN != want {
		t.Fatalf("provider ARN %s, want %s", providerARN, want)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + providerARN + `"},
"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + issuer.Host() + `:aud":"sts.amazonaws.com"},
"StringLike":{"` + issuer.Host() + `:sub":"repo:org/app:ref:refs/heads/main"}}}]}`
	role, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("gha-push"), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole", err)
	roleARN := aws.ToString(role.Role.Arn)
	_, err = rootIAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("gha-push"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")})
	ecrMust(t, "AttachRolePolicy", err)
	locked := repoARN(testAccount, "prod/locked")
	_, err = rootIAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("gha-push"), PolicyName: aws.String("no-prod"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"NoProd","Effect":"Deny","Action":"ecr:*","Resource":"` + locked + `"}]}`)})
	ecrMust(t, "PutRolePolicy", err)
	for _, name := range []string{"team/app", "prod/locked"} {
		_, err := root.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)})
		ecrMust(t, "CreateRepository "+name, err)
	}

	// The job's token, as GitHub writes it for configure-aws-credentials.
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken := func(sub, aud string) {
		if err := os.WriteFile(tokenFile, []byte(issuer.GitHubToken(sub, aud, 5*time.Minute)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com")
	anonSTS := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Retryer: closedConnRetryer()})
	provider2 := stscreds.NewWebIdentityRoleProvider(anonSTS, roleARN, stscreds.IdentityTokenFile(tokenFile),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "GitHubActions" })
	creds := aws.NewCredentialsCache(provider2)
	got, err := creds.Retrieve(ctx)
	ecrMust(t, "AssumeRoleWithWebIdentity", err)
	if !strings.HasPrefix(got.AccessKeyID, "ASIA") || got.SessionToken == "" || !got.CanExpire || time.Until(got.Expires) > time.Hour+time.Minute {
		t.Errorf("temporary credentials: key %s, token %d bytes, expires %v", got.AccessKeyID, len(got.SessionToken), got.Expires)
	}
	ci, _, ciSTS := clientsFor(e, creds)
	who, err := ciSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ecrMust(t, "GetCallerIdentity", err)
	sessionARN := "arn:aws:sts::" + testAccount + ":assumed-role/gha-push/GitHubActions"
	if aws.ToString(who.Arn) != sessionARN || !strings.HasSuffix(aws.ToString(who.UserId), ":GitHubActions") ||
		!strings.HasPrefix(aws.ToString(who.UserId), aws.ToString(role.Role.RoleId)) {
		t.Errorf("GetCallerIdentity = %s %s", aws.ToString(who.Arn), aws.ToString(who.UserId))
	}

	// Push with crane, logged in with the session's registry token.
	password := registryLogin(t, e, ci)
	src := filepath.Join(t.TempDir(), "img.tar")
	writeRandomImage(t, src, e.Addr+"/team/app:v1")
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	run(t, runCtx, crane, "--insecure", "push", src, e.Addr+"/team/app:v1")
	imgs, err := root.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	ecrMust(t, "DescribeImages", err)
	if len(imgs.ImageDetails) != 1 || len(imgs.ImageDetails[0].ImageTags) != 1 {
		t.Fatalf("after the CI push: %+v", imgs.ImageDetails)
	}

	// The explicit deny covers prod/locked, through both APIs. crane's
	// first request is a HEAD, whose 403 has no body: the message is
	// checked on the upload crane would start next.
	if out := runFail(t, runCtx, crane, "--insecure", "push", src, e.Addr+"/prod/locked:v1"); !strings.Contains(out, "403 Forbidden") {
		t.Errorf("crane push to the denied repository:\n%s", out)
	}
	post, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2/prod/locked/blobs/uploads/", nil)
	post.SetBasicAuth("AWS", password)
	a := ecrDo(t, http.DefaultClient, post)
	denied := "User: " + sessionARN + " is not authorized to perform: ecr:InitiateLayerUpload on resource: " + locked +
		" with an explicit deny in an identity-based policy"
	if code, msg := ociError(a); a.Status != http.StatusForbidden || code != "DENIED" || msg != denied {
		t.Errorf("upload to the denied repository: %d %s %q, want DENIED %q", a.Status, code, msg, denied)
	}
	_, err = ci.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("prod/locked")})
	wantAPIError(t, "DescribeImages under the deny", err, "AccessDeniedException", 403,
		"User: "+sessionARN+" is not authorized to perform: ecr:DescribeImages on resource: "+locked+" with an explicit deny in an identity-based policy")
	// PowerUser does not delete repositories.
	_, err = ci.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app"), Force: true})
	wantAPIError(t, "DeleteRepository as PowerUser", err, "AccessDeniedException", 403,
		"User: "+sessionARN+" is not authorized to perform: ecr:DeleteRepository on resource: "+repoARN(testAccount, "team/app")+
			" because no identity-based policy allows the ecr:DeleteRepository action")

	// A token for another branch, or for another audience, assumes nothing.
	assume := func(sub, aud string) error {
		_, err := anonSTS.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("GitHubActions"), WebIdentityToken: aws.String(issuer.GitHubToken(sub, aud, 5*time.Minute))})
		return err
	}
	wantCode(t, "another branch", assume("repo:org/app:ref:refs/heads/feature", "sts.amazonaws.com"), "AccessDenied",
		"Not authorized to perform sts:AssumeRoleWithWebIdentity")
	wantCode(t, "another audience", assume("repo:org/app:ref:refs/heads/main", "https://github.com/org"), "InvalidIdentityToken", "")
	expired := issuer.GitHubToken("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com", -time.Minute)
	_, err = anonSTS.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleARN),
		RoleSessionName: aws.String("GitHubActions"), WebIdentityToken: aws.String(expired)})
	wantCode(t, "an expired token", err, "ExpiredTokenException", "")
	// Without the provider registered, the issuer is unknown.
	_, err = rootIAM.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN)})
	ecrMust(t, "DeleteOpenIDConnectProvider", err)
	wantCode(t, "no provider", assume("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com"), "InvalidIdentityToken",
		"No OpenIDConnect provider found in your account for "+issuer.URL())
	noServerErrors(t, e)
}

// TestIdentityPoliciesCrossAccount: a repository policy of account A that
// grants pull to account B's root lets a user of B who also has an
// identity policy pull, and refuses a user of C and a user of B without an
// identity policy, each with AWS's message; in A itself, a user may do
// only what its policies allow.
func TestIdentityPoliciesCrossAccount(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	const repo, b, c = "shared/app", "210987654321", "333333333333"
	hc := e.HTTPClient(t)
	ociPushImage(t, e, hc, repo, newOCIImage(t, mtOCIManifest, ecrRandom(t, 64)), "v1")
	root, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	arn := repoARN(testAccount, repo)
	_, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`)})
	ecrMust(t, "SetRepositoryPolicy", err)

	pullPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:GetAuthorizationToken"],"Resource":"*"}]}`
	_, bIAM, _ := clientsFor(e, static(newAccountKey(t, e, b)))
	_, cIAM, _ := clientsFor(e, static(newAccountKey(t, e, c)))
	bPuller, _, _ := clientsFor(e, newUser(t, bIAM, "puller", pullPolicy))
	bNobody, _, _ := clientsFor(e, newUser(t, bIAM, "nobody", ""))
	cPuller, _, _ := clientsFor(e, newUser(t, cIAM, "puller", pullPolicy))
	pull := func(cl *ecr.Client) error {
		_, err := cl.BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: aws.String(testAccount), RepositoryName: aws.String(repo),
			ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		return err
	}
	ecrMust(t, "B's user with an identity policy pulls", pull(bPuller))
	wantAPIError(t, "C's user pulls", pull(cPuller), "AccessDeniedException", 403,
		"User: arn:aws:iam::"+c+":user/puller is not authorized to perform: ecr:BatchGetImage on resource: "+arn+
			" because no resource-based policy allows the ecr:BatchGetImage action")
	wantAPIError(t, "B's user without an identity policy pulls", pull(bNobody), "AccessDeniedException", 403,
		"User: arn:aws:iam::"+b+":user/nobody is not authorized to perform: ecr:BatchGetImage on resource: "+arn+
			" because no identity-based policy allows the ecr:BatchGetImage action")
	_, err = bNobody.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	wantAPIError(t, "B's user without a policy logs in", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+b+":user/nobody is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action")

	// Through /v2, with the user's registry token, addressing A's registry.
	tok, err := bPuller.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "B's user logs in", err)
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(raw), ":")
	req := func(method, path string) httpAnswer {
		r, _ := http.NewRequest(method, e.URL()+path, nil)
		r.Host = testAccount + ".dkr.ecr." + testRegion + ".localhost"
		r.Header.Set("Accept", mtOCIManifest)
		r.SetBasicAuth("AWS", password)
		return ecrDo(t, http.DefaultClient, r)
	}
	if a := req("GET", "/v2/"+repo+"/manifests/v1"); a.Status != 200 {
		t.Errorf("B's user pulls through /v2: %d %s", a.Status, a.Body)
	}
	if a := req("POST", "/v2/"+repo+"/blobs/uploads/"); a.Status != 403 {
		t.Errorf("B's user starts an upload through /v2: %d %s", a.Status, a.Body)
	} else if code, msg := ociError(a); code != "DENIED" || !strings.Contains(msg, "ecr:InitiateLayerUpload") {
		t.Errorf("upload refused with %s %q", code, msg)
	}

	// In A: a user may do only what its policies allow, and attaching an
	// AWS managed policy takes effect at once.
	devCreds := newUser(t, rootIAM, "dev", "")
	dev, _, _ := clientsFor(e, devCreds)
	_, err = dev.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	wantAPIError(t, "dev lists repositories", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+testAccount+":user/dev is not authorized to perform: ecr:DescribeRepositories on resource: arn:aws:ecr:"+testRegion+":"+testAccount+":repository/* because no identity-based policy allows the ecr:DescribeRepositories action")
	_, err = rootIAM.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("dev"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")})
	ecrMust(t, "AttachUserPolicy", err)
	_, err = dev.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "dev lists repositories as ReadOnly", err)
	_, err = dev.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("dev/new")})
	wantAPIError(t, "dev creates a repository as ReadOnly", err, "AccessDeniedException", 403, "")
	// A user's access keys keep it from being deleted.
	_, err = rootIAM.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dev")})
	wantCode(t, "DeleteUser with keys", err, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
	noServerErrors(t, e)
}

// TestAssumeRoleAcrossAccounts: account A's role trusts account B; a user
// of B assumes it only with an identity policy allowing sts:AssumeRole, a
// session policy narrows the session, and the session acts as the role.
func TestAssumeRoleAcrossAccounts(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	const b = "210987654321"
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	_, bIAM, _ := clientsFor(e, static(newAccountKey(t, e, b)))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deployer"), Path: aws.String("/ci/"), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole", err)
	_, err = rootIAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("deployer"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess")})
	ecrMust(t, "AttachRolePolicy", err)
	roleARN := aws.ToString(role.Role.Arn)
	if roleARN != "arn:aws:iam::"+testAccount+":role/ci/deployer" {
		t.Fatalf("role ARN %s", roleARN)
	}

	_, _, withoutSTS := clientsFor(e, newUser(t, bIAM, "nobody", ""))
	_, err = withoutSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1")})
	wantCode(t, "AssumeRole without an identity policy", err, "AccessDenied",
		"User: arn:aws:iam::"+b+":user/nobody is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
	_, _, bSTS := clientsFor(e, newUser(t, bIAM, "ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+roleARN+`"}]}`))
	_, err = bSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(7200)})
	wantCode(t, "a session longer than the role's maximum", err, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	// The session policy lets it only read.
	out, err := bSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("release-1"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:Describe*","Resource":"*"}]}`)})
	ecrMust(t, "AssumeRole", err)
	k := out.Credentials
	sess := credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken))
	asRole, _, asRoleSTS := clientsFor(e, sess)
	who, err := asRoleSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ecrMust(t, "GetCallerIdentity", err)
	sessionARN := "arn:aws:sts::" + testAccount + ":assumed-role/deployer/release-1"
	if aws.ToString(who.Arn) != sessionARN || aws.ToString(who.Account) != testAccount {
		t.Errorf("GetCallerIdentity = %s in %s", aws.ToString(who.Arn), aws.ToString(who.Account))
	}
	_, err = asRole.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories in the session", err)
	_, err = asRole.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("made-by-session")})
	wantAPIError(t, "CreateRepository outside the session policy", err, "AccessDeniedException", 403,
		"User: "+sessionARN+" is not authorized to perform: ecr:CreateRepository on resource: "+repoARN(testAccount, "made-by-session")+
			" because no session policy allows the ecr:CreateRepository action")
	// A forged session token is refused.
	forged := credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken)+"x")
	_, _, forgedSTS := clientsFor(e, forged)
	_, err = forgedSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, "a forged session token", err, "InvalidClientTokenId", "")
	noServerErrors(t, e)
}

// writeRandomImage writes a docker tarball of a random image tagged ref.
func writeRandomImage(t *testing.T, path, ref string) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
}
