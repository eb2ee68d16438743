package e2e

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func scanRule(freq ecrtypes.ScanFrequency, filters ...string) ecrtypes.RegistryScanningRule {
	r := ecrtypes.RegistryScanningRule{ScanFrequency: freq, RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{}}
	for _, f := range filters {
		r.RepositoryFilters = append(r.RepositoryFilters, ecrtypes.ScanningRepositoryFilter{Filter: aws.String(f), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard})
	}
	return r
}

// describeRules flattens rules for comparison.
func describeRules(rules []ecrtypes.RegistryScanningRule) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%s[", r.ScanFrequency)
		for _, f := range r.RepositoryFilters {
			fmt.Fprintf(&b, "%s:%s ", aws.ToString(f.Filter), f.FilterType)
		}
		b.WriteString("] ")
	}
	return b.String()
}

func TestScanningConfig(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()

	// Never set: BASIC with no rules.
	got, err := c.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	ecrMust(t, "GetRegistryScanningConfiguration", err)
	if aws.ToString(got.RegistryId) != testAccount || got.ScanningConfiguration == nil ||
		got.ScanningConfiguration.ScanType != ecrtypes.ScanTypeBasic || got.ScanningConfiguration.Rules == nil || len(got.ScanningConfiguration.Rules) != 0 {
		t.Fatalf("default = %s %+v", aws.ToString(got.RegistryId), got.ScanningConfiguration)
	}

	// Put and get back.
	rules := []ecrtypes.RegistryScanningRule{
		scanRule(ecrtypes.ScanFrequencyScanOnPush, "*"),
		scanRule(ecrtypes.ScanFrequencyContinuousScan, "prod/*", "*-critical"),
	}
	put, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeEnhanced, Rules: rules})
	ecrMust(t, "PutRegistryScanningConfiguration", err)
	if put.RegistryScanningConfiguration == nil || put.RegistryScanningConfiguration.ScanType != ecrtypes.ScanTypeEnhanced ||
		describeRules(put.RegistryScanningConfiguration.Rules) != describeRules(rules) {
		t.Fatalf("put answered %+v", put.RegistryScanningConfiguration)
	}
	got, err = c.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	ecrMust(t, "GetRegistryScanningConfiguration", err)
	if got.ScanningConfiguration.ScanType != ecrtypes.ScanTypeEnhanced || describeRules(got.ScanningConfiguration.Rules) != describeRules(rules) {
		t.Fatalf("get = %s %s", got.ScanningConfiguration.ScanType, describeRules(got.ScanningConfiguration.Rules))
	}

	// Repositories under it.
	for name, scanOnPush := range map[string]bool{"prod/api": false, "dev/app": true, "db-critical": false} {
		_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name),
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: scanOnPush}})
		ecrMust(t, "CreateRepository "+name, err)
	}
	batch, err := c.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{
		RepositoryNames: []string{"prod/api", "dev/app", "db-critical", "missing"},
	})
	ecrMust(t, "BatchGetRepositoryScanningConfiguration", err)
	type conf struct {
		arn, name, frequency, filters string
		scanOnPush                    bool
	}
	var confs []conf
	for _, sc := range batch.ScanningConfigurations {
		var filters []string
		for _, f := range sc.AppliedScanFilters {
			filters = append(filters, aws.ToString(f.Filter)+":"+string(f.FilterType))
		}
		confs = append(confs, conf{aws.ToString(sc.RepositoryArn), aws.ToString(sc.RepositoryName), string(sc.ScanFrequency), strings.Join(filters, ","), sc.ScanOnPush})
	}
	arn := func(name string) string {
		return "arn:aws:ecr:" + testRegion + ":" + testAccount + ":repository/" + name
	}
	wantConfs := []conf{
		{arn("prod/api"), "prod/api", "CONTINUOUS_SCAN", "prod/*:WILDCARD", false},
		{arn("dev/app"), "dev/app", "SCAN_ON_PUSH", "*:WILDCARD", true},
		{arn("db-critical"), "db-critical", "CONTINUOUS_SCAN", "*-critical:WILDCARD", false},
	}
	if !reflect.DeepEqual(confs, wantConfs) {
		t.Errorf("scanningConfigurations\n  %+v\nwant\n  %+v", confs, wantConfs)
	}
	if len(batch.Failures) != 1 || aws.ToString(batch.Failures[0].RepositoryName) != "missing" ||
		batch.Failures[0].FailureCode != ecrtypes.ScanningConfigurationFailureCodeRepositoryNotFound ||
		aws.ToString(batch.Failures[0].FailureReason) != "The repository with name 'missing' does not exist in the registry with id '"+testAccount+"'" {
		t.Errorf("failures = %+v", batch.Failures)
	}

	// Validation: the model's pattern, checked by the adapter, and the
	// scan type rule, checked by the core. Neither changes what is stored.
	_, err = c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{scanRule(ecrtypes.ScanFrequencyScanOnPush, "Prod/*")}})
	wantAPIError(t, "an upper-case filter", err, "InvalidParameterException", 400,
		`Invalid parameter at 'rules.1.member.repositoryFilters.1.member.filter' failed to satisfy constraint: 'must satisfy regular expression '^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$''`)
	_, err = c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{scanRule(ecrtypes.ScanFrequencyContinuousScan, "*")}})
	wantAPIError(t, "CONTINUOUS_SCAN with BASIC", err, "InvalidParameterException", 400,
		"Invalid parameter at 'rules.1.member.scanFrequency' failed to satisfy constraint: 'CONTINUOUS_SCAN requires the ENHANCED scan type: BASIC scanning supports SCAN_ON_PUSH and MANUAL'")
	names := make([]string, 26)
	for i := range names {
		names[i] = fmt.Sprintf("repo%d", i)
	}
	_, err = c.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: names})
	wantAPIError(t, "26 repositories", err, "InvalidParameterException", 400,
		"Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'must have length less than or equal to 25'")
	got, err = c.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	ecrMust(t, "GetRegistryScanningConfiguration", err)
	if got.ScanningConfiguration.ScanType != ecrtypes.ScanTypeEnhanced || describeRules(got.ScanningConfiguration.Rules) != describeRules(rules) {
		t.Fatalf("after refusals = %s %s", got.ScanningConfiguration.ScanType, describeRules(got.ScanningConfiguration.Rules))
	}

	// Terraform's delete: BASIC with no rules.
	put, err = c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic, Rules: []ecrtypes.RegistryScanningRule{}})
	ecrMust(t, "PutRegistryScanningConfiguration reset", err)
	if put.RegistryScanningConfiguration.ScanType != ecrtypes.ScanTypeBasic || put.RegistryScanningConfiguration.Rules == nil || len(put.RegistryScanningConfiguration.Rules) != 0 {
		t.Fatalf("reset answered %+v", put.RegistryScanningConfiguration)
	}
	batch, err = c.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: []string{"dev/app", "prod/api"}})
	ecrMust(t, "BatchGetRepositoryScanningConfiguration after reset", err)
	if len(batch.ScanningConfigurations) != 2 || batch.ScanningConfigurations[0].ScanFrequency != ecrtypes.ScanFrequencyScanOnPush ||
		!batch.ScanningConfigurations[0].ScanOnPush || batch.ScanningConfigurations[1].ScanFrequency != ecrtypes.ScanFrequencyManual ||
		batch.ScanningConfigurations[1].ScanOnPush || len(batch.Failures) != 0 {
		t.Fatalf("after reset = %+v, failures %+v", batch.ScanningConfigurations, batch.Failures)
	}
	noServerErrors(t, e)
}
