package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/ecrd/ecrd/internal/webidentity/oidctest"
)

// encodedMarker separates AWS's text of a denial from the encoded
// authorization message ecrd appends, as EC2 does.
const encodedMarker = ". Encoded authorization failure message: "

// withoutEncoded is a denial's message without its encoded part.
func withoutEncoded(msg string) string {
	text, _, _ := strings.Cut(msg, encodedMarker)
	return text
}

// encodedOf is a denial's encoded authorization message; it fails the
// test if there is none.
func encodedOf(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%v is not an API error", err)
	}
	_, enc, ok := strings.Cut(ae.ErrorMessage(), encodedMarker)
	if !ok || enc == "" {
		t.Fatalf("the denial %q carries no encoded authorization message", ae.ErrorMessage())
	}
	return enc
}

// decodedMessage is what DecodeAuthorizationMessage answers, in AWS's
// DecodedMessage shape.
type decodedMessage struct {
	Allowed           bool `json:"allowed"`
	ExplicitDeny      bool `json:"explicitDeny"`
	MatchedStatements struct {
		Items []struct {
			StatementID    string `json:"statementId"`
			Effect         string `json:"effect"`
			Policy         string `json:"policy"`
			PolicyType     string `json:"policyType"`
			StatementIndex int    `json:"statementIndex"`
		} `json:"items"`
	} `json:"matchedStatements"`
	Failures struct {
		Items []struct {
			Value string `json:"value"`
		} `json:"items"`
	} `json:"failures"`
	Context struct {
		Principal struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			ARN  string `json:"arn"`
		} `json:"principal"`
		Action     string `json:"action"`
		Resource   string `json:"resource"`
		Conditions struct {
			Items []struct {
				Key    string `json:"key"`
				Values struct {
					Items []struct {
						Value string `json:"value"`
					} `json:"items"`
				} `json:"values"`
			} `json:"items"`
		} `json:"conditions"`
	} `json:"context"`
}

// basicGet GETs a /v2 path with the registry password.
func basicGet(t *testing.T, e *ecrd, path, password string) httpAnswer {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, e.URL()+path, nil)
	r.Header.Set("Accept", mtOCIManifest)
	r.SetBasicAuth("AWS", password)
	return ecrDo(t, http.DefaultClient, r)
}

