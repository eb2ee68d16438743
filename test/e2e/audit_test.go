package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

func cloudTrailClient(e *ecrd, creds aws.CredentialsProvider) *cloudtrail.Client {
	// LookupEvents only reads: the SDK's default retryer, as users have
	// it, which retries a read on a connection the client's own transport
	// closed under it (aws/aws-sdk-go-v2#2737).
	return cloudtrail.New(cloudtrail.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds})
}

// ctRecord is the part of a CloudTrail record the tests read.
type ctRecord struct {
	EventName    string `json:"eventName"`
	EventSource  string `json:"eventSource"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	ReadOnly     bool   `json:"readOnly"`
	RequestID    string `json:"requestID"`
	EventID      string `json:"eventID"`
	UserAgent    string `json:"userAgent"`
	SourceIP     string `json:"sourceIPAddress"`
	Recipient    string `json:"recipientAccountId"`
	UserIdentity struct {
		Type           string `json:"type"`
		ARN            string `json:"arn"`
		UserName       string `json:"userName"`
		AccessKeyID    string `json:"accessKeyId"`
		SessionContext *struct {
			SessionIssuer struct {
				Type string `json:"type"`
				ARN  string `json:"arn"`
			} `json:"sessionIssuer"`
			Attributes struct {
				CreationDate     string `json:"creationDate"`
				MFAAuthenticated string `json:"mfaAuthenticated"`
			} `json:"attributes"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RequestParameters map[string]any `json:"requestParameters"`
}

func parseRecord(t *testing.T, e cttypes.Event) ctRecord {
	t.Helper()
	var r ctRecord
	if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &r); err != nil {
		t.Fatalf("CloudTrailEvent %q: %v", aws.ToString(e.CloudTrailEvent), err)
	}
	if r.EventID != aws.ToString(e.EventId) || r.EventName != aws.ToString(e.EventName) {
		t.Errorf("event %s/%s carries record %s/%s", aws.ToString(e.EventId), aws.ToString(e.EventName), r.EventID, r.EventName)
	}
	return r
}

// lookup pages through LookupEvents with one attribute.
func lookup(t *testing.T, c *cloudtrail.Client, key cttypes.LookupAttributeKey, value string) []cttypes.Event {
	t.Helper()
	in := &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: aws.String(value)}}}
	var all []cttypes.Event
	pages := cloudtrail.NewLookupEventsPaginator(c, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		ecrMust(t, "LookupEvents", err)
		all = append(all, page.Events...)
	}
	return all
}

// eventually looks up until match finds what it wants: changes reach the
// trail through the outbox's feed, reads through the writer.
func eventually(t *testing.T, what string, c *cloudtrail.Client, key cttypes.LookupAttributeKey, value string, match func([]cttypes.Event) bool) []cttypes.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		events := lookup(t, c, key, value)
		if match(events) {
			return events
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range events {
				names = append(names, aws.ToString(e.EventName)+"/"+aws.ToString(e.Username))
			}
			t.Fatalf("%s: the trail does not show it: %v", what, names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasEvent(t *testing.T, events []cttypes.Event, name, user string) bool {
	for _, e := range events {
		if aws.ToString(e.EventName) == name && aws.ToString(e.Username) == user {
			return true
		}
	}
	return false
}

func auditPassword(t *testing.T, c *ecr.Client) string {
	t.Helper()
	out, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "GetAuthorizationToken", err)
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(raw), ":")
	return password
}

