package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
)

func wildcard(filters ...string) []registry.ScanFilter {
	out := make([]registry.ScanFilter, 0, len(filters))
	for _, f := range filters {
		out = append(out, registry.ScanFilter{Filter: f, FilterType: registry.ScanFilterWildcard})
	}
	return out
}

func TestRegistryScanningDefault(t *testing.T) {
	f := newFixture(t, registry.Options{})
	got, err := f.reg.RegistryScanningConfiguration(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	want := registry.RegistryScanningConfiguration{ScanType: registry.ScanTypeBasic, Rules: []registry.ScanningRule{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("default = %+v, want %+v", got, want)
	}
}

func TestRegistryScanningRoundTrip(t *testing.T) {
	f := newFixture(t, registry.Options{})
	in := registry.RegistryScanningConfiguration{ScanType: registry.ScanTypeEnhanced, Rules: []registry.ScanningRule{
		{ScanFrequency: registry.ContinuousScan, RepositoryFilters: wildcard("prod-*", "*-critical")},
		{ScanFrequency: registry.ScanOnPush, RepositoryFilters: wildcard("*")},
	}}
	put, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(put, in) {
		t.Fatalf("put = %+v, want %+v", put, in)
	}
	got, err := f.reg.RegistryScanningConfiguration(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("get = %+v, want %+v", got, in)
	}

	// Another registry keeps its default.
	other := metadata.Scope{Account: scope.Account, Region: scope.Region + "-other"}
	if got, err := f.reg.RegistryScanningConfiguration(ctx, other); err != nil || got.ScanType != registry.ScanTypeBasic || len(got.Rules) != 0 {
		t.Fatalf("other region = %+v, %v", got, err)
	}

	// Terraform's delete: BASIC with no rules; an empty scan type is BASIC.
	put, err = f.reg.PutRegistryScanningConfiguration(ctx, scope, registry.RegistryScanningConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	want := registry.RegistryScanningConfiguration{ScanType: registry.ScanTypeBasic, Rules: []registry.ScanningRule{}}
	if !reflect.DeepEqual(put, want) {
		t.Fatalf("reset = %+v", put)
	}
	if got, _ := f.reg.RegistryScanningConfiguration(ctx, scope); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reset = %+v", got)
	}

	// A rule with no filters is kept as such.
	in = registry.RegistryScanningConfiguration{ScanType: registry.ScanTypeBasic, Rules: []registry.ScanningRule{{ScanFrequency: registry.ManualScan}}}
	put, err = f.reg.PutRegistryScanningConfiguration(ctx, scope, in)
	if err != nil || put.Rules[0].RepositoryFilters == nil || len(put.Rules[0].RepositoryFilters) != 0 {
		t.Fatalf("empty filters = %+v, %v", put, err)
	}
}

// TestRegistryScanningValidation: the core's rules beyond the model's
// shapes (which internal/api/ecr checks, see its scanning_test.go).
func TestRegistryScanningValidation(t *testing.T) {
	f := newFixture(t, registry.Options{})
	rules := func(r ...registry.ScanningRule) []registry.ScanningRule { return r }
	tests := []struct {
		name string
		cfg  registry.RegistryScanningConfiguration
		want registry.ParamError
	}{
		{"scan type", registry.RegistryScanningConfiguration{ScanType: "FULL"},
			registry.ParamError{Field: "scanType", Constraint: "must satisfy enum value set: [BASIC, ENHANCED]"}},
		{"continuous with basic", registry.RegistryScanningConfiguration{ScanType: "BASIC", Rules: rules(
			registry.ScanningRule{ScanFrequency: "SCAN_ON_PUSH", RepositoryFilters: wildcard("*")},
			registry.ScanningRule{ScanFrequency: "CONTINUOUS_SCAN", RepositoryFilters: wildcard("prod")})},
			registry.ParamError{Field: "rules.2.member.scanFrequency", Constraint: "CONTINUOUS_SCAN requires the ENHANCED scan type: BASIC scanning supports SCAN_ON_PUSH and MANUAL"}},
		{"continuous with default scan type", registry.RegistryScanningConfiguration{Rules: rules(registry.ScanningRule{ScanFrequency: "CONTINUOUS_SCAN"})},
			registry.ParamError{Field: "rules.1.member.scanFrequency", Constraint: "CONTINUOUS_SCAN requires the ENHANCED scan type: BASIC scanning supports SCAN_ON_PUSH and MANUAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, tt.cfg)
			wantCode(t, err, registry.CodeInvalidParameter)
			if pe := (*registry.ParamError)(nil); !errors.As(err, &pe) || *pe != tt.want {
				t.Fatalf("error\n got %#v\nwant %#v", err, tt.want)
			}
		})
	}
	if got, _ := f.reg.RegistryScanningConfiguration(ctx, scope); got.ScanType != registry.ScanTypeBasic || len(got.Rules) != 0 {
		t.Fatalf("a refused configuration was stored: %+v", got)
	}
	// What BASIC supports, and all ENHANCED does, is accepted.
	for _, cfg := range []registry.RegistryScanningConfiguration{
		{ScanType: "BASIC", Rules: rules(registry.ScanningRule{ScanFrequency: "SCAN_ON_PUSH", RepositoryFilters: wildcard("*")}, registry.ScanningRule{ScanFrequency: "MANUAL", RepositoryFilters: wildcard("tmp/*")})},
		{ScanType: "ENHANCED", Rules: rules(registry.ScanningRule{ScanFrequency: "CONTINUOUS_SCAN", RepositoryFilters: wildcard("a.b_c-d/e*")}, registry.ScanningRule{ScanFrequency: "MANUAL", RepositoryFilters: wildcard(strings.Repeat("a", 255))})},
	} {
		if _, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, cfg); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

// The configuration is stored as a registry setting that clients cannot
// reach through the account setting operations.
func TestRegistryScanningNotAnAccountSetting(t *testing.T) {
	f := newFixture(t, registry.Options{})
	if _, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, registry.RegistryScanningConfiguration{ScanType: "ENHANCED"}); err != nil {
		t.Fatal(err)
	}
	const name = "ecrd:registry-scanning-configuration"
	wantCode(t, f.reg.PutAccountSetting(ctx, scope, name, `{"scanType":"FULL"}`), registry.CodeValidation)
	_, err := f.reg.AccountSetting(ctx, scope, name)
	wantCode(t, err, registry.CodeValidation)
	if got, _ := f.reg.RegistryScanningConfiguration(ctx, scope); got.ScanType != registry.ScanTypeEnhanced {
		t.Fatalf("scan type %q", got.ScanType)
	}
}

func TestRegistryScanningAuthorization(t *testing.T) {
	f := newFixture(t, registry.Options{})
	anon := context.Background()
	_, err := f.reg.PutRegistryScanningConfiguration(anon, scope, registry.RegistryScanningConfiguration{})
	wantCode(t, err, registry.CodeUnauthenticated)
	_, err = f.reg.RegistryScanningConfiguration(anon, scope)
	wantCode(t, err, registry.CodeUnauthenticated)
	_, _, err = f.reg.BatchGetRepositoryScanningConfiguration(anon, scope, []string{"app"})
	wantCode(t, err, registry.CodeUnauthenticated)
}

func TestBatchGetRepositoryScanningConfiguration(t *testing.T) {
	f := newFixture(t, registry.Options{})
	for name, scanOnPush := range map[string]bool{"prod/api": false, "prod/web": true, "dev/app": false, "dev/pushed": true, "prod-critical": false} {
		if _, err := f.reg.CreateRepository(ctx, key(name), metadata.RepositorySettings{ScanOnPush: scanOnPush}, nil); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"prod/api", "prod/web", "dev/app", "dev/pushed", "prod-critical", "gone"}

	type result struct {
		frequency  string
		scanOnPush bool
		applied    []registry.ScanFilter
	}
	none := []registry.ScanFilter{}
	tests := []struct {
		name string
		cfg  registry.RegistryScanningConfiguration
		want map[string]result
	}{
		{"default: the repository flag", registry.RegistryScanningConfiguration{}, map[string]result{
			"prod/api":      {"MANUAL", false, none},
			"prod/web":      {"SCAN_ON_PUSH", true, none},
			"dev/app":       {"MANUAL", false, none},
			"dev/pushed":    {"SCAN_ON_PUSH", true, none},
			"prod-critical": {"MANUAL", false, none},
		}},
		{"last matching rule wins", registry.RegistryScanningConfiguration{ScanType: "ENHANCED", Rules: []registry.ScanningRule{
			{ScanFrequency: "SCAN_ON_PUSH", RepositoryFilters: wildcard("*")},
			{ScanFrequency: "CONTINUOUS_SCAN", RepositoryFilters: wildcard("prod*", "*critical")},
		}}, map[string]result{
			"prod/api":      {"CONTINUOUS_SCAN", false, wildcard("prod*")},
			"prod/web":      {"CONTINUOUS_SCAN", true, wildcard("prod*")}, // the repository flag stays
			"dev/app":       {"SCAN_ON_PUSH", false, wildcard("*")},       // scanOnPush is the repository's own flag
			"dev/pushed":    {"SCAN_ON_PUSH", true, wildcard("*")},
			"prod-critical": {"CONTINUOUS_SCAN", false, wildcard("*critical")}, // the last matching filter
		}},
		{"a later MANUAL rule overrides", registry.RegistryScanningConfiguration{ScanType: "BASIC", Rules: []registry.ScanningRule{
			{ScanFrequency: "SCAN_ON_PUSH", RepositoryFilters: wildcard("prod/*", "dev/*")},
			{ScanFrequency: "MANUAL", RepositoryFilters: wildcard("dev/a*")},
		}}, map[string]result{
			"prod/api":      {"SCAN_ON_PUSH", false, wildcard("prod/*")},
			"prod/web":      {"SCAN_ON_PUSH", true, wildcard("prod/*")},
			"dev/app":       {"MANUAL", false, wildcard("dev/a*")},
			"dev/pushed":    {"SCAN_ON_PUSH", true, wildcard("dev/*")},
			"prod-critical": {"MANUAL", false, none}, // no match, no flag
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, tt.cfg); err != nil {
				t.Fatal(err)
			}
			got, failures, err := f.reg.BatchGetRepositoryScanningConfiguration(ctx, scope, names)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d configurations, want %d", len(got), len(tt.want))
			}
			for i, rc := range got {
				if rc.Key != key(names[i]) {
					t.Fatalf("configuration %d is of %v, want %s (request order)", i, rc.Key, names[i])
				}
				w := tt.want[rc.Key.Name]
				if rc.ScanFrequency != w.frequency || rc.ScanOnPush != w.scanOnPush || !reflect.DeepEqual(rc.AppliedScanFilters, w.applied) {
					t.Errorf("%s = %s, scanOnPush %v, %v; want %s, %v, %v", rc.Key.Name, rc.ScanFrequency, rc.ScanOnPush, rc.AppliedScanFilters, w.frequency, w.scanOnPush, w.applied)
				}
			}
			wantFailures := []registry.ScanningConfigurationFailure{{
				RepositoryName: "gone",
				Err:            &registry.NotFoundError{Kind: registry.KindRepository, Key: key("gone")},
			}}
			if !reflect.DeepEqual(failures, wantFailures) {
				t.Fatalf("failures = %+v", failures)
			}
		})
	}

	// All missing: no configurations, only failures.
	got, failures, err := f.reg.BatchGetRepositoryScanningConfiguration(ctx, scope, []string{"x1", "x2"})
	if err != nil || len(got) != 0 || len(failures) != 2 || failures[1].RepositoryName != "x2" {
		t.Fatalf("all missing = %+v, %+v, %v", got, failures, err)
	}
}

