package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// eventsClient returns an EventBridge client of the server signed with
// creds, which does not retry.
func eventsClient(e *ecrd, creds aws.CredentialsProvider) *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()})
}

// rawEvents sends a signed EventBridge request by hand and returns the
// answer as sent, to look at every byte of it.
func rawEvents(t *testing.T, e *ecrd, target string, body any) httpAnswer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, e.URL()+"/", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents."+target)
	sum := sha256.Sum256(b)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "events", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return ecrDo(t, http.DefaultClient, req)
}

// The pattern of the automated response: ECR scans that found
// critical vulnerabilities.
const criticalScanPattern = `{"source":["aws.ecr"],"detail-type":["ECR Image Scan"],"detail":{"scan-status":["COMPLETE"]}}`

// TestEventBridgeSDK runs every EventBridge operation ecrd serves with
// aws-sdk-go-v2, and the errors EventBridge answers, as the account's
// root and as a user without permissions.
func TestEventBridgeSDK(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	c := eventsClient(e, static(testAccessKey, testSecret))
	const apiKey, password, clientSecret, headerSecret = "k3y-value-never-answered", "pa55-never-answered", "cl1ent-secret-never-answered", "h3ader-secret-never-answered"

	// Connections, their secrets sealed and never answered.
	cc, err := c.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("hooks"), Description: aws.String("webhook receiver"),
		AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{
			ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String(apiKey)},
			InvocationHttpParameters: &ebtypes.ConnectionHttpParameters{HeaderParameters: []ebtypes.ConnectionHeaderParameter{
				{Key: aws.String("X-Team"), Value: aws.String("platform")},
				{Key: aws.String("X-Signature"), Value: aws.String(headerSecret), IsValueSecret: true}}}}})
	ecrMust(t, "CreateConnection", err)
	connARN := aws.ToString(cc.ConnectionArn)
	if !strings.HasPrefix(connARN, "arn:aws:events:"+testRegion+":"+testAccount+":connection/hooks/") || cc.ConnectionState != ebtypes.ConnectionStateAuthorized {
		t.Errorf("CreateConnection = %s %s", connARN, cc.ConnectionState)
	}
	dc, err := c.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("hooks")})
	ecrMust(t, "DescribeConnection", err)
	if aws.ToString(dc.ConnectionArn) != connARN || aws.ToString(dc.Name) != "hooks" || dc.ConnectionState != ebtypes.ConnectionStateAuthorized ||
		dc.AuthorizationType != ebtypes.ConnectionAuthorizationTypeApiKey || aws.ToString(dc.AuthParameters.ApiKeyAuthParameters.ApiKeyName) != "X-Api-Key" ||
		!strings.HasPrefix(aws.ToString(dc.SecretArn), "arn:aws:secretsmanager:"+testRegion+":"+testAccount+":secret:events!connection/hooks/") ||
		aws.ToString(dc.Description) != "webhook receiver" {
		t.Errorf("DescribeConnection = %+v", dc)
	}
	hp := dc.AuthParameters.InvocationHttpParameters
	if hp == nil || len(hp.HeaderParameters) != 2 || aws.ToString(hp.HeaderParameters[0].Value) != "platform" || hp.HeaderParameters[1].Value != nil || !hp.HeaderParameters[1].IsValueSecret {
		t.Errorf("DescribeConnection InvocationHttpParameters = %+v", hp)
	}
	_, err = c.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("basic"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeBasic,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{BasicAuthParameters: &ebtypes.CreateConnectionBasicAuthRequestParameters{Username: aws.String("ci"), Password: aws.String(password)}}})
	ecrMust(t, "CreateConnection BASIC", err)
	_, err = c.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("oauth"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeOauthClientCredentials,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{OAuthParameters: &ebtypes.CreateConnectionOAuthRequestParameters{
			AuthorizationEndpoint: aws.String("https://auth.example.com/token"), HttpMethod: ebtypes.ConnectionOAuthHttpMethodPost,
			ClientParameters: &ebtypes.CreateConnectionOAuthClientRequestParameters{ClientID: aws.String("ecrd"), ClientSecret: aws.String(clientSecret)}}}})
	ecrMust(t, "CreateConnection OAUTH_CLIENT_CREDENTIALS", err)
	_, err = c.UpdateConnection(ctx, &eventbridge.UpdateConnectionInput{Name: aws.String("basic"), Description: aws.String("changed"),
		AuthParameters: &ebtypes.UpdateConnectionAuthRequestParameters{BasicAuthParameters: &ebtypes.UpdateConnectionBasicAuthRequestParameters{Password: aws.String(password + "2")}}})
	ecrMust(t, "UpdateConnection", err)
	for _, name := range []string{"hooks", "basic", "oauth"} {
		a := rawEvents(t, e, "DescribeConnection", map[string]string{"Name": name})
		for _, secret := range []string{apiKey, password, clientSecret, headerSecret} {
			if a.Status != http.StatusOK || bytes.Contains(a.Body, []byte(secret)) || bytes.Contains(a.Body, []byte("sealed")) {
				t.Errorf("DescribeConnection %s answered %d %s", name, a.Status, a.Body)
			}
		}
	}
	a := rawEvents(t, e, "ListConnections", map[string]string{})
	if a.Status != http.StatusOK || bytes.Contains(a.Body, []byte(password)) {
		t.Errorf("ListConnections answered %d %s", a.Status, a.Body)
	}
	lc, err := c.ListConnections(ctx, &eventbridge.ListConnectionsInput{NamePrefix: aws.String("o")})
	ecrMust(t, "ListConnections", err)
	if len(lc.Connections) != 1 || aws.ToString(lc.Connections[0].Name) != "oauth" {
		t.Errorf("ListConnections NamePrefix o = %+v", lc.Connections)
	}
	_, err = c.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("hooks"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeBasic,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{BasicAuthParameters: &ebtypes.CreateConnectionBasicAuthRequestParameters{Username: aws.String("u"), Password: aws.String("p")}}})
	wantAPIError(t, "CreateConnection again", err, "ResourceAlreadyExistsException", 400, "Connection hooks already exists.")
	_, err = c.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("nope")})
	wantAPIError(t, "DescribeConnection of none", err, "ResourceNotFoundException", 400, "Failed to describe the connection(s). Connection 'nope' does not exist.")

	// API destinations.
	cd, err := c.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("quarantine"), ConnectionArn: aws.String(connARN),
		InvocationEndpoint: aws.String("https://hooks.example.com/ecr"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	ecrMust(t, "CreateApiDestination", err)
	destARN := aws.ToString(cd.ApiDestinationArn)
	if !strings.HasPrefix(destARN, "arn:aws:events:"+testRegion+":"+testAccount+":api-destination/quarantine/") || cd.ApiDestinationState != ebtypes.ApiDestinationStateActive {
		t.Errorf("CreateApiDestination = %s %s", destARN, cd.ApiDestinationState)
	}
	dd, err := c.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String("quarantine")})
	ecrMust(t, "DescribeApiDestination", err)
	if aws.ToInt32(dd.InvocationRateLimitPerSecond) != 300 || aws.ToString(dd.ConnectionArn) != connARN || dd.HttpMethod != ebtypes.ApiDestinationHttpMethodPost {
		t.Errorf("DescribeApiDestination = %+v", dd)
	}
	_, err = c.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{Name: aws.String("quarantine"), InvocationRateLimitPerSecond: aws.Int32(10)})
	ecrMust(t, "UpdateApiDestination", err)
	ld, err := c.ListApiDestinations(ctx, &eventbridge.ListApiDestinationsInput{ConnectionArn: aws.String(connARN)})
	ecrMust(t, "ListApiDestinations", err)
	if len(ld.ApiDestinations) != 1 || aws.ToInt32(ld.ApiDestinations[0].InvocationRateLimitPerSecond) != 10 {
		t.Errorf("ListApiDestinations = %+v", ld.ApiDestinations)
	}
	_, err = c.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("quarantine"), ConnectionArn: aws.String(connARN),
		InvocationEndpoint: aws.String("https://hooks.example.com/ecr"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	wantAPIError(t, "CreateApiDestination again", err, "ResourceAlreadyExistsException", 400, "An api-destination 'quarantine' already exists.")
	_, err = c.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("other"), ConnectionArn: aws.String(strings.Replace(connARN, "/hooks/", "/gone/", 1)),
		InvocationEndpoint: aws.String("https://hooks.example.com/ecr"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	wantAPIError(t, "CreateApiDestination of no connection", err, "ResourceNotFoundException", 400, "Failed to describe the connection(s). Connection 'gone' does not exist.")
	_, err = c.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{Name: aws.String("quarantine"), InvocationRateLimitPerSecond: aws.Int32(301)})
	wantAPIError(t, "UpdateApiDestination rate 301", err, "ValidationException", 400,
		"1 validation error detected: Value '301' at 'invocationRateLimitPerSecond' failed to satisfy constraint: Member must have value less than or equal to 300")
	_, err = c.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String("nope")})
	wantAPIError(t, "DescribeApiDestination of none", err, "ResourceNotFoundException", 400, "Failed to describe the api-destination(s). An api-destination 'nope' does not exist.")

	// Rules.
	pr, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("critical-findings"), EventPattern: aws.String(criticalScanPattern),
		Description: aws.String("scans with critical findings"), Tags: []ebtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}})
	ecrMust(t, "PutRule", err)
	ruleARN := "arn:aws:events:" + testRegion + ":" + testAccount + ":rule/critical-findings"
	if aws.ToString(pr.RuleArn) != ruleARN {
		t.Errorf("PutRule RuleArn = %s", aws.ToString(pr.RuleArn))
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("Critical-Findings"), EventPattern: aws.String(criticalScanPattern), EventBusName: aws.String("default")})
	ecrMust(t, "PutRule of a name differing in case", err)
	dr, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("critical-findings")})
	ecrMust(t, "DescribeRule", err)
	if aws.ToString(dr.Arn) != ruleARN || aws.ToString(dr.EventPattern) != criticalScanPattern || dr.State != ebtypes.RuleStateEnabled ||
		aws.ToString(dr.EventBusName) != "default" || aws.ToString(dr.Description) != "scans with critical findings" {
		t.Errorf("DescribeRule = %+v", dr)
	}
	var names []string
	var token *string
	for {
		lr, err := c.ListRules(ctx, &eventbridge.ListRulesInput{Limit: aws.Int32(1), NextToken: token})
		ecrMust(t, "ListRules", err)
		for _, r := range lr.Rules {
			names = append(names, aws.ToString(r.Name))
		}
		if token = lr.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "Critical-Findings,critical-findings" {
		t.Errorf("ListRules paged = %v", names)
	}
	lr, err := c.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("crit")})
	ecrMust(t, "ListRules NamePrefix", err)
	if len(lr.Rules) != 1 || aws.ToString(lr.Rules[0].Name) != "critical-findings" {
		t.Errorf("ListRules NamePrefix crit = %+v", lr.Rules)
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"aws.ecr"}`)})
	wantAPIError(t, "PutRule bad pattern", err, "InvalidEventPatternException", 400, "")
	wantMessagePrefix(t, "PutRule bad pattern", err, "Event pattern is not valid. Reason: ")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("nightly"), ScheduleExpression: aws.String("rate(1 day)")})
	wantAPIError(t, "PutRule schedule", err, "ValidationException", 400, "Parameter ScheduleExpression is not valid. Reason: ecrd does not run scheduled rules; give an EventPattern instead.")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("nothing")})
	wantAPIError(t, "PutRule without pattern", err, "ValidationException", 400, "Parameter(s) EventPattern or ScheduleExpression must be specified.")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("x"), EventPattern: aws.String(criticalScanPattern), EventBusName: aws.String("custom")})
	wantAPIError(t, "PutRule on another bus", err, "ResourceNotFoundException", 400, "Event bus custom does not exist.")
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad name!"), EventPattern: aws.String(criticalScanPattern)})
	wantAPIError(t, "PutRule bad name", err, "ValidationException", 400,
		`1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	a = rawEvents(t, e, "PutRule", map[string]string{"EventPattern": criticalScanPattern})
	wantRawError(t, "PutRule without Name", a, 400, "ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	_, err = c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("nope")})
	wantAPIError(t, "DescribeRule of none", err, "ResourceNotFoundException", 400, "Rule nope does not exist on EventBus default.")
	_, err = c.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("critical-findings")})
	ecrMust(t, "DisableRule", err)
	if dr, _ := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("critical-findings")}); dr == nil || dr.State != ebtypes.RuleStateDisabled {
		t.Errorf("DescribeRule after DisableRule = %+v", dr)
	}
	_, err = c.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("critical-findings")})
	ecrMust(t, "EnableRule", err)
	_, err = c.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("nope")})
	wantAPIError(t, "EnableRule of none", err, "ResourceNotFoundException", 400, "Rule nope does not exist on EventBus default.")

	// Targets.
	pt, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("critical-findings"), Targets: []ebtypes.Target{
		{Id: aws.String("quarantine"), Arn: aws.String(destARN),
			InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"repo": "$.detail.repository-name"}, InputTemplate: aws.String(`{"repository": <repo>}`)},
			RetryPolicy:      &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(10), MaximumEventAgeInSeconds: aws.Int32(3600)},
			HttpParameters:   &ebtypes.HttpParameters{HeaderParameters: map[string]string{"X-Source": "ecrd"}}},
		{Id: aws.String("queue"), Arn: aws.String("arn:aws:sqs:" + testRegion + ":" + testAccount + ":findings")},
	}})
	ecrMust(t, "PutTargets", err)
	if pt.FailedEntryCount != 1 || len(pt.FailedEntries) != 1 || aws.ToString(pt.FailedEntries[0].TargetId) != "queue" ||
		aws.ToString(pt.FailedEntries[0].ErrorCode) != "ValidationException" || !strings.Contains(aws.ToString(pt.FailedEntries[0].ErrorMessage), "only to API destinations") {
		t.Errorf("PutTargets = %d %+v", pt.FailedEntryCount, pt.FailedEntries)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"), Targets: []ebtypes.Target{{Id: aws.String("a"), Arn: aws.String(destARN)}}})
	wantAPIError(t, "PutTargets of no rule", err, "ResourceNotFoundException", 400, "Rule nope does not exist on EventBus default.")
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("critical-findings"), Targets: []ebtypes.Target{{Id: aws.String("a"), Arn: aws.String(destARN),
		Input: aws.String("{}"), InputPath: aws.String("$.detail")}}})
	wantAPIError(t, "PutTargets with Input and InputPath", err, "ValidationException", 400, "Only one of Input, InputPath, or InputTransformer must be provided.")
	lt, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("critical-findings")})
	ecrMust(t, "ListTargetsByRule", err)
	if len(lt.Targets) != 1 || aws.ToString(lt.Targets[0].Arn) != destARN || aws.ToInt32(lt.Targets[0].RetryPolicy.MaximumRetryAttempts) != 10 ||
		aws.ToString(lt.Targets[0].InputTransformer.InputTemplate) != `{"repository": <repo>}` || lt.Targets[0].HttpParameters.HeaderParameters["X-Source"] != "ecrd" {
		t.Errorf("ListTargetsByRule = %+v", lt.Targets)
	}
	ln, err := c.ListRuleNamesByTarget(ctx, &eventbridge.ListRuleNamesByTargetInput{TargetArn: aws.String(destARN)})
	ecrMust(t, "ListRuleNamesByTarget", err)
	if len(ln.RuleNames) != 1 || ln.RuleNames[0] != "critical-findings" {
		t.Errorf("ListRuleNamesByTarget = %v", ln.RuleNames)
	}
	_, err = c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("critical-findings")})
	wantAPIError(t, "DeleteRule with targets", err, "ValidationException", 400, "Rule can't be deleted since it has targets.")

	// Tags.
	_, err = c.TagResource(ctx, &eventbridge.TagResourceInput{ResourceARN: aws.String(ruleARN), Tags: []ebtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	ecrMust(t, "TagResource", err)
	_, err = c.UntagResource(ctx, &eventbridge.UntagResourceInput{ResourceARN: aws.String(ruleARN), TagKeys: []string{"team"}})
	ecrMust(t, "UntagResource", err)
	lt2, err := c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: aws.String(ruleARN)})
	ecrMust(t, "ListTagsForResource", err)
	if len(lt2.Tags) != 1 || aws.ToString(lt2.Tags[0].Key) != "env" || aws.ToString(lt2.Tags[0].Value) != "prod" {
		t.Errorf("ListTagsForResource = %+v", lt2.Tags)
	}
	_, err = c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: aws.String(ruleARN + "-gone")})
	wantAPIError(t, "ListTagsForResource of no rule", err, "ResourceNotFoundException", 400, "Rule critical-findings-gone does not exist on EventBus default.")

	// Patterns and events.
	event := `{"id":"1","account":"` + testAccount + `","source":"aws.ecr","time":"2026-01-01T00:00:00Z","region":"` + testRegion +
		`","detail-type":"ECR Image Scan","detail":{"scan-status":"COMPLETE"}}`
	tp, err := c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(criticalScanPattern), Event: aws.String(event)})
	ecrMust(t, "TestEventPattern", err)
	if !tp.Result {
		t.Errorf("TestEventPattern of a matching event = false")
	}
	tp, err = c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":["aws.kms"]}`), Event: aws.String(event)})
	ecrMust(t, "TestEventPattern", err)
	if tp.Result {
		t.Errorf("TestEventPattern of another source = true")
	}
	_, err = c.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(criticalScanPattern), Event: aws.String(`{"source":"aws.ecr"}`)})
	wantAPIError(t, "TestEventPattern of an incomplete event", err, "ValidationException", 400, "Parameter Event is not valid.")
	pe, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("com.example.ci"), DetailType: aws.String("Deployment"), Detail: aws.String(`{"image":"app:v1"}`)},
		{Source: aws.String("aws.ecr"), DetailType: aws.String("ECR Image Scan"), Detail: aws.String(`{}`)},
		{Source: aws.String("com.example.ci"), DetailType: aws.String("Deployment"), Detail: aws.String(`[1]`)},
	}})
	ecrMust(t, "PutEvents", err)
	if pe.FailedEntryCount != 2 || len(pe.Entries) != 3 || len(aws.ToString(pe.Entries[0].EventId)) != 36 ||
		aws.ToString(pe.Entries[1].ErrorCode) != "NotAuthorizedForSourceException" || aws.ToString(pe.Entries[2].ErrorCode) != "MalformedDetail" {
		t.Errorf("PutEvents = %d %+v", pe.FailedEntryCount, pe.Entries)
	}
	eb, err := c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	ecrMust(t, "DescribeEventBus", err)
	if aws.ToString(eb.Arn) != "arn:aws:events:"+testRegion+":"+testAccount+":event-bus/default" {
		t.Errorf("DescribeEventBus = %s", aws.ToString(eb.Arn))
	}

	// A user with no permission is denied.
	user := eventsClient(e, newUser(t, iamClient(e), "nobody", ""))
	_, err = user.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("mine"), EventPattern: aws.String(criticalScanPattern)})
	wantAPIError(t, "PutRule of a user without permission", err, "AccessDeniedException", 400, "")
	wantMessagePrefix(t, "PutRule of a user without permission", err, "User: arn:aws:iam::"+testAccount+":user/nobody is not authorized to perform: events:PutRule on resource: arn:aws:events:"+testRegion+":"+testAccount+":rule/mine")
	_, err = user.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("hooks")})
	wantAPIError(t, "DescribeConnection of a user without permission", err, "AccessDeniedException", 400, "")

	// Deleting what the rule uses leaves the destination inactive.
	_, err = c.DeleteConnection(ctx, &eventbridge.DeleteConnectionInput{Name: aws.String("hooks")})
	ecrMust(t, "DeleteConnection", err)
	if dd, err := c.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String("quarantine")}); err != nil || dd.ApiDestinationState != ebtypes.ApiDestinationStateInactive {
		t.Errorf("DescribeApiDestination of a destination whose connection is gone = %+v, %v", dd, err)
	}
	rt, err := c.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("critical-findings"), Ids: []string{"quarantine"}})
	ecrMust(t, "RemoveTargets", err)
	if rt.FailedEntryCount != 0 {
		t.Errorf("RemoveTargets = %+v", rt.FailedEntries)
	}
	for _, name := range []string{"critical-findings", "Critical-Findings", "never-made"} {
		_, err = c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(name)})
		ecrMust(t, "DeleteRule "+name, err)
	}
	_, err = c.DeleteApiDestination(ctx, &eventbridge.DeleteApiDestinationInput{Name: aws.String("quarantine")})
	ecrMust(t, "DeleteApiDestination", err)
	_, err = c.DeleteApiDestination(ctx, &eventbridge.DeleteApiDestinationInput{Name: aws.String("quarantine")})
	wantAPIError(t, "DeleteApiDestination again", err, "ResourceNotFoundException", 400, "Failed to describe the api-destination(s). An api-destination 'quarantine' does not exist.")
	_, err = c.DeleteConnection(ctx, &eventbridge.DeleteConnectionInput{Name: aws.String("hooks")})
	wantAPIError(t, "DeleteConnection again", err, "ResourceNotFoundException", 400, "Failed to describe the connection(s). Connection 'hooks' does not exist.")
	noServerErrors(t, e)
}

