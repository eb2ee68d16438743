package e2e

// The replication API through aws-sdk-go-v2 and the AWS CLI:
// PutReplicationConfiguration's echo and DescribeRegistry's read back,
// clearing a configuration, and every validation error of the
// replication operations with ECR's exception and message. What the
// backfills and the replication statuses do is replication_test.go's.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// replOtherAccount is an account of no test key: a cross-account destination.
const replOtherAccount = "210987654321"

// Model patterns, as ECR's messages quote them.
const (
	replPatternRegion     = `[0-9a-z-]{2,25}`
	replPatternFilter     = `^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$`
	replPatternBackfillID = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
)

func replDest(region, account string) types.ReplicationDestination {
	return types.ReplicationDestination{Region: aws.String(region), RegistryId: aws.String(account)}
}

func replPrefixFilter(prefix string) types.RepositoryFilter {
	return types.RepositoryFilter{Filter: aws.String(prefix), FilterType: types.RepositoryFilterTypePrefixMatch}
}

func replDescribe(t *testing.T, ctx context.Context, c *ecr.Client) *types.ReplicationConfiguration {
	t.Helper()
	reg, err := c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	ecrMust(t, "DescribeRegistry", err)
	if got := aws.ToString(reg.RegistryId); got != testAccount {
		t.Errorf("DescribeRegistry registryId = %q, want %s", got, testAccount)
	}
	if reg.ReplicationConfiguration == nil {
		t.Fatal("DescribeRegistry: no replicationConfiguration")
	}
	return reg.ReplicationConfiguration
}

func replJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestReplicationConfigurationAPI: a configuration put is echoed and read
// back as given (deleteReplication only where given), a put that fails
// leaves it as it was, and a put of no rules clears it.
func TestReplicationConfigurationAPI(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()

	if got := replDescribe(t, ctx, c); got.Rules == nil || len(got.Rules) != 0 {
		t.Errorf("a new registry's configuration = %s, want rules []", replJSON(got))
	}

	want := &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
		{
			Destinations:      []types.ReplicationDestination{replDest("eu-west-1", testAccount), replDest("us-west-2", replOtherAccount)},
			RepositoryFilters: []types.RepositoryFilter{replPrefixFilter("team/"), replPrefixFilter("prod")},
			DeleteReplication: &types.DeleteReplication{Enabled: true},
		},
		{
			Destinations:      []types.ReplicationDestination{replDest("ap-south-1", testAccount)},
			DeleteReplication: &types.DeleteReplication{Enabled: false},
		},
		{Destinations: []types.ReplicationDestination{replDest("eu-central-1", testAccount)}},
	}}
	put, err := c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: want})
	ecrMust(t, "PutReplicationConfiguration", err)
	if !reflect.DeepEqual(put.ReplicationConfiguration, want) {
		t.Errorf("PutReplicationConfiguration echoed\n  %s\nwant\n  %s", replJSON(put.ReplicationConfiguration), replJSON(want))
	}
	if got := replDescribe(t, ctx, c); !reflect.DeepEqual(got, want) {
		t.Errorf("DescribeRegistry configuration\n  %s\nwant\n  %s", replJSON(got), replJSON(want))
	}
	// On the wire: the third rule has no filters and no deleteReplication.
	raw := rawECR(t, e, "DescribeRegistry", []byte(`{}`), testAccessKey, testSecret)
	if raw.Status != 200 || !bytes.Contains(raw.Body, []byte(`{"destinations":[{"region":"eu-central-1","registryId":"`+testAccount+`"}]}`)) {
		t.Errorf("DescribeRegistry answer %d %s", raw.Status, raw.Body)
	}

	// Refusals leave the configuration as it was.
	_, err = c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &types.ReplicationConfiguration{
		Rules: []types.ReplicationRule{{Destinations: []types.ReplicationDestination{replDest(testRegion, testAccount)}}},
	}})
	wantAPIError(t, "replicating to itself", err, "InvalidParameterException", 400,
		invalidParam("replicationConfiguration", "Replication destination cannot be the same as the source registry"))
	if got := replDescribe(t, ctx, c); !reflect.DeepEqual(got, want) {
		t.Errorf("after a refused put: %s", replJSON(got))
	}

	// Another region of the same account is not the registry itself, and
	// the same region of another account neither.
	other := &types.ReplicationConfiguration{Rules: []types.ReplicationRule{{
		Destinations: []types.ReplicationDestination{replDest(testRegion, replOtherAccount), replDest("us-east-2", testAccount)},
	}}}
	put, err = c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: other})
	ecrMust(t, "PutReplicationConfiguration (replaces)", err)
	if !reflect.DeepEqual(put.ReplicationConfiguration, other) {
		t.Errorf("echo %s", replJSON(put.ReplicationConfiguration))
	}
	if got := replDescribe(t, ctx, c); !reflect.DeepEqual(got, other) {
		t.Errorf("a put replaces the whole configuration; read %s", replJSON(got))
	}

	// No rules: replication is off, and DescribeRegistry says rules [],
	// which Terraform reads as no configuration.
	put, err = c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &types.ReplicationConfiguration{Rules: []types.ReplicationRule{}}})
	ecrMust(t, "PutReplicationConfiguration (no rules)", err)
	if put.ReplicationConfiguration == nil || len(put.ReplicationConfiguration.Rules) != 0 {
		t.Errorf("echo of no rules: %s", replJSON(put.ReplicationConfiguration))
	}
	if got := replDescribe(t, ctx, c); len(got.Rules) != 0 {
		t.Errorf("after clearing: %s", replJSON(got))
	}
	raw = rawECR(t, e, "DescribeRegistry", []byte(`{}`), testAccessKey, testSecret)
	if want := `{"registryId":"` + testAccount + `","replicationConfiguration":{"rules":[]}}`; raw.Status != 200 || string(raw.Body) != want {
		t.Errorf("DescribeRegistry after clearing: %d %s, want %s", raw.Status, raw.Body, want)
	}
	noServerErrors(t, e)
}