// TestScanResourceChangeEvent: an enhanced scanning configuration that
// changes repositories' scan frequency records ECR's "ECR Scan Resource
// Change" event naming each of them, with the old and new frequency.
func TestScanResourceChangeEvent(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushImage(t, "prod-api", "v1", "a")
	f.pushImage(t, "dev-api", "v1", "b")
	in := registry.RegistryScanningConfiguration{ScanType: registry.ScanTypeEnhanced, Rules: []registry.ScanningRule{
		{ScanFrequency: registry.ContinuousScan, RepositoryFilters: wildcard("prod-*")},
	}}
	if _, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, in); err != nil {
		t.Fatal(err)
	}
	events, err := f.meta.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range events {
		if e.Type != outbox.TypeScanResourceChange {
			continue
		}
		var env struct {
			Detail struct {
				ActionType   string              `json:"action-type"`
				ScanType     string              `json:"scan-type"`
				Repositories []map[string]string `json:"repositories"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(e.Document, &env); err != nil {
			t.Fatal(err)
		}
		for _, r := range env.Detail.Repositories {
			found = append(found, r["repository-name"]+":"+r["previous-scan-frequency"]+"->"+r["scan-frequency"])
		}
		if env.Detail.ActionType != "SCAN_FREQUENCY_CHANGE" || env.Detail.ScanType != "ENHANCED" {
			t.Errorf("event: %s", e.Document)
		}
	}
	if strings.Join(found, ",") != "prod-api:MANUAL->CONTINUOUS_SCAN" {
		t.Fatalf("scan resource changes: %v", found)
	}
}
