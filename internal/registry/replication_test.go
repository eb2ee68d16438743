package registry_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
)

var (
	drScope    = metadata.Scope{Account: scope.Account, Region: "us-west-2"}
	thirdScope = metadata.Scope{Account: scope.Account, Region: "eu-west-1"}
)

func replicateTo(deletes bool, dests ...metadata.Scope) registry.ReplicationConfiguration {
	rule := registry.ReplicationRule{DeleteReplication: &deletes}
	for _, d := range dests {
		rule.Destinations = append(rule.Destinations, registry.ReplicationDestination{Region: d.Region, RegistryID: d.Account})
	}
	return registry.ReplicationConfiguration{Rules: []registry.ReplicationRule{rule}}
}

func TestReplicationConfigurationRules(t *testing.T) {
	f := newFixture(t, registry.Options{})
	dest := func(i int) registry.ReplicationDestination {
		return registry.ReplicationDestination{Region: "us-west-2", RegistryID: "2" + strings.Repeat("0", 9) + string(rune('0'+i/10)) + string(rune('0'+i%10))}
	}
	var many []registry.ReplicationDestination
	for i := range 26 {
		many = append(many, dest(i))
	}
	for name, c := range map[string]registry.ReplicationConfiguration{
		"itself":              replicateTo(false, scope),
		"26 destinations":     {Rules: []registry.ReplicationRule{{Destinations: many[:13]}, {Destinations: many[13:]}}},
		"11 rules":            {Rules: make([]registry.ReplicationRule, 11)},
		"a wildcard filter":   {Rules: []registry.ReplicationRule{{Destinations: many[:1], RepositoryFilters: []registry.RepositoryFilter{{Filter: "ab", FilterType: "WILDCARD"}}}}},
		"101 filters in rule": {Rules: []registry.ReplicationRule{{Destinations: many[:1], RepositoryFilters: make([]registry.RepositoryFilter, 101)}}},
	} {
		_, err := f.reg.PutReplicationConfiguration(ctx, scope, c)
		wantCode(t, err, registry.CodeInvalidParameter)
		if got, _ := f.reg.ReplicationConfiguration(ctx, scope); len(got.Rules) != 0 {
			t.Fatalf("%s: refused, but stored", name)
		}
	}
	// 25 destinations in all, one of them named by two rules, is fine.
	ok := registry.ReplicationConfiguration{Rules: []registry.ReplicationRule{{Destinations: many[:13]}, {Destinations: many[12:25]}}}
	if _, err := f.reg.PutReplicationConfiguration(ctx, scope, ok); err != nil {
		t.Fatal(err)
	}
	got, err := f.reg.ReplicationConfiguration(ctx, scope)
	if err != nil || len(got.Rules) != 2 || got.Since.IsZero() {
		t.Fatalf("stored configuration: %+v %v", got, err)
	}
}

// replicationEvents returns the "ECR Replication Action" events of a
// registry.
func replicationEvents(t *testing.T, f *fixture, in metadata.Scope) []map[string]string {
	t.Helper()
	events, err := f.meta.Events(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range events {
		if e.Type != outbox.TypeReplicationAction || e.Scope != in {
			continue
		}
		var env struct{ Detail map[string]string }
		if err := json.Unmarshal(e.Document, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env.Detail)
	}
	return out
}

func TestReplicationAcrossRegions(t *testing.T) {
	f := newFixture(t, registry.Options{})
	m := f.pushImage(t, "before/app", "v0", "before")
	if _, err := f.reg.PutReplicationConfiguration(ctx, scope, replicateTo(true, drScope)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.PutReplicationConfiguration(ctx, drScope, replicateTo(false, thirdScope)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(1)
	pushed := f.pushImage(t, "team/app", "v1", "one")
	d := digest.FromBytes(pushed)
	if err := f.reg.ReplicateNow(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := f.reg.Manifest(ctx, metadata.RepoKey{Scope: drScope, Name: "team/app"}, "v1", false)
	if err != nil || got.Digest != d {
		t.Fatalf("the copy: %v %v", got.Digest, err)
	}
	_, statuses, err := f.reg.DescribeImageReplicationStatus(ctx, key("team/app"), registry.ImageID{Tag: "v1"})
	if err != nil || len(statuses) != 1 || statuses[0].Status != metadata.ReplicationComplete || statuses[0].Region != drScope.Region {
		t.Fatalf("status: %+v %v", statuses, err)
	}
	// Pushed before the configuration: not copied.
	if _, err := f.reg.Manifest(ctx, metadata.RepoKey{Scope: drScope, Name: "before/app"}, "v0", false); err == nil {
		t.Errorf("an image pushed before the configuration (%s) was copied", digest.FromBytes(m))
	}
	// The copy records its event in the destination, and goes no further.
	evs := replicationEvents(t, f, drScope)
	if len(evs) != 1 || evs[0]["action-type"] != "REPLICATE" || evs[0]["image-digest"] != string(d) || evs[0]["image-tag"] != "v1" ||
		evs[0]["source-region"] != scope.Region || evs[0]["source-account"] != scope.Account || evs[0]["result"] != "SUCCESS" {
		t.Errorf("replication events: %+v", evs)
	}
	if _, err := f.reg.Manifest(ctx, metadata.RepoKey{Scope: thirdScope, Name: "team/app"}, "v1", false); err == nil {
		t.Error("the copy was replicated on")
	}
	// A deletion follows.
	if _, _, err := f.reg.BatchDeleteImage(ctx, key("team/app"), []registry.ImageID{{Digest: string(d)}}); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.ReplicateNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Manifest(ctx, metadata.RepoKey{Scope: drScope, Name: "team/app"}, string(d), false); registry.CodeOf(err) != registry.CodeManifestUnknown {
		t.Errorf("the deletion did not follow: %v", err)
	}
}

func TestReplicationIntoAnotherAccountNeedsItsPolicy(t *testing.T) {
	f := newFixture(t, registry.Options{})
	other := metadata.Scope{Account: "210987654321", Region: scope.Region}
	if _, err := f.reg.PutReplicationConfiguration(ctx, scope, replicateTo(false, other)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(1)
	pushed := f.pushImage(t, "team/app", "v1", "one")
	if err := f.reg.ReplicateNow(ctx); err != nil {
		t.Fatal(err)
	}
	_, statuses, err := f.reg.DescribeImageReplicationStatus(ctx, key("team/app"), registry.ImageID{Digest: string(digest.FromBytes(pushed))})
	if err != nil || len(statuses) != 1 || statuses[0].Status != metadata.ReplicationFailed ||
		!strings.HasPrefix(statuses[0].FailureCode, "ACCESS_DENIED:") {
		t.Fatalf("status without the destination's policy: %+v %v", statuses, err)
	}
	if evs := replicationEvents(t, f, other); len(evs) != 1 || evs[0]["result"] != "FAILED" {
		t.Errorf("failure events: %+v", evs)
	}
}
