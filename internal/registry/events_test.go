package registry_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
)

// outboxRecord is what a test reads of an event.
type outboxRecord struct {
	Type, Name, Resource string
}

func outboxSince(t *testing.T, meta metadata.Reader, after int64) ([]outboxRecord, int64) {
	t.Helper()
	events, err := meta.Events(ctx, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []outboxRecord
	for _, e := range events {
		var env struct {
			Detail struct {
				EventName  string `json:"eventName"`
				ActionType string `json:"action-type"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(e.Document, &env); err != nil {
			t.Fatal(err)
		}
		name := env.Detail.EventName
		if e.Type == outbox.TypeImageAction {
			name = env.Detail.ActionType
		}
		out = append(out, outboxRecord{e.Type, name, e.Resource})
		after = e.ID
	}
	return out, after
}

// TestEveryChangeIsRecorded: each change to a registry appends its
// record to the outbox in its own transaction: the API call's, and for
// images ECR's image actions; a refused change records nothing.
func TestEveryChangeIsRecorded(t *testing.T) {
	f := newFixture(t, registry.Options{})
	repoARN := registry.RepositoryARN(key("team/app"))
	_, last := outboxSince(t, f.meta, 0)
	api := func(name string) outboxRecord { return outboxRecord{outbox.TypeAPICall, name, repoARN} }
	registryCall := func(name string) outboxRecord { return outboxRecord{outbox.TypeAPICall, name, ""} }
	image := func(action string) outboxRecord { return outboxRecord{outbox.TypeImageAction, action, repoARN} }
	steps := []struct {
		what   string
		change func() error
		want   []outboxRecord
	}{
		{"create a repository", func() error {
			_, err := f.reg.CreateRepository(ctx, key("team/app"), metadata.RepositorySettings{}, nil)
			return err
		}, []outboxRecord{api("CreateRepository")}},
		{"push an image", func() error { f.pushImage(t, "team/app", "v1", "a"); return nil },
			[]outboxRecord{image("PUSH"), api("PutImage")}},
		{"tag mutability", func() error {
			_, err := f.reg.PutImageTagMutability(ctx, key("team/app"), "IMMUTABLE", nil)
			return err
		}, []outboxRecord{api("PutImageTagMutability")}},
		{"a refused push (its FAILURE event)", func() error {
			f.reg.PutManifest(ctx, key("team/app"), "v1", nil, ociManifest, manifestOf([]byte(`{"seed":"a"}`), []byte("other")))
			return nil
		}, []outboxRecord{image("PUSH")}},
		{"scan on push", func() error {
			_, err := f.reg.PutImageScanningConfiguration(ctx, key("team/app"), true)
			return err
		}, []outboxRecord{api("PutImageScanningConfiguration")}},
		{"tags", func() error {
			return f.reg.TagResource(ctx, repoARN, []metadata.ResourceTag{{Key: "team", Value: "a"}})
		}, []outboxRecord{api("TagResource")}},
		{"untag", func() error { return f.reg.UntagResource(ctx, repoARN, []string{"team"}) }, []outboxRecord{api("UntagResource")}},
		{"repository policy", func() error {
			_, err := f.reg.SetRepositoryPolicy(ctx, key("team/app"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`, false)
			return err
		}, []outboxRecord{api("SetRepositoryPolicy")}},
		{"delete it", func() error { _, err := f.reg.DeleteRepositoryPolicy(ctx, key("team/app")); return err },
			[]outboxRecord{api("DeleteRepositoryPolicy")}},
		{"lifecycle policy", func() error {
			_, err := f.reg.PutLifecyclePolicy(ctx, key("team/app"), `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)
			return err
		}, []outboxRecord{api("PutLifecyclePolicy")}},
		{"delete it", func() error { _, err := f.reg.DeleteLifecyclePolicy(ctx, key("team/app")); return err },
			[]outboxRecord{api("DeleteLifecyclePolicy")}},
		{"registry policy", func() error {
			return f.reg.PutRegistryPolicy(ctx, scope, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"ecr:BatchGetImage","Resource":"*"}]}`)
		}, []outboxRecord{registryCall("PutRegistryPolicy")}},
		{"account setting", func() error { return f.reg.PutAccountSetting(ctx, scope, "BLOB_MOUNTING", "DISABLED") },
			[]outboxRecord{registryCall("PutAccountSetting")}},
		{"pull time exclusion", func() error {
			_, err := f.reg.RegisterPullTimeUpdateExclusion(ctx, scope, "arn:aws:iam::123456789012:role/scanner")
			return err
		}, []outboxRecord{registryCall("RegisterPullTimeUpdateExclusion")}},
		{"delete an image", func() error {
			_, _, err := f.reg.BatchDeleteImage(ctx, key("team/app"), []registry.ImageID{{Tag: "v1"}})
			return err
		}, []outboxRecord{image("DELETE"), api("BatchDeleteImage")}},
		{"delete the repository", func() error { _, _, err := f.reg.DeleteRepository(ctx, key("team/app"), true); return err },
			[]outboxRecord{api("DeleteRepository")}},
		{"create on push", func() error { _, err := f.reg.StartUpload(ctx, key("made/on-push")); return err },
			[]outboxRecord{{outbox.TypeAPICall, "CreateRepository", registry.RepositoryARN(key("made/on-push"))}}},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		var got []outboxRecord
		got, last = outboxSince(t, f.meta, last)
		if !slices.Equal(got, s.want) {
			t.Errorf("%s recorded %+v, want %+v", s.what, got, s.want)
		}
	}
}