// TestAuditTrail: pushes and pulls by a docker-less client, a lifecycle
// policy change, an assumed role's call and a denied call are each in the
// trail once, with their principal, as LookupEvents, the AWS CLI and
// ecrd audit export show them.
func TestAuditTrail(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	rootECR, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	rootCT := cloudTrailClient(e, static(testAccessKey, testSecret))
	_, err := rootECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("audit/app")})
	ecrMust(t, "CreateRepository", err)

	// A user with no permissions is denied a registry token.
	nobodyECR, _, _ := clientsFor(e, newUser(t, rootIAM, "nobody", ""))
	_, err = nobodyECR.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err == nil {
		t.Fatal("GetAuthorizationToken without permissions succeeded")
	}

	// A developer pushes and pulls with go-containerregistry.
	devCreds := newUser(t, rootIAM, "dev", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:*","sts:AssumeRole"],"Resource":"*"}]}`)
	devKey, _ := devCreds.Retrieve(ctx)
	devECR, _, devSTS := clientsFor(e, devCreds)
	ref, err := name.ParseReference(e.Addr+"/audit/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: auditPassword(t, devECR)})
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatalf("push: %v", err)
	}
	pulled, err := remote.Image(ref, auth)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	layers, _ := pulled.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}

	// The root changes the repository's lifecycle policy.
	_, err = rootECR.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("audit/app"),
		LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`)})
	ecrMust(t, "PutLifecyclePolicy", err)

	// The developer assumes a role and lists repositories with it.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("auditor"), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole", err)
	_, err = rootIAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("auditor"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:DescribeRepositories","cloudtrail:LookupEvents"],"Resource":"*"}]}`)})
	ecrMust(t, "PutRolePolicy", err)
	assumed, err := devSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("audit-session")})
	ecrMust(t, "AssumeRole", err)
	k := assumed.Credentials
	sess := credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken))
	roleECR, _, _ := clientsFor(e, sess)
	_, err = roleECR.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories as the role", err)

	t.Run("denied call", func(t *testing.T) {
		events := eventually(t, "the denied GetAuthorizationToken", rootCT, cttypes.LookupAttributeKeyEventName, "GetAuthorizationToken",
			func(ev []cttypes.Event) bool { return hasEvent(t, ev, "GetAuthorizationToken", "nobody") })
		for _, ev := range events {
			if aws.ToString(ev.Username) != "nobody" {
				continue
			}
			r := parseRecord(t, ev)
			if r.ErrorCode != "AccessDenied" || !strings.Contains(r.ErrorMessage, "user/nobody is not authorized") ||
				r.UserIdentity.Type != "IAMUser" || r.UserIdentity.ARN != "arn:aws:iam::"+testAccount+":user/nobody" ||
				r.EventSource != "ecr.amazonaws.com" || r.RequestID == "" || r.SourceIP != "127.0.0.1" || r.UserAgent == "" {
				t.Errorf("the denied call's record: %+v", r)
			}
		}
	})

	t.Run("push and pull", func(t *testing.T) {
		events := eventually(t, "the push and pull", rootCT, cttypes.LookupAttributeKeyUsername, "dev", func(ev []cttypes.Event) bool {
			for _, n := range []string{"InitiateLayerUpload", "CompleteLayerUpload", "PutImage", "BatchGetImage", "GetDownloadUrlForLayer"} {
				if !hasEvent(t, ev, n, "dev") {
					return false
				}
			}
			return true
		})
		puts := 0
		for _, ev := range events {
			r := parseRecord(t, ev)
			if r.UserIdentity.Type != "IAMUser" || r.UserIdentity.UserName != "dev" || r.Recipient != testAccount {
				t.Errorf("%s: userIdentity %+v", r.EventName, r.UserIdentity)
			}
			switch r.EventName {
			case "PutImage":
				puts++
				if r.UserIdentity.AccessKeyID != "" {
					t.Errorf("PutImage through /v2 names an access key: %+v", r.UserIdentity)
				}
				if len(ev.Resources) != 1 || aws.ToString(ev.Resources[0].ResourceName) != "audit/app" ||
					aws.ToString(ev.Resources[0].ResourceType) != "AWS::ECR::Repository" || aws.ToString(ev.ReadOnly) != "false" {
					t.Errorf("PutImage resources %+v", ev.Resources)
				}
			case "GetAuthorizationToken":
				if r.UserIdentity.AccessKeyID != devKey.AccessKeyID || aws.ToString(ev.AccessKeyId) != devKey.AccessKeyID {
					t.Errorf("GetAuthorizationToken's access key %q, want %s", r.UserIdentity.AccessKeyID, devKey.AccessKeyID)
				}
			case "BatchGetImage":
				if !r.ReadOnly || r.RequestParameters["repositoryName"] != "audit/app" {
					t.Errorf("BatchGetImage record %+v", r)
				}
			}
		}
		// The push's record comes from the outbox, written with the image:
		// once, not again from the request.
		if puts != 1 {
			t.Errorf("%d PutImage records, want 1", puts)
		}
	})

	t.Run("lifecycle policy change", func(t *testing.T) {
		events := eventually(t, "PutLifecyclePolicy", rootCT, cttypes.LookupAttributeKeyResourceName, "audit/app",
			func(ev []cttypes.Event) bool { return hasEvent(t, ev, "PutLifecyclePolicy", "root") })
		n := 0
		for _, ev := range events {
			if aws.ToString(ev.EventName) == "PutLifecyclePolicy" {
				n++
				if r := parseRecord(t, ev); r.UserIdentity.Type != "Root" || r.UserIdentity.AccessKeyID != testAccessKey ||
					r.RequestParameters["lifecyclePolicyText"] == nil || r.RequestID == "" {
					t.Errorf("PutLifecyclePolicy record %+v", r)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d PutLifecyclePolicy records, want 1", n)
		}
	})

	t.Run("assumed role", func(t *testing.T) {
		events := eventually(t, "the role's DescribeRepositories", rootCT, cttypes.LookupAttributeKeyUsername, "audit-session",
			func(ev []cttypes.Event) bool { return hasEvent(t, ev, "DescribeRepositories", "audit-session") })
		r := parseRecord(t, events[0])
		sc := r.UserIdentity.SessionContext
		if r.UserIdentity.Type != "AssumedRole" || r.UserIdentity.ARN != "arn:aws:sts::"+testAccount+":assumed-role/auditor/audit-session" ||
			sc == nil || sc.SessionIssuer.Type != "Role" || sc.SessionIssuer.ARN != aws.ToString(role.Role.Arn) ||
			sc.Attributes.CreationDate == "" || sc.Attributes.MFAAuthenticated != "false" ||
			r.UserIdentity.AccessKeyID != aws.ToString(k.AccessKeyId) {
			t.Errorf("the role's record: %+v (session %+v)", r.UserIdentity, sc)
		}
		// The role's policy lets it read the trail too.
		if got := lookup(t, cloudTrailClient(e, sess), cttypes.LookupAttributeKeyEventName, "PutLifecyclePolicy"); len(got) != 1 {
			t.Errorf("the role looks up %d PutLifecyclePolicy records, want 1", len(got))
		}
	})

	t.Run("paging and time ranges", func(t *testing.T) {
		all := lookup(t, rootCT, cttypes.LookupAttributeKeyUsername, "dev")
		var paged []string
		in := &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(3),
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("dev")}}}
		pages := 0
		for p := cloudtrail.NewLookupEventsPaginator(rootCT, in); p.HasMorePages(); pages++ {
			page, err := p.NextPage(ctx)
			ecrMust(t, "LookupEvents page", err)
			if len(page.Events) > 3 {
				t.Fatalf("a page of %d events, MaxResults 3", len(page.Events))
			}
			for _, ev := range page.Events {
				paged = append(paged, aws.ToString(ev.EventId))
			}
		}
		if len(all) < 6 || len(paged) != len(all) || pages < 2 {
			t.Fatalf("%d events in %d pages, %d at once", len(paged), pages, len(all))
		}
		for i := range all {
			if paged[i] != aws.ToString(all[i].EventId) {
				t.Fatalf("page order differs at %d", i)
			}
			if i > 0 && all[i].EventTime.After(*all[i-1].EventTime) {
				t.Errorf("event %d is newer than the one before: not newest first", i)
			}
		}
		future := time.Now().Add(time.Hour)
		out, err := rootCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: &future})
		ecrMust(t, "LookupEvents in the future", err)
		if len(out.Events) != 0 {
			t.Errorf("%d events after an hour from now", len(out.Events))
		}
		out, err = rootCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(start), EndTime: aws.Time(time.Now()),
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateRepository")}}})
		ecrMust(t, "LookupEvents in the test's time", err)
		if len(out.Events) != 1 {
			t.Errorf("%d CreateRepository events in the test's time, want 1", len(out.Events))
		}
		before := start.Add(-time.Hour)
		out, err = rootCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EndTime: &before})
		ecrMust(t, "LookupEvents before the start", err)
		if len(out.Events) != 0 {
			t.Errorf("%d events before the server started", len(out.Events))
		}
	})

	t.Run("errors", func(t *testing.T) {
		attr := func(k cttypes.LookupAttributeKey, v string) cttypes.LookupAttribute {
			return cttypes.LookupAttribute{AttributeKey: k, AttributeValue: aws.String(v)}
		}
		now := time.Now()
		for _, c := range []struct {
			what string
			in   *cloudtrail.LookupEventsInput
			code string
		}{
			{"two attributes", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
				attr(cttypes.LookupAttributeKeyEventName, "PutImage"), attr(cttypes.LookupAttributeKeyUsername, "dev")}}, "InvalidLookupAttributesException"},
			{"an unknown attribute", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{attr("Color", "red")}}, "InvalidLookupAttributesException"},
			{"ReadOnly maybe", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{attr(cttypes.LookupAttributeKeyReadOnly, "maybe")}}, "InvalidLookupAttributesException"},
			{"start after end", &cloudtrail.LookupEventsInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Minute))}, "InvalidTimeRangeException"},
			{"MaxResults 51", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
			{"MaxResults 0", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
			{"a made-up token", &cloudtrail.LookupEventsInput{NextToken: aws.String("bm90IGEgdG9rZW4")}, "InvalidNextTokenException"},
		} {
			_, err := rootCT.LookupEvents(ctx, c.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
				t.Errorf("%s: %v, want %s", c.what, err, c.code)
			}
		}
		// A token is for the query that gave it.
		out, err := rootCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
		ecrMust(t, "LookupEvents", err)
		_, err = rootCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: out.NextToken,
			LookupAttributes: []cttypes.LookupAttribute{attr(cttypes.LookupAttributeKeyEventName, "PutImage")}})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidNextTokenException" {
			t.Errorf("another query's token: %v", err)
		}
		// A user whose policies do not allow cloudtrail:LookupEvents is
		// denied.
		_, err = cloudTrailClient(e, newUser(t, rootIAM, "curious", "")).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), "cloudtrail:LookupEvents") {
			t.Errorf("LookupEvents without permission: %v", err)
		}
	})

	t.Run("aws cli", func(t *testing.T) {
		cli := awsCLI(t)
		cmd := exec.Command(cli, "--endpoint-url", e.URL(), "--region", testRegion, "--output", "json", "cloudtrail", "lookup-events",
			"--lookup-attributes", "AttributeKey=EventName,AttributeValue=GetAuthorizationToken")
		cmd.Env = append(cleanEnv(), "HOME="+t.TempDir(), "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws cloudtrail lookup-events: %v\n%s", err, out)
		}
		var answer struct{ Events []cttypes.Event }
		if err := json.Unmarshal(out, &answer); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		denied := false
		for _, ev := range answer.Events {
			r := parseRecord(t, ev)
			if r.UserIdentity.ARN == "arn:aws:iam::"+testAccount+":user/nobody" && r.ErrorCode == "AccessDenied" {
				denied = true
			}
		}
		if !denied {
			t.Errorf("the AWS CLI does not show nobody's denied call: %s", out)
		}
	})

	t.Run("export", func(t *testing.T) {
		cmd := exec.Command(ecrdtest.Bin(), "audit", "export", "--endpoint-url", e.URL(), "--region", testRegion,
			"--since", start.UTC().Format(time.RFC3339), "--until", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		cmd.Env = append(cleanEnv(), "HOME="+t.TempDir(), "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ecrd audit export: %v: %s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		seen := map[string]int{}
		ids := map[string]bool{}
		for _, l := range lines {
			var r ctRecord
			if err := json.Unmarshal([]byte(l), &r); err != nil || r.EventID == "" {
				t.Fatalf("line %q: %v", l, err)
			}
			if ids[r.EventID] {
				t.Errorf("event %s exported twice", r.EventID)
			}
			ids[r.EventID] = true
			seen[r.EventName]++
		}
		for _, n := range []string{"CreateRepository", "PutImage", "PutLifecyclePolicy", "GetAuthorizationToken", "AssumeRole", "CreateRole"} {
			if seen[n] == 0 {
				t.Errorf("the export has no %s record (%d lines)", n, len(lines))
			}
		}
		// Nothing before the start.
		cmd = exec.Command(ecrdtest.Bin(), "audit", "export", "--endpoint-url", e.URL(), "--until", start.Add(-time.Hour).UTC().Format(time.RFC3339))
		cmd.Env = append(cleanEnv(), "HOME="+t.TempDir(), "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret)
		if out, err := cmd.Output(); err != nil || len(out) != 0 {
			t.Errorf("export before the start: %v, %q", err, out)
		}
	})
	noServerErrors(t, e)
}