// TestSTSDeletedPrincipalCredentials: a registry password GetAuthorizationToken
// gave user tmpu, and a role session, stop working when the user or role
// is deleted, and stay dead when one of the same name and more rights is
// created: they belong to the old unique ID, as on AWS.
func TestSTSDeletedPrincipalCredentials(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	hc := e.HTTPClient(t)
	ociPushImage(t, e, hc, "team/app", newOCIImage(t, mtOCIManifest, ecrRandom(t, 64)), "v1")
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	pull := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage"],"Resource":"*"}]}`
	tmpu, _, _ := clientsFor(e, newUser(t, rootIAM, "tmpu", pull))
	tok, err := tmpu.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "GetAuthorizationToken as tmpu", err)
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(raw), ":")
	if a := basicGet(t, e, "/v2/team/app/manifests/v1", password); a.Status != http.StatusOK {
		t.Fatalf("tmpu pulls: %d %s", a.Status, a.Body)
	}

	// A role session too, signed and as a registry password.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	_, err = rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("tmpr"), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole", err)
	_, _, rootSTS := clientsFor(e, static(testAccessKey, testSecret))
	as, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/tmpr"), RoleSessionName: aws.String("job")})
	ecrMust(t, "AssumeRole", err)
	k := as.Credentials
	sessECR, _, sessSTS := clientsFor(e, credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken)))
	_, err = sessSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ecrMust(t, "GetCallerIdentity of the session", err)

	// Delete both, the way Terraform does, and create them again with
	// more rights.
	keys, err := rootIAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("tmpu")})
	ecrMust(t, "ListAccessKeys", err)
	for _, key := range keys.AccessKeyMetadata {
		_, err := rootIAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("tmpu"), AccessKeyId: key.AccessKeyId})
		ecrMust(t, "DeleteAccessKey", err)
	}
	_, err = rootIAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("tmpu"), PolicyName: aws.String("inline")})
	ecrMust(t, "DeleteUserPolicy", err)
	_, err = rootIAM.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("tmpu")})
	ecrMust(t, "DeleteUser", err)
	_, err = rootIAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("tmpr")})
	ecrMust(t, "DeleteRole", err)
	gone := "invalid registry token: the principal arn:aws:iam::" + testAccount + ":user/tmpu it was issued to no longer exists"
	check := func(when string) {
		t.Helper()
		a := basicGet(t, e, "/v2/team/app/manifests/v1", password)
		if code, msg := ociError(a); a.Status != http.StatusUnauthorized || code != "UNAUTHORIZED" || !strings.HasPrefix(msg, gone) {
			t.Errorf("%s: tmpu's old password pulls: %d %s %q", when, a.Status, code, msg)
		}
		_, err := sessSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantCode(t, when+": the old role session, STS", err, "InvalidClientTokenId", "The security token included in the request is invalid.")
		_, err = sessECR.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
		wantCode(t, when+": the old role session, ECR", err, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	check("deleted")
	_, err = rootIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tmpu")})
	ecrMust(t, "CreateUser tmpu again", err)
	_, err = rootIAM.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("tmpu"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	ecrMust(t, "AttachUserPolicy", err)
	_, err = rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("tmpr"), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole tmpr again", err)
	_, err = rootIAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("tmpr"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	ecrMust(t, "AttachRolePolicy", err)
	check("created again")
	noServerErrors(t, e)
}

// TestSTSWebIdentityHidesRoles: a bad web identity token gets the same
// answer for a role that exists and one that does not, in an account that
// registered the issuer and in one that did not.
func TestSTSWebIdentityHidesRoles(t *testing.T) {
	issuer := oidctest.New(t)
	caFile := t.TempDir() + "/ca.pem"
	writeFile(t, caFile, string(issuer.CAPEM()))
	e := startECRD(t, t.TempDir(), "--oidc-ca-file", caFile)
	ctx := context.Background()
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	prov, err := rootIAM.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(issuer.URL()), ClientIDList: []string{"sts.amazonaws.com"}})
	ecrMust(t, "CreateOpenIDConnectProvider", err)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + aws.ToString(prov.OpenIDConnectProviderArn) + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	_, err = rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ci"), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole", err)
	anon := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Retryer: closedConnRetryer()})
	good := issuer.GitHubToken("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com", 5*time.Minute)
	forged := good[:strings.LastIndex(good, ".")+1] + strings.Repeat("A", len(good)-strings.LastIndex(good, ".")-1)
	answer := func(roleARN, token string) string {
		_, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleARN),
			RoleSessionName: aws.String("GitHubActions"), WebIdentityToken: aws.String(token)})
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("AssumeRoleWithWebIdentity of %s: %v", roleARN, err)
		}
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	for _, token := range []string{"bogus-token", forged} {
		for _, account := range []string{testAccount, "210987654321"} {
			existing := answer("arn:aws:iam::"+account+":role/ci", token)
			missing := answer("arn:aws:iam::"+account+":role/no-such-role", token)
			if existing != missing || !strings.HasPrefix(existing, "InvalidIdentityToken: ") {
				t.Errorf("account %s, token %.20s...: an existing role answers %q, a missing one %q", account, token, existing, missing)
			}
		}
	}
	noServerErrors(t, e)
}