// TestReplicationDestinationLimit: at most 25 unique destinations across
// all rules; the same destination named by several rules counts once.
func TestReplicationDestinationLimit(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()

	dests := func(from, to int) []types.ReplicationDestination {
		var l []types.ReplicationDestination
		for i := from; i < to; i++ {
			l = append(l, replDest("eu-west-1", fmt.Sprintf("1000000000%02d", i)))
		}
		return l
	}
	// 25 unique in two rules, 5 of them in both.
	ok := &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
		{Destinations: dests(0, 15)},
		{Destinations: dests(10, 25), RepositoryFilters: []types.RepositoryFilter{replPrefixFilter("team")}},
	}}
	_, err := c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: ok})
	ecrMust(t, "25 unique destinations", err)

	tooMany := &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
		{Destinations: dests(0, 15)},
		{Destinations: dests(10, 26)},
	}}
	_, err = c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: tooMany})
	wantAPIError(t, "26 unique destinations", err, "InvalidParameterException", 400,
		invalidParam("replicationConfiguration", "a replication configuration has at most 25 unique destinations across its rules; this one has 26"))
	if got := replDescribe(t, ctx, c); !reflect.DeepEqual(got, ok) {
		t.Errorf("after the refused put: %s", replJSON(got))
	}
	noServerErrors(t, e)
}

