package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
)

// expireAll is a policy that keeps only the newest image.
const expireAll = `{"rules":[{"rulePriority":1,"description":"keep the newest","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

func TestPullTimeExclusionLeavesPullTimes(t *testing.T) {
	f := newFixture(t, registry.Options{})
	m := f.pushImage(t, "app", "v1", "a")
	d := digest.FromBytes(m)
	// A session of a role the repository policy lets pull; exclusions
	// name the role.
	role := "arn:aws:iam::" + scope.Account + ":role/scanner"
	scanner := (&identity.Session{Account: scope.Account, Role: "scanner", RoleARN: role, RoleID: "AROASCANNER", Name: "scan"}).Principal()
	if _, err := f.reg.SetRepositoryPolicy(ctx, key("app"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+role+`"},"Action":"ecr:BatchGetImage"}]}`, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.RegisterPullTimeUpdateExclusion(ctx, scope, role); err != nil {
		t.Fatal(err)
	}
	asScanner := identity.NewContext(context.Background(), scanner)
	if _, err := f.reg.Manifest(asScanner, key("app"), "v1", true); err != nil {
		t.Fatal(err)
	}
	f.reg.FlushPulls(ctx)
	if img := f.image(t, "app", d); !img.LastPulledAt.IsZero() {
		t.Fatalf("an excluded principal's pull set the last pull time to %v", img.LastPulledAt)
	}
	if err := f.reg.DeregisterPullTimeUpdateExclusion(ctx, scope, role); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Manifest(asScanner, key("app"), "v1", true); err != nil {
		t.Fatal(err)
	}
	f.reg.FlushPulls(ctx)
	if img := f.image(t, "app", d); img.LastPulledAt.IsZero() {
		t.Fatal("once no longer excluded, the principal's pull was not recorded")
	}
}