// TestSTSAssumeRoleOptions: ExternalId, SourceIdentity, session tags and
// transitive tags through the SDK; GetSessionToken's session.
func TestSTSAssumeRoleOptions(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	root := "arn:aws:iam::" + testAccount + ":root"
	_, rootIAM, rootSTS := clientsFor(e, static(testAccessKey, testSecret))
	mkRole := func(name, trust string) string {
		t.Helper()
		r, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
		ecrMust(t, "CreateRole "+name, err)
		_, err = rootIAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
		ecrMust(t, "AttachRolePolicy "+name, err)
		return aws.ToString(r.Role.Arn)
	}
	vendor := mkRole("vendor", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+root+`"},
		"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Condition":{"StringEquals":{"sts:ExternalId":"ext-42"}}}]}`)
	_, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(vendor), RoleSessionName: aws.String("s1")})
	wantCode(t, "without the external ID", err, "AccessDenied", "User: "+root+" is not authorized to perform: sts:AssumeRole on resource: "+vendor)
	_, err = rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(vendor), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-42"),
		Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}, TransitiveTagKeys: []string{"nope"}})
	wantCode(t, "a transitive key without its tag", err, "InvalidParameterValue", "The specified transitive tag key must be included in the requested tags.")
	out, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(vendor), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-42"),
		SourceIdentity: aws.String("alice"), Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}, TransitiveTagKeys: []string{"team"}})
	ecrMust(t, "AssumeRole with the external ID", err)
	if aws.ToString(out.SourceIdentity) != "alice" {
		t.Errorf("AssumeRole's SourceIdentity = %q", aws.ToString(out.SourceIdentity))
	}
	k := out.Credentials
	_, _, vendorSTS := clientsFor(e, credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken)))
	// The next role trusts only sessions of alice's in team a.
	next := mkRole("next", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+root+`"},
		"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"StringEquals":{"sts:SourceIdentity":"alice","aws:PrincipalTag/team":"a"}}}]}`)
	_, err = vendorSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(next), RoleSessionName: aws.String("s2"), SourceIdentity: aws.String("bob")})
	wantCode(t, "changing the source identity", err, "InvalidParameterValue", "")
	_, err = vendorSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(next), RoleSessionName: aws.String("s2"),
		Tags: []ststypes.Tag{{Key: aws.String("Team"), Value: aws.String("b")}}})
	wantCode(t, "overriding a transitive tag", err, "InvalidParameterValue",
		"One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.")
	_, err = vendorSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(next), RoleSessionName: aws.String("s2"), DurationSeconds: aws.Int32(7200)})
	wantCode(t, "a chained session of two hours", err, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	chained, err := vendorSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(next), RoleSessionName: aws.String("s2")})
	ecrMust(t, "the chained AssumeRole", err)
	if aws.ToString(chained.SourceIdentity) != "alice" {
		t.Errorf("the chained session's SourceIdentity = %q", aws.ToString(chained.SourceIdentity))
	}

	// GetSessionToken: a user's own session acts as the user, may not
	// call IAM nor STS beyond AssumeRole and GetCallerIdentity.
	devCreds := newUser(t, rootIAM, "dev", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:DescribeRepositories","iam:ListUsers"],"Resource":"*"}]}`)
	_, devIAM, devSTS := clientsFor(e, devCreds)
	_, err = devIAM.ListUsers(ctx, &iam.ListUsersInput{})
	ecrMust(t, "ListUsers as dev", err)
	_, err = devSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(600)})
	wantCode(t, "GetSessionToken of 600 seconds", err, "ValidationError", "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900")
	st, err := devSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(3600)})
	ecrMust(t, "GetSessionToken", err)
	if d := time.Until(aws.ToTime(st.Credentials.Expiration)); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("the session expires in %v, want an hour", d)
	}
	sk := st.Credentials
	sessECR, sessIAM, sessSTS := clientsFor(e, credentials.NewStaticCredentialsProvider(aws.ToString(sk.AccessKeyId), aws.ToString(sk.SecretAccessKey), aws.ToString(sk.SessionToken)))
	who, err := sessSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	ecrMust(t, "GetCallerIdentity of the session", err)
	if aws.ToString(who.Arn) != "arn:aws:iam::"+testAccount+":user/dev" {
		t.Errorf("the session is %s", aws.ToString(who.Arn))
	}
	_, err = sessECR.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories in dev's session", err)
	_, err = sessECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("xx")})
	wantAPIError(t, "CreateRepository in dev's session", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+testAccount+":user/dev is not authorized to perform: ecr:CreateRepository on resource: "+repoARN(testAccount, "xx")+
			" because no identity-based policy allows the ecr:CreateRepository action")
	_, err = sessIAM.ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, "IAM with GetSessionToken credentials", err, "InvalidClientTokenId", "The security token included in the request is invalid.")
	_, err = sessSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantCode(t, "GetSessionToken with session credentials", err, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	noServerErrors(t, e)
}