// twoProcesses are two registries over one database, each with its own
// caches and outbox follower, as two ecrd processes sharing it are.
func twoProcesses(t *testing.T) (a, b *registry.Registry, fa, fb *outbox.Follower) {
	t.Helper()
	dir := t.TempDir()
	blobs, err := filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() (*registry.Registry, *outbox.Follower) {
		db, err := sqlite.Open(ctx, filepath.Join(dir, "ecrd.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		reg := registry.New(db, blobs, registry.Options{Logger: log})
		f := outbox.NewFollower(db, 50*time.Millisecond, log)
		f.Subscribe(reg.Changed)
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return reg, f
	}
	a, fa = open()
	b, fb = open()
	registrytest.CreateOnPush(t, a)
	return a, b, fa, fb
}

// TestChangeThroughOneProcessBindsTheOther: a repository's settings and
// images, cached by process B, change through process A; once B's
// follower has read the outbox, B answers with the change.
func TestChangeThroughOneProcessBindsTheOther(t *testing.T) {
	a, b, _, fb := twoProcesses(t)
	pa := &fixture{reg: a}
	pa.pushImage(t, "team/app", "v1", "one")
	img, err := b.Manifest(ctx, key("team/app"), "v1", false) // cached in B
	if err != nil {
		t.Fatal(err)
	}
	second := pa.pushImage(t, "team/app", "v1", "two") // moves the tag, through A
	if _, err := a.PutImageTagMutability(ctx, key("team/app"), "IMMUTABLE", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Manifest(ctx, key("team/app"), "v1", false); got.Digest != img.Digest {
		t.Fatalf("B's cache was not warm: it read %s", got.Digest)
	}
	if err := fb.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.Manifest(ctx, key("team/app"), "v1", false)
	if err != nil || string(got.Content) != string(second) {
		t.Errorf("B after following: %s, %v; want the tag's new image", got.Digest, err)
	}
	repos, _, err := b.DescribeRepositories(ctx, scope, []string{"team/app"}, "", 0)
	if err != nil || repos[0].Settings.TagMutability != "IMMUTABLE" {
		t.Errorf("B after following: %+v, %v; want IMMUTABLE", repos, err)
	}
}

// TestChangeBindsWithinASecond: with B's follower running, a change
// through A binds B within one second.
func TestChangeBindsWithinASecond(t *testing.T) {
	a, b, _, fb := twoProcesses(t)
	bg, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { fb.Run(bg); close(done) }()
	defer func() { cancel(); <-done }()
	pa := &fixture{reg: a}
	pa.pushImage(t, "team/app", "v1", "one")
	if _, _, err := b.DescribeRepositories(ctx, scope, []string{"team/app"}, "", 0); err != nil { // cached in B
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := a.PutImageTagMutability(ctx, key("team/app"), "IMMUTABLE", nil); err != nil {
		t.Fatal(err)
	}
	for {
		repos, _, err := b.DescribeRepositories(ctx, scope, []string{"team/app"}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if repos[0].Settings.TagMutability == "IMMUTABLE" {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("the change made through A did not bind B within a second")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("bound after %s", time.Since(start).Round(time.Millisecond))
}

// TestPruneEvents: events older than the retention period go, newer ones
// stay.
func TestPruneEvents(t *testing.T) {
	f := newFixture(t, registry.Options{EventRetention: time.Hour})
	f.pushImage(t, "old/app", "v1", "a")
	f.clock.Advance(2 * time.Hour)
	f.pushImage(t, "new/app", "v1", "b")
	before, _ := outboxSince(t, f.meta, 0)
	n, err := f.reg.PruneEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := outboxSince(t, f.meta, 0)
	if n == 0 || len(after) != len(before)-n {
		t.Fatalf("pruned %d of %d events, %d left", n, len(before), len(after))
	}
	for _, e := range after {
		if e.Resource == registry.RepositoryARN(key("old/app")) {
			t.Errorf("an event of the old push is left: %+v", e)
		}
	}
	if len(after) == 0 {
		t.Error("the new push's events were pruned too")
	}
}

// TestRefusedPushRecordsFailure: a manifest push that an immutable tag
// refuses records an "ECR Image Action" PUSH with result FAILURE.
func TestRefusedPushRecordsFailure(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushImage(t, "app", "v1", "a")
	if _, err := f.reg.PutImageTagMutability(ctx, key("app"), registry.Immutable, nil); err != nil {
		t.Fatal(err)
	}
	config, layer := []byte(`{"seed":"b"}`), []byte("layer b")
	f.pushBlob(t, "app", config)
	f.pushBlob(t, "app", layer)
	m := manifestOf(config, layer)
	_, err := f.reg.PutManifest(ctx, key("app"), "v1", nil, ociManifest, m)
	wantCode(t, err, registry.CodeTagImmutable)
	events, err := f.meta.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	var env struct{ Detail map[string]string }
	if err := json.Unmarshal(last.Document, &env); err != nil {
		t.Fatal(err)
	}
	if last.Type != outbox.TypeImageAction || env.Detail["result"] != "FAILURE" || env.Detail["action-type"] != "PUSH" ||
		env.Detail["image-tag"] != "v1" || env.Detail["image-digest"] != digest.FromBytes(m).String() {
		t.Fatalf("last event: %s %s", last.Type, last.Document)
	}
}
