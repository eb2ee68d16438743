package events

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/identity/identitytest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
)

var (
	bg    = context.Background()
	scope = Scope{Account: acct, Region: region}
)

// guarded fails the test when asked inside a transaction.
type guarded struct {
	Authorizer
	tb testing.TB
}

func (g guarded) Authorize(ctx context.Context, c identity.Check) (iampolicy.Decision, iampolicy.Request, error) {
	metadatatest.OutsideTx(g.tb, "Authorize")
	return g.Authorizer.Authorize(ctx, c)
}

// newService is the service over a SQLite store whose write
// transactions each run twice, whose reads, logger and authorizer fail
// the test inside a transaction; and the account's root's context.
func newService(t *testing.T) (*Service, metadata.Store, context.Context) {
	t.Helper()
	meta, keys, log := identitytest.Store(t, ""), testutil.Keyring(t), identitytest.Logger(t)
	ids := identity.New(meta, keys, log)
	if _, err := ids.EnsureAccount(bg, acct); err != nil {
		t.Fatal(err)
	}
	return New(meta, keys, guarded{ids, t}, log), meta, identity.NewContext(bg, identity.Root(acct))
}

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, what string, err error, code, message string) {
	t.Helper()
	if awserr.Code(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	if message != "" && err.(*awserr.Error).Message != message {
		t.Errorf("%s: message %q, want %q", what, err.(*awserr.Error).Message, message)
	}
}

// records returns the outbox's events from after.
func records(t *testing.T, meta metadata.Store) []metadata.Event {
	t.Helper()
	es, err := meta.Events(bg, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestRulesAndDelivery makes a connection of each authorization type,
// an API destination and a rule with a target, and reads them back as
// delivery does, with the secrets unsealed; every change leaves one
// outbox record that holds no secret.
func TestRulesAndDelivery(t *testing.T) {
	s, meta, ctx := newService(t)
	before := len(records(t, meta))
	c, err := s.CreateConnection(ctx, scope, ConnectionInput{Name: "Hook", AuthorizationType: AuthOAuth, Auth: &AuthInput{
		OAuth: &OAuthInput{Endpoint: ptr("https://auth.example.com/token"), Method: ptr("POST"), ClientID: ptr("ecrd"), ClientSecret: ptr("client-secret"),
			Params: &HTTPParams{Body: []Param{{Key: "audience", Value: "hooks", Secret: true}}}},
		Invocation: &HTTPParams{Header: []Param{{Key: "X-Sig", Value: "header-secret", Secret: true}, {Key: "X-Team", Value: "platform"}},
			Query: []Param{{Key: "v", Value: "2"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sealed != nil || c.Invocation.Header[0].Value != "" {
		t.Errorf("CreateConnection answered a secret: %+v", c)
	}
	// A name differing only in case is another connection.
	if _, err := s.CreateConnection(ctx, scope, ConnectionInput{Name: "hook", AuthorizationType: AuthBasic,
		Auth: &AuthInput{Basic: &BasicInput{Username: ptr("u"), Password: ptr("password-secret")}}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateConnection(ctx, scope, ConnectionInput{Name: "Hook", AuthorizationType: AuthAPIKey, Auth: &AuthInput{APIKey: &APIKeyInput{Name: ptr("k"), Value: ptr("v")}}})
	wantCode(t, "CreateConnection again", err, CodeAlreadyExists, "Connection Hook already exists.")
	_, err = s.CreateConnection(ctx, scope, ConnectionInput{Name: "half", AuthorizationType: AuthAPIKey, Auth: &AuthInput{APIKey: &APIKeyInput{Name: ptr("k")}}})
	wantCode(t, "CreateConnection without the key's value", err, CodeValidation, "")

	d, err := s.CreateAPIDestination(ctx, scope, APIDestinationInput{Name: "dest", ConnectionARN: &c.ARN, Endpoint: ptr("http://127.0.0.1:9/hook"), Method: ptr("POST"), RateLimit: ptr(5)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateAPIDestination(ctx, scope, APIDestinationInput{Name: "ftp", ConnectionARN: &c.ARN, Endpoint: ptr("ftp://example.com/x"), Method: ptr("POST")})
	wantCode(t, "CreateApiDestination of an ftp URL", err, CodeValidation, "")

	if _, err := s.PutRule(ctx, scope, PutRuleInput{Name: "r", EventPattern: ptr(`{"source":["com.example"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRule(ctx, scope, PutRuleInput{Name: "off", EventPattern: ptr(`{"source":["com.example"]}`), State: StateDisabled}); err != nil {
		t.Fatal(err)
	}
	failed, err := s.PutTargets(ctx, scope, nil, "r", []Target{{ID: "t", ARN: d.ARN, InputPath: "$.detail",
		RetryPolicy: &RetryPolicy{MaximumRetryAttempts: ptr(3)}, HTTPParameters: &HTTPParameters{HeaderParameters: map[string]string{"X-Team": "target", "X-Extra": "1"}}}})
	if err != nil || len(failed) != 0 {
		t.Fatal(failed, err)
	}
	if _, err := s.PutTargets(ctx, scope, nil, "off", []Target{{ID: "t", ARN: d.ARN}}); err != nil {
		t.Fatal(err)
	}

	rules, err := s.DeliveryRules(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].ARN != "arn:aws:events:us-east-1:123456789012:rule/r" || rules[0].Scope != scope || len(rules[0].Targets) != 1 {
		t.Fatalf("DeliveryRules = %+v", rules)
	}
	dt := rules[0].Targets[0]
	a := dt.Auth
	if dt.Endpoint != "http://127.0.0.1:9/hook" || dt.Method != "POST" || dt.RateLimit != 5 || dt.MaxAttempts != 3 || dt.MaxAge != 24*time.Hour ||
		dt.InputPath != "$.detail" || a.Type != AuthOAuth || a.ClientSecret != "client-secret" || a.ClientID != "ecrd" ||
		a.OAuthBody["audience"] != "hooks" || dt.Headers["X-Sig"] != "header-secret" || dt.Headers["X-Team"] != "platform" ||
		dt.Headers["X-Extra"] != "1" || dt.Query["v"] != "2" {
		t.Errorf("DeliveryTarget = %+v", dt)
	}

	// Every change recorded once, and no record holds a secret.
	es := records(t, meta)[before:]
	if len(es) != 7 {
		t.Errorf("%d records, want 7", len(es))
	}
	for _, e := range es {
		if e.Source != outbox.SourceEvents || e.Type != outbox.TypeAPICall {
			t.Errorf("record %s %s", e.Source, e.Type)
		}
		for _, secret := range []string{"client-secret", "header-secret", "password-secret", "hooks"} {
			if bytes.Contains(e.Document, []byte(secret)) {
				t.Errorf("a record holds %q: %s", secret, e.Document)
			}
		}
	}

	// The connection gone, the destination is inactive and delivers
	// nothing.
	if _, err := s.DeleteConnection(ctx, scope, "Hook"); err != nil {
		t.Fatal(err)
	}
	if d, err := s.DescribeAPIDestination(ctx, scope, "dest"); err != nil || d.State != DestinationInactive {
		t.Errorf("DescribeApiDestination = %+v, %v", d, err)
	}
	if rules, err := s.DeliveryRules(bg); err != nil || len(rules) != 0 {
		t.Errorf("DeliveryRules without the connection = %+v, %v", rules, err)
	}
}

// TestPutEvents appends custom events in EventBridge's envelope and
// refuses the entries EventBridge refuses, alone.
func TestPutEvents(t *testing.T) {
	s, meta, ctx := newService(t)
	before := len(records(t, meta))
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	res, err := s.PutEvents(ctx, scope, []EventEntry{
		{Source: ptr("com.example.ci"), DetailType: ptr("Deployment"), Detail: ptr(`{"image": "app:v1"}`), Resources: []string{"arn:aws:ecr:us-east-1:123456789012:repository/app"}, Time: at},
		{Source: ptr("aws.ecr"), DetailType: ptr("ECR Image Scan"), Detail: ptr(`{}`)},
		{Source: ptr("com.example.ci"), DetailType: ptr("Deployment"), Detail: ptr(`"text"`)},
		{Source: ptr("com.example.ci"), Detail: ptr(`{}`)},
		{Source: ptr("com.example.ci"), DetailType: ptr("x"), Detail: ptr(`{}`), EventBusName: ptr("other")},
	})
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{}
	for _, r := range res {
		codes = append(codes, r.ErrorCode)
	}
	if strings.Join(codes, ",") != ",NotAuthorizedForSourceException,MalformedDetail,InvalidArgument,InvalidArgument" || res[0].EventID == "" {
		t.Errorf("PutEvents = %+v", res)
	}
	es := records(t, meta)[before:]
	if len(es) != 1 {
		t.Fatalf("%d records, want 1", len(es))
	}
	var env outbox.Envelope
	if err := json.Unmarshal(es[0].Document, &env); err != nil {
		t.Fatal(err)
	}
	if env.ID != res[0].EventID || env.Source != "com.example.ci" || env.DetailType != "Deployment" || env.Account != acct || env.Region != region ||
		env.Time != "2026-05-01T10:00:00Z" || string(env.Detail) != `{"image":"app:v1"}` || len(env.Resources) != 1 || es[0].Source != "com.example.ci" {
		t.Errorf("envelope %s", es[0].Document)
	}
	_, err = s.PutEvents(ctx, scope, make([]EventEntry, 11))
	wantCode(t, "PutEvents of 11 entries", err, CodeValidation, "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10")
}

// TestConcurrentChange: a rule changed between a change's read and its
// transaction is decided again; the change then applies on top.
func TestConcurrentChange(t *testing.T) {
	s, meta, ctx := newService(t)
	if _, err := s.PutRule(ctx, scope, PutRuleInput{Name: "r", EventPattern: ptr(`{"source":["a"]}`)}); err != nil {
		t.Fatal(err)
	}
	r, err := load[Rule](bg, meta, scope, metadata.EventRule, "r")
	if err != nil {
		t.Fatal(err)
	}
	err = meta.Update(bg, func(tx metadata.Tx) error {
		moved := *r
		moved.Rev++
		moved.Description = "changed meanwhile"
		return write(bg, tx, scope, metadata.EventRule, "r", r.Rev, &moved)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A write at the old revision is stale.
	err = meta.Update(bg, func(tx metadata.Tx) error { return write(bg, tx, scope, metadata.EventRule, "r", r.Rev, r) })
	if _, ok := err.(*staleError); !ok {
		t.Fatalf("a write at a stale revision: %v", err)
	}
	if err := s.SetRuleState(ctx, scope, nil, "r", false); err != nil {
		t.Fatal(err)
	}
	got, err := s.DescribeRule(ctx, scope, nil, "r")
	if err != nil || got.State != StateDisabled || got.Description != "changed meanwhile" || got.Rev != r.Rev+2 {
		t.Errorf("DescribeRule = %+v, %v", got, err)
	}
}