func (f *fixture) image(t *testing.T, repo string, d digest.Digest) metadata.Image {
	t.Helper()
	r, err := f.meta.Repository(ctx, key(repo))
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.meta.Image(ctx, r.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLifecycleRunHoldsALease(t *testing.T) {
	reg1, stores := registrytest.New(t, registry.Options{Holder: "one"})
	registrytest.CreateOnPush(t, reg1)
	reg2 := registry.New(stores.Meta, stores.Blobs, registry.Options{Holder: "two"})
	// Another process holds the lease: both on-demand runs are refused
	// while it lasts.
	if err := stores.Meta.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.AcquireLease(ctx, "lifecycle", "three", time.Now(), time.Now().Add(time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, reg := range []*registry.Registry{reg1, reg2} {
		_, err := reg.RunLifecyclePolicies(ctx, scope, "")
		wantCode(t, err, registry.CodeJobBusy)
	}
	if err := stores.Meta.Update(ctx, func(tx metadata.Tx) error { return tx.ReleaseLease(ctx, "lifecycle", "three") }); err != nil {
		t.Fatal(err)
	}
	if _, err := reg2.RunLifecyclePolicies(ctx, scope, ""); err != nil {
		t.Fatalf("a run once the lease is free: %v", err)
	}
}

func TestLifecycleRunExpiresThroughTheCore(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushImage(t, "app", "old", "a")
	f.clock.Advance(time.Second) // pushed later, by the registry's clock
	f.pushImage(t, "app", "new", "b")
	if _, err := f.reg.PutLifecyclePolicy(ctx, key("app"), expireAll); err != nil {
		t.Fatal(err)
	}
	rep, err := f.reg.RunLifecyclePolicies(ctx, scope, "app")
	if err != nil || rep.Expired != 1 {
		t.Fatalf("run: %+v, %v", rep, err)
	}
	if _, err := f.reg.Manifest(ctx, key("app"), "old", false); registry.CodeOf(err) != registry.CodeManifestUnknown {
		t.Fatalf("the old image survived the run: %v", err)
	}
	if _, err := f.reg.Manifest(ctx, key("app"), "new", false); err != nil {
		t.Fatalf("the newest image was expired: %v", err)
	}
	// Only the account's root may run policies on demand.
	user := identity.NewContext(context.Background(), identity.Principal{Account: scope.Account, ARN: "arn:aws:iam::" + scope.Account + ":user/dev"})
	_, err = f.reg.RunLifecyclePolicies(user, scope, "app")
	wantCode(t, err, registry.CodeAccessDenied)
}

func TestDeleteBlobOfAnImageIsRefused(t *testing.T) {
	f := newFixture(t, registry.Options{})
	m := f.pushImage(t, "app", "v1", "a")
	config := mustConfigDigest(t, m)
	err := f.reg.DeleteBlob(ctx, key("app"), config)
	wantCode(t, err, registry.CodeManifestReferenced)
	if err := f.reg.DeleteManifest(ctx, key("app"), digest.FromBytes(m).String()); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteBlob(ctx, key("app"), config); err != nil {
		t.Fatalf("deleting the blob of a deleted image: %v", err)
	}
}

func TestTemplateLifecyclePolicy(t *testing.T) {
	f := newBareFixture(t)
	_, err := f.reg.CreateCreationTemplate(ctx, scope, registry.CreationTemplate{Prefix: "bad", AppliedFor: []string{registry.AppliedForCreateOnPush},
		LifecyclePolicy: `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0},"action":{"type":"expire"}}]}`})
	wantCode(t, err, registry.CodeInvalidParameter)
	if _, err := f.reg.CreateCreationTemplate(ctx, scope, registry.CreationTemplate{Prefix: "team", AppliedFor: []string{registry.AppliedForCreateOnPush},
		LifecyclePolicy: expireAll}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.StartUpload(ctx, key("team/app")); err != nil {
		t.Fatal(err)
	}
	p, err := f.reg.LifecyclePolicy(ctx, key("team/app"))
	if err != nil || p.Text != expireAll {
		t.Fatalf("the repository the template created has policy %q, %v", p.Text, err)
	}
}

func TestLifecyclePolicyPreviewPages(t *testing.T) {
	f := newFixture(t, registry.Options{})
	for i, tag := range []string{"a", "", "b", "", "c"} {
		if tag != "" {
			f.pushImage(t, "app", tag, string(rune('0'+i)))
		} else {
			f.pushImage(t, "app", "untag-me", string(rune('0'+i)))
			if err := f.reg.DeleteManifest(ctx, key("app"), "untag-me"); err != nil { // the tag goes, the image stays
				t.Fatal(err)
			}
		}
		f.clock.Advance(time.Second)
	}
	if _, err := f.reg.StartLifecyclePolicyPreview(ctx, key("app"), expireAll, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Four of five images expire: the newest ("c") stays.
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		p, sum, next, err := f.reg.LifecyclePolicyPreviewPage(ctx, key("app"), registry.PreviewFilter{}, token, 1)
		if err != nil || sum.Expiring != 4 || len(p.Results) != 1 {
			t.Fatalf("page %d: %+v, %+v, %v", pages, p.Results, sum, err)
		}
		got = append(got, p.Results[0].Digest)
		if next == "" {
			break
		}
		token = next
	}
	if len(got) != 4 {
		t.Fatalf("pages of one gave %d results, want 4", len(got))
	}
	p, _, next, err := f.reg.LifecyclePolicyPreviewPage(ctx, key("app"), registry.PreviewFilter{Tags: registry.TagStatusUntagged}, "", 10)
	if err != nil || len(p.Results) != 2 || next != "" {
		t.Fatalf("untagged results: %+v, %q, %v", p.Results, next, err)
	}
	p, _, _, err = f.reg.LifecyclePolicyPreviewPage(ctx, key("app"), registry.PreviewFilter{IDs: []registry.ImageID{{Tag: "b"}}}, "", 10)
	if err != nil || len(p.Results) != 1 || p.Results[0].Tags[0] != "b" {
		t.Fatalf("results of image b: %+v, %v", p.Results, err)
	}
	_, _, _, err = f.reg.LifecyclePolicyPreviewPage(ctx, key("app"), registry.PreviewFilter{}, "garbage", 10)
	wantCode(t, err, registry.CodeInvalidParameter)
}

// TestLifecycleRunRecordsPolicyExecutionEvents: a run's actions are
// CloudTrail's PolicyExecutionEvent service events, ten images to one,
// naming the policy's rules and each image acted on.
func TestLifecycleRunRecordsPolicyExecutionEvents(t *testing.T) {
	f := newFixture(t, registry.Options{})
	for i := range 13 {
		f.pushImage(t, "app", fmt.Sprintf("t%d", i), fmt.Sprint(i))
		f.clock.Advance(time.Second)
	}
	if _, err := f.reg.PutLifecyclePolicy(ctx, key("app"), expireAll); err != nil {
		t.Fatal(err)
	}
	if rep, err := f.reg.RunLifecyclePolicies(ctx, scope, "app"); err != nil || rep.Expired != 12 {
		t.Fatalf("run: %+v, %v", rep, err)
	}
	events, err := f.meta.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, e := range events {
		if e.Type != outbox.TypeServiceEvent {
			continue
		}
		var env struct {
			Detail struct {
				EventName           string `json:"eventName"`
				EventType           string `json:"eventType"`
				UserIdentity        struct{ InvokedBy string }
				ServiceEventDetails struct {
					RepositoryName       string `json:"repositoryName"`
					LifecycleEventPolicy struct {
						LifecycleEventRules []struct {
							RulePriority            int    `json:"rulePriority"`
							Action                  string `json:"action"`
							LifecycleEventSelection struct {
								TagStatus   string `json:"tagStatus"`
								CountType   string `json:"countType"`
								CountNumber int    `json:"countNumber"`
							} `json:"lifecycleEventSelection"`
						} `json:"lifecycleEventRules"`
					} `json:"lifecycleEventPolicy"`
					Actions []struct {
						RulePriority int `json:"rulePriority"`
						Image        struct {
							Digest    string   `json:"digest"`
							TagStatus string   `json:"tagStatus"`
							TagList   []string `json:"tagList"`
							PushedAt  int64    `json:"pushedAt"`
						} `json:"lifecycleEventImage"`
					} `json:"lifecycleEventImageActions"`
				} `json:"serviceEventDetails"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(e.Document, &env); err != nil {
			t.Fatal(err)
		}
		d := env.Detail
		rules := d.ServiceEventDetails.LifecycleEventPolicy.LifecycleEventRules
		if d.EventName != "PolicyExecutionEvent" || d.EventType != "AwsServiceEvent" || d.UserIdentity.InvokedBy != "AWS Internal" ||
			d.ServiceEventDetails.RepositoryName != "app" || len(rules) != 1 || rules[0].Action != "expire" ||
			rules[0].LifecycleEventSelection.CountType != "Image count more than" {
			t.Fatalf("service event: %s", e.Document)
		}
		for _, a := range d.ServiceEventDetails.Actions {
			if a.Image.TagStatus != "Tagged" || len(a.Image.TagList) != 1 || a.Image.PushedAt == 0 || !strings.HasPrefix(a.Image.Digest, "sha256:") {
				t.Fatalf("image action: %+v", a)
			}
		}
		sizes = append(sizes, len(d.ServiceEventDetails.Actions))
	}
	if fmt.Sprint(sizes) != "[10 2]" {
		t.Fatalf("PolicyExecutionEvents of %v images, want [10 2]", sizes)
	}
}

// TestArchiveRecordsStorageClassEvents: archiving an image moves its
// referrers with it; the image's event is an "ECR Image Action", the
// referrer's an "ECR Referrer Action", both UPDATE_STORAGE_CLASS with the
// target class and media types.
func TestArchiveRecordsStorageClassEvents(t *testing.T) {
	f := newFixture(t, registry.Options{})
	subject := f.pushImage(t, "app", "v1", "subject")
	sd := digest.FromBytes(subject)
	empty, payload := []byte("{}"), []byte("signature")
	f.pushBlob(t, "app", empty)
	f.pushBlob(t, "app", payload)
	sig := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},`+
		`"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%d}],`+
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}}`,
		digest.FromBytes(empty), digest.FromBytes(payload), len(payload), sd, len(subject)))
	if _, err := f.reg.PutManifest(ctx, key("app"), digest.FromBytes(sig).String(), nil, ociManifest, sig); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.reg.UpdateImageStorageClass(ctx, key("app"), registry.ImageID{Tag: "v1"}, registry.TargetArchive); err != nil {
		t.Fatal(err)
	}
	events, err := f.meta.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, e := range events {
		var env struct{ Detail map[string]string }
		if json.Unmarshal(e.Document, &env) == nil && env.Detail["action-type"] == "UPDATE_STORAGE_CLASS" {
			got[e.Type] = env.Detail
		}
	}
	img, ref := got[outbox.TypeImageAction], got[outbox.TypeReferrerAction]
	if img["image-digest"] != string(sd) || img["target-storage-class"] != "ARCHIVE" || img["image-tag"] != "v1" ||
		ref["image-digest"] != string(digest.FromBytes(sig)) || ref["artifact-media-type"] != "application/vnd.dev.cosign.artifact.sig.v1+json" ||
		ref["manifest-media-type"] != ociManifest {
		t.Fatalf("storage class events: %v", got)
	}
}