// TestSTSDecodeAuthorizationMessage: a denied ECR call's message carries
// an encoded authorization message that sts DecodeAuthorizationMessage,
// for the account's root or a user allowed to, turns into the statement
// that decided; another account and garbage get
// InvalidAuthorizationMessageException.
func TestSTSDecodeAuthorizationMessage(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	_, rootIAM, rootSTS := clientsFor(e, static(testAccessKey, testSecret))
	_, err := ecrClient(e).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("prod/app")})
	ecrMust(t, "CreateRepository", err)
	devECR, _, devSTS := clientsFor(e, newUser(t, rootIAM, "dev", `{"Version":"2012-10-17","Statement":[
		{"Sid":"Everything","Effect":"Allow","Action":"ecr:*","Resource":"*"},
		{"Sid":"NoProdDeletes","Effect":"Deny","Action":"ecr:BatchDeleteImage","Resource":"arn:aws:ecr:*:*:repository/prod/*"}]}`))
	_, err = devECR.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("prod/app"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	user := "arn:aws:iam::" + testAccount + ":user/dev"
	wantAPIError(t, "BatchDeleteImage in prod", err, "AccessDeniedException", 403,
		"User: "+user+" is not authorized to perform: ecr:BatchDeleteImage on resource: "+repoARN(testAccount, "prod/app")+" with an explicit deny in an identity-based policy")
	encoded := encodedOf(t, err)
	if len(encoded) > 1500 {
		t.Errorf("the encoded message is %d characters", len(encoded))
	}

	// dev may not decode; the root may.
	_, err = devSTS.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String(encoded)})
	wantCode(t, "dev decodes", err, "AccessDenied", "User: "+user+" is not authorized to perform: sts:DecodeAuthorizationMessage on resource: * because no identity-based policy allows the sts:DecodeAuthorizationMessage action")
	out, err := rootSTS.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String(encoded)})
	ecrMust(t, "DecodeAuthorizationMessage", err)
	var d decodedMessage
	if err := json.Unmarshal([]byte(aws.ToString(out.DecodedMessage)), &d); err != nil {
		t.Fatalf("the decoded message is not JSON: %v\n%s", err, aws.ToString(out.DecodedMessage))
	}
	m := d.MatchedStatements.Items
	if d.Allowed || !d.ExplicitDeny || len(m) == 0 || m[0].Effect != "DENY" || m[0].StatementID != "NoProdDeletes" || m[0].Policy != "inline" ||
		m[0].PolicyType != "identity-based" || m[0].StatementIndex != 2 {
		t.Errorf("decoded %s", aws.ToString(out.DecodedMessage))
	}
	if c := d.Context; c.Action != "ecr:BatchDeleteImage" || c.Resource != repoARN(testAccount, "prod/app") || c.Principal.ARN != user || c.Principal.Name != "dev" ||
		!strings.HasPrefix(c.Principal.ID, "AIDA") {
		t.Errorf("decoded context %+v", c)
	}

	// Without a statement that allows, the failure says which side: here
	// the denial of a user without policies that tries to decode.
	_, _, nobodySTS := clientsFor(e, newUser(t, rootIAM, "nobody", ""))
	_, err = nobodySTS.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String("not-a-message")})
	out, err = rootSTS.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String(encodedOf(t, err))})
	ecrMust(t, "decoding an implicit deny", err)
	if err := json.Unmarshal([]byte(aws.ToString(out.DecodedMessage)), &d); err != nil || d.ExplicitDeny || len(d.Failures.Items) != 1 ||
		d.Failures.Items[0].Value != "no identity-based policy allows the sts:DecodeAuthorizationMessage action" {
		t.Errorf("decoded an implicit deny: %s", aws.ToString(out.DecodedMessage))
	}

	// Another account cannot read this one's; garbage is refused.
	_, _, otherSTS := clientsFor(e, static(newAccountKey(t, e, "210987654321")))
	_, err = otherSTS.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String(encoded)})
	wantCode(t, "another account decodes", err, "InvalidAuthorizationMessageException", "")
	_, err = rootSTS.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String("garbage")})
	wantCode(t, "garbage", err, "InvalidAuthorizationMessageException", "")
	noServerErrors(t, e)
}