// TestReplicationValidation: each model constraint of the replication
// operations, broken once, through the SDK where it sends the request,
// by hand where it refuses to (a required member missing).
func TestReplicationValidation(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()

	const rule1 = "replicationConfiguration.rules.1.member"
	valid := func() types.ReplicationRule {
		return types.ReplicationRule{Destinations: []types.ReplicationDestination{replDest("eu-west-1", testAccount)}}
	}
	rules := func(n int) []types.ReplicationRule {
		l := make([]types.ReplicationRule, n)
		for i := range l {
			l[i] = valid()
		}
		return l
	}
	withRule := func(f func(*types.ReplicationRule)) []types.ReplicationRule {
		r := valid()
		f(&r)
		return []types.ReplicationRule{r}
	}
	filters := func(n int) []types.RepositoryFilter {
		l := make([]types.RepositoryFilter, n)
		for i := range l {
			l[i] = replPrefixFilter("team")
		}
		return l
	}
	destinations := func(n int) []types.ReplicationDestination {
		l := make([]types.ReplicationDestination, n)
		for i := range l {
			l[i] = replDest("eu-west-1", testAccount)
		}
		return l
	}
	for _, tc := range []struct {
		name  string
		rules []types.ReplicationRule
		want  string
	}{
		{"11 rules", rules(11), invalidParam("replicationConfiguration.rules", "must have length less than or equal to 10")},
		{"101 destinations", withRule(func(r *types.ReplicationRule) { r.Destinations = destinations(101) }),
			invalidParam(rule1+".destinations", "must have length less than or equal to 100")},
		{"region short", withRule(func(r *types.ReplicationRule) { r.Destinations[0].Region = aws.String("e") }),
			invalidParam(rule1+".destinations.1.member.region", "must have length greater than or equal to 2")},
		{"region long", withRule(func(r *types.ReplicationRule) { r.Destinations[0].Region = aws.String(strings.Repeat("a", 26)) }),
			invalidParam(rule1+".destinations.1.member.region", "must have length less than or equal to 25")},
		{"region pattern", withRule(func(r *types.ReplicationRule) {
			r.Destinations = append(r.Destinations, replDest("EU-WEST-1", testAccount))
		}), invalidParam(rule1+".destinations.2.member.region", "must satisfy regular expression '"+replPatternRegion+"'")},
		{"destination registryId", withRule(func(r *types.ReplicationRule) { r.Destinations[0].RegistryId = aws.String("12345") }),
			invalidParam(rule1+".destinations.1.member.registryId", "must satisfy regular expression '[0-9]{12}'")},
		{"no filters", withRule(func(r *types.ReplicationRule) { r.RepositoryFilters = []types.RepositoryFilter{} }),
			invalidParam(rule1+".repositoryFilters", "must have length greater than or equal to 1")},
		{"101 filters", withRule(func(r *types.ReplicationRule) { r.RepositoryFilters = filters(101) }),
			invalidParam(rule1+".repositoryFilters", "must have length less than or equal to 100")},
		{"filter short", withRule(func(r *types.ReplicationRule) { r.RepositoryFilters = []types.RepositoryFilter{replPrefixFilter("a")} }),
			invalidParam(rule1+".repositoryFilters.1.member.filter", "must have length greater than or equal to 2")},
		{"filter long", withRule(func(r *types.ReplicationRule) {
			r.RepositoryFilters = []types.RepositoryFilter{replPrefixFilter("team"), replPrefixFilter(strings.Repeat("a", 257))}
		}), invalidParam(rule1+".repositoryFilters.2.member.filter", "must have length less than or equal to 256")},
		{"filter pattern", withRule(func(r *types.ReplicationRule) {
			r.RepositoryFilters = []types.RepositoryFilter{replPrefixFilter("Team/")}
		}),
			invalidParam(rule1+".repositoryFilters.1.member.filter", "must satisfy regular expression '"+replPatternFilter+"'")},
		{"filterType", withRule(func(r *types.ReplicationRule) {
			r.RepositoryFilters = []types.RepositoryFilter{{Filter: aws.String("team"), FilterType: "WILDCARD"}}
		}), invalidParam(rule1+".repositoryFilters.1.member.filterType", "must satisfy enum value set: [PREFIX_MATCH]")},
		{"second rule", append(rules(1), withRule(func(r *types.ReplicationRule) { r.Destinations[0].RegistryId = aws.String("x") })...),
			invalidParam("replicationConfiguration.rules.2.member.destinations.1.member.registryId", "must satisfy regular expression '[0-9]{12}'")},
	} {
		_, err := c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &types.ReplicationConfiguration{Rules: tc.rules}})
		wantAPIError(t, "PutReplicationConfiguration: "+tc.name, err, "InvalidParameterException", 400, tc.want)
	}

	// What the SDK will not send: members it requires, and
	// deleteReplication without enabled (a bool it always writes).
	dest := `{"region":"eu-west-1","registryId":"` + testAccount + `"}`
	for _, tc := range []struct{ name, body, want string }{
		{"no configuration", `{}`, invalidParam("replicationConfiguration", "must not be null")},
		{"no rules", `{"replicationConfiguration":{}}`, invalidParam("replicationConfiguration.rules", "must not be null")},
		{"rules null", `{"replicationConfiguration":{"rules":null}}`, invalidParam("replicationConfiguration.rules", "must not be null")},
		{"no destinations", `{"replicationConfiguration":{"rules":[{}]}}`, invalidParam(rule1+".destinations", "must not be null")},
		{"no region", `{"replicationConfiguration":{"rules":[{"destinations":[{"registryId":"` + testAccount + `"}]}]}}`,
			invalidParam(rule1+".destinations.1.member.region", "must not be null")},
		{"no registryId", `{"replicationConfiguration":{"rules":[{"destinations":[{"region":"eu-west-1"}]}]}}`,
			invalidParam(rule1+".destinations.1.member.registryId", "must not be null")},
		{"no filter", `{"replicationConfiguration":{"rules":[{"destinations":[` + dest + `],"repositoryFilters":[{"filterType":"PREFIX_MATCH"}]}]}}`,
			invalidParam(rule1+".repositoryFilters.1.member.filter", "must not be null")},
		{"no filterType", `{"replicationConfiguration":{"rules":[{"destinations":[` + dest + `],"repositoryFilters":[{"filter":"team"}]}]}}`,
			invalidParam(rule1+".repositoryFilters.1.member.filterType", "must not be null")},
		{"deleteReplication without enabled", `{"replicationConfiguration":{"rules":[{"destinations":[` + dest + `],"deleteReplication":{}}]}}`,
			invalidParam(rule1+".deleteReplication.enabled", "must not be null")},
	} {
		a := rawECR(t, e, "PutReplicationConfiguration", []byte(tc.body), testAccessKey, testSecret)
		wantRawError(t, "PutReplicationConfiguration: "+tc.name, a, 400, "InvalidParameterException", tc.want)
	}

	// The image replication status and the backfills.
	_, err := c.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{
		RepositoryName: aws.String("App"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")},
	})
	wantAPIError(t, "DescribeImageReplicationStatus repositoryName", err, "InvalidParameterException", 400,
		invalidParam("repositoryName", "must satisfy regular expression '"+`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`+"'"))
	_, err = c.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{
		RepositoryName: aws.String("app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("")},
	})
	wantAPIError(t, "DescribeImageReplicationStatus imageTag", err, "InvalidParameterException", 400,
		invalidParam("imageId.imageTag", "must have length greater than or equal to 1"))
	_, err = c.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{
		RepositoryName: aws.String("app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}, RegistryId: aws.String("12345"),
	})
	wantAPIError(t, "DescribeImageReplicationStatus registryId", err, "InvalidParameterException", 400,
		invalidParam("registryId", "must satisfy regular expression '[0-9]{12}'"))

	_, err = c.StartReplicationBackfill(ctx, &ecr.StartReplicationBackfillInput{Destination: &types.ReplicationDestination{
		Region: aws.String("eu west"), RegistryId: aws.String(testAccount)}})
	wantAPIError(t, "StartReplicationBackfill region", err, "InvalidParameterException", 400,
		invalidParam("destination.region", "must satisfy regular expression '"+replPatternRegion+"'"))
	_, err = c.StartReplicationBackfill(ctx, &ecr.StartReplicationBackfillInput{RegistryId: aws.String("1"),
		Destination: &types.ReplicationDestination{Region: aws.String("eu-west-1"), RegistryId: aws.String(testAccount)}})
	wantAPIError(t, "StartReplicationBackfill registryId", err, "InvalidParameterException", 400,
		invalidParam("registryId", "must satisfy regular expression '[0-9]{12}'"))
	wantRawError(t, "StartReplicationBackfill no destination",
		rawECR(t, e, "StartReplicationBackfill", []byte(`{}`), testAccessKey, testSecret), 400, "InvalidParameterException",
		invalidParam("destination", "must not be null"))

	_, err = c.StopReplicationBackfill(ctx, &ecr.StopReplicationBackfillInput{ReplicationBackfillId: aws.String("backfill-1")})
	wantAPIError(t, "StopReplicationBackfill id", err, "InvalidParameterException", 400,
		invalidParam("replicationBackfillId", "must satisfy regular expression '"+replPatternBackfillID+"'"))
	wantRawError(t, "StopReplicationBackfill no id",
		rawECR(t, e, "StopReplicationBackfill", []byte(`{}`), testAccessKey, testSecret), 400, "InvalidParameterException",
		invalidParam("replicationBackfillId", "must not be null"))

	for _, tc := range []struct {
		max  int32
		want string
	}{{0, "must be greater than or equal to 1"}, {51, "must be less than or equal to 50"}} {
		_, err = c.ListReplicationBackfills(ctx, &ecr.ListReplicationBackfillsInput{MaxResults: aws.Int32(tc.max)})
		wantAPIError(t, fmt.Sprintf("ListReplicationBackfills maxResults %d", tc.max), err, "InvalidParameterException", 400, invalidParam("maxResults", tc.want))
	}
	_, err = c.ListReplicationBackfills(ctx, &ecr.ListReplicationBackfillsInput{RegistryId: aws.String("abc")})
	wantAPIError(t, "ListReplicationBackfills registryId", err, "InvalidParameterException", 400,
		invalidParam("registryId", "must satisfy regular expression '[0-9]{12}'"))

	const id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	for _, tc := range []struct {
		name string
		in   *ecr.DescribeReplicationBackfillResultsInput
		want string
	}{
		{"id", &ecr.DescribeReplicationBackfillResultsInput{ReplicationBackfillId: aws.String(id + "0")},
			invalidParam("replicationBackfillId", "must satisfy regular expression '"+replPatternBackfillID+"'")},
		{"resultStatusFilter", &ecr.DescribeReplicationBackfillResultsInput{ReplicationBackfillId: aws.String(id), ResultStatusFilter: "IN_PROGRESS"},
			invalidParam("resultStatusFilter", "must satisfy enum value set: [COMPLETE, FAILED]")},
		{"maxResults 0", &ecr.DescribeReplicationBackfillResultsInput{ReplicationBackfillId: aws.String(id), MaxResults: aws.Int32(0)},
			invalidParam("maxResults", "must be greater than or equal to 1")},
		{"maxResults 1001", &ecr.DescribeReplicationBackfillResultsInput{ReplicationBackfillId: aws.String(id), MaxResults: aws.Int32(1001)},
			invalidParam("maxResults", "must be less than or equal to 1000")},
	} {
		_, err = c.DescribeReplicationBackfillResults(ctx, tc.in)
		wantAPIError(t, "DescribeReplicationBackfillResults "+tc.name, err, "InvalidParameterException", 400, tc.want)
	}
	noServerErrors(t, e)
}

