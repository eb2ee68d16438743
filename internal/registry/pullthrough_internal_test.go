package registry

import (
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/testutil"
)

func TestPullThroughRuleFor(t *testing.T) {
	rules := []PullThroughCacheRule{
		{Prefix: ptcRootPrefix, UpstreamRegistryURL: "root.example"},
		{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io"},
		{Prefix: "hub/library", UpstreamRegistryURL: "mirror.example", UpstreamRepositoryPrefix: "mirrored"},
	}
	for _, tt := range []struct{ name, url, upstream string }{
		{"hub/library/alpine", "mirror.example", "mirrored/alpine"},
		{"hub/nginx", "registry-1.docker.io", "nginx"},
		{"hub", "root.example", "hub"}, // the prefix alone is no repository under it
		{"app/api", "root.example", "app/api"},
		{"hubx/app", "root.example", "hubx/app"},
	} {
		r, up, ok := pullThroughRuleFor(rules, tt.name)
		if !ok || r.UpstreamRegistryURL != tt.url || up != tt.upstream {
			t.Errorf("%s: rule %q, upstream %q, %v; want %q, %q", tt.name, r.UpstreamRegistryURL, up, ok, tt.url, tt.upstream)
		}
	}
	if _, _, ok := pullThroughRuleFor(rules[1:], "app/api"); ok {
		t.Error("a repository under no prefix found a rule")
	}
}

func TestPullThroughRulesStored(t *testing.T) {
	meta := testutil.SQLite(t, t.TempDir())
	ctx := t.Context()
	scope := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	if rules, err := pullThroughRules(ctx, meta, scope); err != nil || len(rules) != 0 {
		t.Fatalf("rules of a new registry: %v %v", rules, err)
	}
	want := []PullThroughCacheRule{{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", UpstreamRegistry: "docker-hub"}}
	if err := meta.Update(ctx, func(tx metadata.Tx) error { return putPullThroughRules(ctx, tx, scope, want) }); err != nil {
		t.Fatal(err)
	}
	got, err := pullThroughRules(ctx, meta, scope)
	if err != nil || len(got) != 1 || got[0].UpstreamRegistry != "docker-hub" || got[0].Prefix != "hub" {
		t.Fatalf("stored rules: %+v %v", got, err)
	}
}