// TestEventBridgeAWSCLI makes a few calls with the AWS CLI v2.
func TestEventBridgeAWSCLI(t *testing.T) {
	cli := awsCLI(t)
	e := startBareECRD(t, t.TempDir())
	env, _ := scriptEnv(t, e)
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", e.URL(), "events"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws events %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var v map[string]any
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws events %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return v
	}
	run("put-rule", "--name", "pushes", "--event-pattern", `{"source":["aws.ecr"],"detail-type":["ECR Image Action"]}`)
	rules := run("list-rules")["Rules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["Name"] != "pushes" || rules[0].(map[string]any)["State"] != "ENABLED" {
		t.Errorf("list-rules = %v", rules)
	}
	run("create-connection", "--name", "hook", "--authorization-type", "API_KEY",
		"--auth-parameters", `{"ApiKeyAuthParameters":{"ApiKeyName":"X-Key","ApiKeyValue":"cli-secret"}}`)
	if d := run("describe-connection", "--name", "hook"); d["ConnectionState"] != "AUTHORIZED" || strings.Contains(func() string { b, _ := json.Marshal(d); return string(b) }(), "cli-secret") {
		t.Errorf("describe-connection = %v", d)
	}
	got := run("test-event-pattern", "--event-pattern", `{"source":["com.example"]}`,
		"--event", `{"id":"1","account":"`+testAccount+`","source":"com.example","time":"2026-01-01T00:00:00Z","region":"`+testRegion+`","detail-type":"x","detail":{}}`)
	if got["Result"] != true {
		t.Errorf("test-event-pattern = %v", got)
	}
	cmd := exec.Command(cli, "--endpoint-url", e.URL(), "events", "describe-rule", "--name", "nope")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ResourceNotFoundException") || !strings.Contains(string(out), "Rule nope does not exist on EventBus default.") {
		t.Errorf("describe-rule of none: %v\n%s", err, out)
	}
	run("delete-rule", "--name", "pushes")
	noServerErrors(t, e)
}