// TestReplicationAWSCLI: put-replication-configuration and
// describe-registry with both AWS CLIs (neither knows deleteReplication:
// the SDK tests cover it), and a refusal as the CLI reports it.
func TestReplicationAWSCLI(t *testing.T) {
	for _, cli := range []struct{ name, path string }{{"v2", awsCLI(t)}, {"v1", currentAWSCLI(t)}} {
		t.Run(cli.name, func(t *testing.T) {
			t.Parallel()
			e := startECRD(t, t.TempDir())
			env, work := scriptEnv(t, e)
			awsRun := func(args ...string) (stdout, stderr string, err error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, cli.path, append(args, "--endpoint-url", e.URL(), "--output", "json")...)
				cmd.Env, cmd.Dir = env, work
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err = cmd.Run()
				return out.String(), errOut.String(), err
			}

			const config = `{"rules":[` +
				`{"destinations":[{"region":"eu-west-1","registryId":"` + testAccount + `"},{"region":"us-east-1","registryId":"` + replOtherAccount + `"}],` +
				`"repositoryFilters":[{"filter":"team/","filterType":"PREFIX_MATCH"}]},` +
				`{"destinations":[{"region":"ap-south-1","registryId":"` + testAccount + `"}]}]}`
			file := filepath.Join(work, "replication.json")
			if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := awsRun("ecr", "put-replication-configuration", "--replication-configuration", "file://"+file)
			if err != nil {
				t.Fatalf("put-replication-configuration: %v\n%s", err, stderr)
			}
			var put struct {
				ReplicationConfiguration json.RawMessage `json:"replicationConfiguration"`
			}
			if err := json.Unmarshal([]byte(stdout), &put); err != nil {
				t.Fatalf("put-replication-configuration printed %q: %v", stdout, err)
			}
			if !replJSONEqual(t, put.ReplicationConfiguration, config) {
				t.Errorf("put-replication-configuration printed %s, want %s", put.ReplicationConfiguration, config)
			}

			stdout, stderr, err = awsRun("ecr", "describe-registry")
			if err != nil {
				t.Fatalf("describe-registry: %v\n%s", err, stderr)
			}
			if want := `{"registryId":"` + testAccount + `","replicationConfiguration":` + config + `}`; !replJSONEqual(t, []byte(stdout), want) {
				t.Errorf("describe-registry printed %s, want %s", stdout, want)
			}

			// The CLI checks lengths itself, not patterns: this reaches ecrd.
			_, stderr, err = awsRun("ecr", "put-replication-configuration", "--replication-configuration",
				`{"rules":[{"destinations":[{"region":"EU-WEST-1","registryId":"`+testAccount+`"}]}]}`)
			want := "An error occurred (InvalidParameterException) when calling the PutReplicationConfiguration operation: " +
				invalidParam("replicationConfiguration.rules.1.member.destinations.1.member.region", "must satisfy regular expression '"+replPatternRegion+"'")
			if err == nil || !strings.Contains(stderr, want) {
				t.Errorf("a bad region: %v, printed %q; want %q", err, stderr, want)
			}

			if _, stderr, err = awsRun("ecr", "put-replication-configuration", "--replication-configuration", `{"rules":[]}`); err != nil {
				t.Fatalf("put-replication-configuration (no rules): %v\n%s", err, stderr)
			}
			stdout, stderr, err = awsRun("ecr", "describe-registry")
			if err != nil {
				t.Fatalf("describe-registry: %v\n%s", err, stderr)
			}
			if want := `{"registryId":"` + testAccount + `","replicationConfiguration":{"rules":[]}}`; !replJSONEqual(t, []byte(stdout), want) {
				t.Errorf("describe-registry after clearing printed %s, want %s", stdout, want)
			}
			noServerErrors(t, e)
		})
	}
}

// jsonEqual reports whether two JSON texts hold the same value.
func replJSONEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("not JSON: %q: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	return reflect.DeepEqual(g, w)
}