// TestTerraformEvents applies testdata/terraform/events (a rule, a
// connection with an API key, an API destination and a target with an
// input transformer and a retry policy) with the real AWS provider, plans
// clean, checks what it made through the SDK, and destroys it.
func TestTerraformEvents(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	w := newTFWorkspace(t, e, "events")
	w.applyClean()
	out := w.outputs()
	if arn, _ := out["rule_arn"].(string); arn != "arn:aws:events:"+testRegion+":"+testAccount+":rule/critical-findings" {
		t.Errorf("rule_arn = %v", out["rule_arn"])
	}
	if arn, _ := out["connection_secret_arn"].(string); !strings.HasPrefix(arn, "arn:aws:secretsmanager:") {
		t.Errorf("connection_secret_arn = %v", out["connection_secret_arn"])
	}
	ctx := context.Background()
	c := eventsClient(e, static(testAccessKey, testSecret))
	lt, err := c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("critical-findings")})
	ecrMust(t, "ListTargetsByRule", err)
	if len(lt.Targets) != 1 || aws.ToString(lt.Targets[0].Arn) != out["api_destination_arn"] ||
		aws.ToInt32(lt.Targets[0].RetryPolicy.MaximumRetryAttempts) != 10 || lt.Targets[0].InputTransformer.InputPathsMap["repository"] != "$.detail.repository-name" {
		t.Errorf("the target Terraform put: %+v", lt.Targets)
	}
	if a := rawEvents(t, e, "DescribeConnection", map[string]string{"Name": "quarantine"}); bytes.Contains(a.Body, []byte("terraform-secret-api-key")) {
		t.Errorf("DescribeConnection answered the API key: %s", a.Body)
	}
	w.destroy()
	lr, err := c.ListRules(ctx, &eventbridge.ListRulesInput{})
	ecrMust(t, "ListRules", err)
	lc, err := c.ListConnections(ctx, &eventbridge.ListConnectionsInput{})
	ecrMust(t, "ListConnections", err)
	ld, err := c.ListApiDestinations(ctx, &eventbridge.ListApiDestinationsInput{})
	ecrMust(t, "ListApiDestinations", err)
	if len(lr.Rules)+len(lc.Connections)+len(ld.ApiDestinations) != 0 {
		t.Errorf("destroy left %d rules, %d connections, %d API destinations", len(lr.Rules), len(lc.Connections), len(ld.ApiDestinations))
	}
	noServerErrors(t, e)
}
