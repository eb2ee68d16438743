package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// The time of the filled database: nanoseconds, which PostgreSQL keeps to
// the microsecond.
var base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

var (
	scopeA = metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	scopeB = metadata.Scope{Account: "210987654321", Region: "eu-west-1"}
	// scopeC holds nothing.
	scopeC = metadata.Scope{Account: "123456789012", Region: "ap-south-1"}
)

// filled is what fillSQLite wrote: what to ask the stores about.
type filled struct {
	repos    []metadata.RepoKey
	digests  []digest.Digest // images and blobs
	tags     []string
	iamNames map[string][]string // kind -> names
	accounts []string
	keys     []string
	// lastEvent is the largest event ID the database ever gave (its
	// newest event was pruned).
	lastEvent int64
}

// fillSQLite writes a row of every kind into a SQLite store at path,
// through metadata.Store as the registry does.
func fillSQLite(t *testing.T, path string) filled {
	t.Helper()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var f filled
	up := func(fn func(tx metadata.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	f.iamNames = map[string][]string{}
	up(func(tx metadata.Tx) error {
		for i, a := range []string{scopeA.Account, scopeB.Account} {
			if err := tx.CreateAccount(ctx, metadata.Account{ID: a, CreatedAt: base.Add(time.Duration(i) * time.Hour)}); err != nil {
				return err
			}
		}
		for i, k := range []metadata.AccessKey{
			{ID: "AKIAIMPORTTEST000001", Account: scopeA.Account, Principal: "arn:aws:iam::123456789012:root", Secret: []byte("sealed-1"), Status: "Active"},
			{ID: "AKIAIMPORTTEST000002", Account: scopeB.Account, Principal: "arn:aws:iam::210987654321:user/bob", Secret: []byte("sealed-2"), Status: "Inactive"},
		} {
			k.CreatedAt = base.Add(time.Duration(i) * time.Minute)
			if err := tx.PutAccessKey(ctx, k); err != nil {
				return err
			}
		}
		for _, e := range []metadata.IAMEntity{
			{Account: scopeA.Account, Kind: metadata.IAMUser, Name: "Alice", Document: []byte(`{"user":"Alice"}`)},
			{Account: scopeA.Account, Kind: metadata.IAMUser, Name: "bob", Document: []byte(`{"user":"bob"}`)},
			{Account: scopeA.Account, Kind: metadata.IAMRole, Name: "Deployer", Document: []byte(`{"role":1}`)},
			{Account: scopeA.Account, Kind: metadata.IAMPolicy, Name: "ReadOnly", Document: []byte(`{"policy":1}`)},
			{Account: scopeA.Account, Kind: metadata.IAMOIDCProvider, Name: "token.example.com", Document: []byte(`{"oidc":1}`)},
			{Account: scopeA.Account, Kind: metadata.KMSKey, Name: "us-east-1/1234abcd-12ab-34cd-56ef-1234567890ab", Document: []byte(`{"material":"sealed"}`)},
			{Account: scopeA.Account, Kind: metadata.KMSAlias, Name: "us-east-1/alias/ecr", Document: []byte(`{"target":"1234abcd"}`)},
			{Account: scopeB.Account, Kind: metadata.IAMUser, Name: "Carol", Document: []byte(`{"user":"Carol"}`)},
		} {
			if err := tx.CreateIAMEntity(ctx, e); err != nil {
				return err
			}
			f.iamNames[e.Kind] = append(f.iamNames[e.Kind], e.Name)
		}
		return nil
	})
	f.accounts = []string{scopeA.Account, scopeB.Account, "999999999999"}
	f.keys = []string{"AKIAIMPORTTEST000001", "AKIAIMPORTTEST000002", "AKIAMISSING000000000"}

	// Repositories, one made and deleted so that IDs have a gap.
	repos := map[string]metadata.Repository{}
	for i, k := range []metadata.RepoKey{
		{Scope: scopeA, Name: "app"}, {Scope: scopeA, Name: "gone"}, {Scope: scopeA, Name: "lib/base"},
		{Scope: scopeA, Name: "empty"}, {Scope: scopeB, Name: "app"},
	} {
		up(func(tx metadata.Tx) error {
			r, err := tx.CreateRepository(ctx, metadata.Repository{Key: k, CreatedAt: base.Add(time.Duration(i) * time.Second),
				Settings: metadata.RepositorySettings{TagMutability: "MUTABLE", EncryptionType: "AES256"}})
			repos[k.Account+"/"+k.Name] = r
			return err
		})
	}
	up(func(tx metadata.Tx) error { return tx.DeleteRepository(ctx, repos[scopeA.Account+"/gone"].ID) })
	app, lib, other := repos[scopeA.Account+"/app"], repos[scopeA.Account+"/lib/base"], repos[scopeB.Account+"/app"]
	app.Settings = metadata.RepositorySettings{
		TagMutability: "IMMUTABLE_WITH_EXCLUSION", MutabilityExclusions: []string{"latest"}, EncryptionType: "KMS",
		KMSKey: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", ScanOnPush: true,
		Policy: `{"Version":"2012-10-17","Statement":[]}`, BlobKey: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	}
	app.Tags = []metadata.ResourceTag{{Key: "team", Value: "platform"}, {Key: "tier", Value: "1"}}
	up(func(tx metadata.Tx) error { return tx.UpdateRepository(ctx, app) })
	f.repos = []metadata.RepoKey{app.Key, lib.Key, {Scope: scopeA, Name: "empty"}, other.Key, {Scope: scopeA, Name: "gone"}}

	// Blobs: linked, recorded, one an orphan being deleted.
	layer, config, orphan := digest.FromString("layer"), digest.FromString("config"), digest.FromString("orphan")
	up(func(tx metadata.Tx) error {
		for i, d := range []digest.Digest{layer, config} {
			b := metadata.Blob{Digest: d, Size: int64(100 * (i + 1))}
			for _, r := range []int64{app.ID, lib.ID, other.ID} {
				if err := tx.LinkBlob(ctx, r, b, base.Add(time.Duration(r)*time.Millisecond)); err != nil {
					return err
				}
			}
			if err := tx.RecordBlob(ctx, b, base); err != nil {
				return err
			}
		}
		_, err := tx.MarkOrphansDeleting(ctx, []metadata.Blob{{Digest: orphan, Size: 7}}, base)
		return err
	})

	// Images: two manifests pushed within one microsecond, the second
	// first (PostgreSQL keeps the order by seq, not by time), an index of both, a referrer of the
	// first, an archived one and one being restored.
	manifest := func(repo int64, content string, at time.Time) metadata.Image {
		return metadata.Image{RepoID: repo, Digest: digest.FromString(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Size: int64(len(content)), ImageSize: 300, PushedAt: at, Content: []byte(content), StorageClass: metadata.StorageStandard}
	}
	micro := base.Truncate(time.Microsecond)
	m1 := manifest(app.ID, `{"m":1}`, micro.Add(900*time.Nanosecond))
	m2 := manifest(app.ID, `{"m":2}`, micro.Add(100*time.Nanosecond))
	index := manifest(app.ID, `{"index":1}`, base.Add(time.Second))
	index.MediaType = "application/vnd.oci.image.index.v1+json"
	ref := manifest(app.ID, `{"sbom":1}`, base.Add(2*time.Second))
	ref.ArtifactType, ref.Subject, ref.Annotations = "application/spdx+json", m1.Digest, map[string]string{"org.example": "yes", "b": "2"}
	archived := manifest(app.ID, `{"archived":1}`, base.Add(3*time.Second))
	restoring := manifest(app.ID, `{"restoring":1}`, base.Add(4*time.Second))
	libImg := manifest(lib.ID, `{"lib":1}`, base)
	otherImg := manifest(other.ID, `{"m":1}`, base)
	blobRefs := []metadata.Ref{{Digest: layer, Kind: metadata.RefBlob}, {Digest: config, Kind: metadata.RefBlob}}
	up(func(tx metadata.Tx) error {
		for _, p := range []struct {
			img  metadata.Image
			refs []metadata.Ref
			tags []string
		}{
			{m1, blobRefs, []string{"v1"}},
			{m2, blobRefs, []string{"v2", "stable"}},
			{index, []metadata.Ref{{Digest: m1.Digest, Kind: metadata.RefManifest}, {Digest: m2.Digest, Kind: metadata.RefManifest}}, []string{"latest"}},
			{ref, blobRefs[:1], nil},
			{archived, blobRefs, []string{"old"}},
			{restoring, blobRefs, nil},
			{libImg, blobRefs, []string{"1.0"}},
			{otherImg, blobRefs, []string{"v1"}},
		} {
			if err := tx.PutImage(ctx, p.img, p.refs); err != nil {
				return err
			}
			for _, tag := range p.tags {
				if err := tx.PutTag(ctx, p.img.RepoID, tag, p.img.Digest, base.Add(time.Minute)); err != nil {
					return err
				}
			}
		}
		if err := tx.SetImageTimes(ctx, app.ID, m2.Digest, time.Time{}, base.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.SetImageStorage(ctx, app.ID, archived.Digest, metadata.StorageArchive, base.Add(time.Hour), time.Time{}); err != nil {
			return err
		}
		return tx.SetImageStorage(ctx, app.ID, restoring.Digest, metadata.StorageStandard, base.Add(time.Hour), base.Add(48*time.Hour))
	})
	if err := s.RecordPulls(ctx, []metadata.Pull{{RepoID: app.ID, Digest: m1.Digest, At: base.Add(5 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	f.digests = []digest.Digest{m1.Digest, m2.Digest, index.Digest, ref.Digest, archived.Digest, restoring.Digest, libImg.Digest,
		layer, config, orphan, digest.FromString("missing")}
	f.tags = []string{"v1", "v2", "stable", "latest", "old", "1.0", "missing"}

	// Registry settings and policies.
	up(func(tx metadata.Tx) error {
		if err := tx.PutCreationTemplate(ctx, metadata.CreationTemplate{Scope: scopeA, Prefix: "ROOT", Document: []byte(`{"appliedFor":["CREATE_ON_PUSH"]}`),
			CreatedAt: base, UpdatedAt: base.Add(time.Second)}); err != nil {
			return err
		}
		if err := tx.PutCreationTemplate(ctx, metadata.CreationTemplate{Scope: scopeA, Prefix: "team/", Document: []byte(`{}`),
			CreatedAt: base, UpdatedAt: base}); err != nil {
			return err
		}
		if err := tx.PutAccountSetting(ctx, scopeA, "BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"); err != nil {
			return err
		}
		if err := tx.PutRegistryPolicy(ctx, scopeA, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`); err != nil {
			return err
		}
		if err := tx.PutLifecyclePolicy(ctx, app.ID, `{"rules":[]}`, base); err != nil {
			return err
		}
		if err := tx.SetLifecycleEvaluated(ctx, app.ID, base.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.PutLifecyclePolicy(ctx, lib.ID, `{"rules":[1]}`, base); err != nil {
			return err
		}
		if err := tx.PutLifecyclePreview(ctx, metadata.LifecyclePreview{RepoID: app.ID, Text: `{"rules":[]}`, Status: "COMPLETE",
			StartedAt: base, EvaluateAt: base.Add(time.Second), Results: []byte(`[{"digest":"x"}]`)}); err != nil {
			return err
		}
		if err := tx.PutLifecyclePreview(ctx, metadata.LifecyclePreview{RepoID: lib.ID, Text: `{}`, Status: "IN_PROGRESS",
			StartedAt: base, EvaluateAt: base}); err != nil {
			return err
		}
		return tx.PutPullTimeExclusion(ctx, scopeA, metadata.PullTimeExclusion{Principal: "arn:aws:iam::123456789012:role/ci", CreatedAt: base})
	})

	// Scans: complete with findings and packages, failed, pending, and
	// one claimed by a process.
	up(func(tx metadata.Tx) error {
		for _, sc := range []metadata.ImageScan{
			{RepoID: app.ID, Digest: m1.Digest, Status: metadata.ScanComplete, Description: "The scan was completed successfully.",
				RequestedAt: base, Attempts: 1, CompletedAt: base.Add(time.Minute), SourceVersion: "v1", SourceUpdatedAt: base.Add(-time.Hour),
				Counts: map[string]int{"HIGH": 2, "LOW": 1}, Findings: []byte(`[{"name":"CVE-1"}]`), Packages: []byte(`["pkg"]`)},
			{RepoID: app.ID, Digest: m2.Digest, Status: metadata.ScanComplete, Description: "no packages", RequestedAt: base,
				Attempts: 1, CompletedAt: base, SourceVersion: "v1", Packages: []byte{}},
			{RepoID: app.ID, Digest: index.Digest, Status: metadata.ScanFailed, Description: "failed", RequestedAt: base, Attempts: 3,
				NotBefore: base.Add(time.Hour), CompletedAt: base},
			{RepoID: app.ID, Digest: archived.Digest, Status: metadata.ScanPending, Description: "", RequestedAt: base.Add(time.Second)},
			{RepoID: lib.ID, Digest: libImg.Digest, Status: metadata.ScanPending, Description: "", RequestedAt: base},
		} {
			if err := tx.PutImageScan(ctx, sc); err != nil {
				return err
			}
		}
		_, err := tx.ClaimImageScans(ctx, "old-server:/data", base.Add(time.Hour), base.Add(time.Hour+time.Minute), 1)
		return err
	})

	// Replication: tasks (of a backfill or not, one claimed by a process,
	// one failed and waiting), backfills and a cursor.
	destA := metadata.Scope{Account: scopeB.Account, Region: "us-west-2"}
	destB := metadata.Scope{Account: scopeA.Account, Region: "eu-west-1"}
	up(func(tx metadata.Tx) error {
		if err := tx.QueueReplications(ctx, []metadata.ReplicationTask{
			{RepoID: app.ID, Digest: m1.Digest, Dest: destA, BackfillID: "bf-1"},
			{RepoID: app.ID, Digest: m1.Digest, Dest: destB},
			{RepoID: app.ID, Digest: m2.Digest, Dest: destA, BackfillID: "bf-1"},
			{RepoID: lib.ID, Digest: libImg.Digest, Dest: destA, NotBefore: base.Add(time.Hour)},
		}, base); err != nil {
			return err
		}
		claimed, err := tx.ClaimReplications(ctx, "old-server:/data", base, base.Add(time.Minute), 2)
		if err != nil || len(claimed) != 2 {
			return fmt.Errorf("claimed %d tasks, %v", len(claimed), err)
		}
		if _, err := tx.FinishReplication(ctx, claimed[1], metadata.ReplicationFailed, "REPLICATION_FAILED", 2, base.Add(2*time.Hour), base.Add(time.Second)); err != nil {
			return err
		}
		for _, b := range []metadata.ReplicationBackfill{
			{Scope: scopeA, ID: "bf-1", StartedAt: base, Active: true, Document: []byte(`{"id":"bf-1"}`)},
			{Scope: scopeA, ID: "bf-0", StartedAt: base.Add(-time.Hour), Document: []byte(`{"id":"bf-0"}`)},
			{Scope: scopeB, ID: "bf-2", StartedAt: base.Add(time.Second), Active: true, Document: []byte(`{}`)},
		} {
			if err := tx.PutReplicationBackfill(ctx, b); err != nil {
				return err
			}
		}
		return tx.SetCursor(ctx, "replication", 3)
	})

	// Events; the newest is pruned (its time is old), so the counter is
	// above the largest ID left.
	for i, at := range []time.Time{base, base.Add(time.Second), base.Add(time.Second), base.Add(-time.Hour)} {
		up(func(tx metadata.Tx) error {
			return tx.AppendEvent(ctx, metadata.Event{Scope: scopeA, Time: at, Source: "aws.ecr", Type: fmt.Sprintf("Event %d", i),
				Resource: "arn:aws:ecr:us-east-1:123456789012:repository/app", Document: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		})
	}
	up(func(tx metadata.Tx) error {
		n, err := tx.PruneEvents(ctx, base.Add(-time.Minute), 10)
		if n != 1 {
			return fmt.Errorf("pruned %d events, want 1", n)
		}
		return err
	})
	f.lastEvent = 4

	// Not copied: an upload session and a lease.
	up(func(tx metadata.Tx) error {
		if err := tx.PutUpload(ctx, metadata.Upload{ID: "upload-1", Repo: app.Key, StartedAt: base, UpdatedAt: base, Size: 10}); err != nil {
			return err
		}
		_, err := tx.AcquireLease(ctx, "gc", "old-server:/data", base, base.Add(time.Hour))
		return err
	})
	return f
}

// call is one Reader call and what it returned, normalized.
type call struct {
	name string
	out  any
}

// readAll asks r everything fillSQLite wrote, through every Reader
// method, and returns the answers in order.
func readAll(t *testing.T, r metadata.Reader, f filled) []call {
	t.Helper()
	var calls []call
	add := func(name string, v any, err error) {
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			v = "not found"
		case err != nil:
			t.Fatalf("%s: %v", name, err)
		}
		calls = append(calls, call{name, normalize(reflect.ValueOf(v)).Interface()})
	}
	add2 := func(name string, v, next any, err error) { add(name, []any{v, next}, err) }
	far := base.Add(1000 * time.Hour)

	accounts, err := r.Accounts(ctx)
	add("Accounts", accounts, err)
	for _, a := range f.accounts {
		v, err := r.Account(ctx, a)
		add("Account "+a, v, err)
		ks, err := r.AccessKeys(ctx, a)
		add("AccessKeys "+a, ks, err)
		for _, kind := range sorted(slices.Collect(maps.Keys(f.iamNames))) {
			names := f.iamNames[kind]
			es, err := r.IAMEntities(ctx, a, kind)
			add("IAMEntities "+a+" "+kind, es, err)
			for _, n := range names {
				e, err := r.IAMEntity(ctx, a, kind, strings.ToUpper(n))
				add("IAMEntity "+a+" "+kind+" "+n, e, err)
			}
		}
	}
	ks, err := r.AccessKeys(ctx, "")
	add("AccessKeys all", ks, err)
	for _, k := range f.keys {
		v, err := r.AccessKey(ctx, k)
		add("AccessKey "+k, v, err)
	}

	var repos []metadata.Repository
	for _, sc := range []metadata.Scope{scopeA, scopeB, scopeC} {
		name := sc.Account + "/" + sc.Region
		ts, err := r.CreationTemplates(ctx, sc)
		add("CreationTemplates "+name, ts, err)
		v, err := r.AccountSetting(ctx, sc, "BASIC_SCAN_TYPE_VERSION")
		add("AccountSetting "+name, v, err)
		p, err := r.RegistryPolicy(ctx, sc)
		add("RegistryPolicy "+name, p, err)
		ex, err := r.PullTimeExclusions(ctx, sc)
		add("PullTimeExclusions "+name, ex, err)
		rs, err := r.Repositories(ctx, sc, "", 1000)
		add("Repositories "+name, rs, err)
		repos = append(repos, rs...)
		page, err := r.Repositories(ctx, sc, "app", 1)
		add("Repositories page "+name, page, err)
		for _, d := range f.digests {
			br, err := r.BlobRepositories(ctx, sc, d, 10)
			add("BlobRepositories "+name+" "+d.String(), br, err)
		}
	}
	for _, k := range f.repos {
		v, err := r.Repository(ctx, k)
		add("Repository "+k.Account+"/"+k.Name, v, err)
	}
	yes, no := true, false
	for _, repo := range repos {
		id := repo.ID
		name := fmt.Sprintf("repo %d ", id)
		n, err := r.RepositoryImageCount(ctx, id)
		add(name+"RepositoryImageCount", n, err)
		tags, err := r.Tags(ctx, id, "", 1000)
		add(name+"Tags", tags, err)
		tags, err = r.Tags(ctx, id, "latest", 2)
		add(name+"Tags page", tags, err)
		for _, tagged := range []*bool{nil, &yes, &no} {
			for _, status := range []string{"", metadata.ImageActive, metadata.ImageArchived, metadata.ImageActivating} {
				imgs, err := r.Images(ctx, id, metadata.ImageFilter{Tagged: tagged, Status: status, Now: base.Add(24 * time.Hour)}, "", 1000)
				add(fmt.Sprintf("%sImages %v %s", name, tagged != nil && *tagged, status), imgs, err)
			}
		}
		page, err := r.Images(ctx, id, metadata.ImageFilter{}, f.digests[0], 2)
		add(name+"Images page", page, err)
		g, err := r.ImageGraph(ctx, id)
		add(name+"ImageGraph", g, err)
		lp, err := r.LifecyclePolicy(ctx, id)
		add(name+"LifecyclePolicy", lp, err)
		pv, err := r.LifecyclePreview(ctx, id)
		add(name+"LifecyclePreview", pv, err)
		res, err := r.LifecyclePreviewResults(ctx, id)
		add(name+"LifecyclePreviewResults", res, err)
		sums, err := r.ImageScanSummaries(ctx, id, f.digests)
		add(name+"ImageScanSummaries", sums, err)
		for _, tag := range f.tags {
			img, err := r.Tag(ctx, id, tag)
			add(name+"Tag "+tag, img, err)
		}
		for _, d := range f.digests {
			dn := name + d.String() + " "
			img, err := r.Image(ctx, id, d)
			add(dn+"Image", img, err)
			it, err := r.ImageTags(ctx, id, d)
			add(dn+"ImageTags", it, err)
			refs, err := r.Referrers(ctx, id, d)
			add(dn+"Referrers", refs, err)
			ps, err := r.Parents(ctx, id, d)
			add(dn+"Parents", ps, err)
			us, err := r.BlobUsers(ctx, id, d, 10)
			add(dn+"BlobUsers", us, err)
			b, err := r.Blob(ctx, id, d)
			add(dn+"Blob", b, err)
			l, err := r.Link(ctx, id, d)
			add(dn+"Link", l, err)
			sc, err := r.ImageScan(ctx, id, d)
			add(dn+"ImageScan", sc, err)
			rt, err := r.ReplicationTasks(ctx, id, d)
			add(dn+"ReplicationTasks", rt, err)
		}
	}
	for _, status := range []string{"", metadata.ReplicationInProgress, metadata.ReplicationFailed} {
		bt, err := r.BackfillTasks(ctx, "bf-1", status, metadata.ReplicationCursor{}, 100)
		add("BackfillTasks "+status, bt, err)
	}
	bt, err := r.BackfillTasks(ctx, "bf-1", "", metadata.ReplicationCursor{RepoID: repos[0].ID, Digest: f.digests[0]}, 1)
	add("BackfillTasks page", bt, err)
	btc, err := r.BackfillTaskCounts(ctx, "bf-1")
	add("BackfillTaskCounts", btc, err)
	for _, sc := range []metadata.Scope{scopeA, scopeB, scopeC} {
		name := sc.Account + "/" + sc.Region
		bs, err := r.ReplicationBackfills(ctx, sc, "", 100)
		add("ReplicationBackfills "+name, bs, err)
		for _, id := range []string{"bf-0", "bf-1", "bf-2"} {
			b, err := r.ReplicationBackfill(ctx, sc, id)
			add("ReplicationBackfill "+name+" "+id, b, err)
		}
	}
	active, err := r.ActiveReplicationBackfills(ctx)
	add("ActiveReplicationBackfills", active, err)
	for _, name := range []string{"replication", "unset"} {
		c, err := r.Cursor(ctx, name)
		add("Cursor "+name, c, err)
	}
	lps, err := r.LifecyclePolicies(ctx, 0, 100)
	add("LifecyclePolicies", lps, err)
	stale, err := r.StaleImageScans(ctx, "v2", metadata.ScanCursor{}, 100)
	add("StaleImageScans", stale, err)
	events, err := r.Events(ctx, 0, 100)
	add("Events", events, err)
	events, err = r.Events(ctx, 1, 1)
	add("Events page", events, err)
	last, err := r.LastEventID(ctx)
	add("LastEventID", last, err)
	links, next, err := r.UnreferencedLinks(ctx, far, metadata.Link{}, 1000)
	add2("UnreferencedLinks", links, next, err)
	blobs, nextD, err := r.CollectableBlobs(ctx, far, "", 1000)
	add2("CollectableBlobs", blobs, nextD, err)
	deleting, err := r.DeletingBlobs(ctx, "", 100)
	add("DeletingBlobs", deleting, err)
	records, err := r.BlobRecords(ctx, f.digests)
	add("BlobRecords", records, err)
	return calls
}

var timeType = reflect.TypeOf(time.Time{})

// normalize copies v with its times in UTC to the microsecond (what
// PostgreSQL keeps), and empty slices and maps as nil (a listing of
// nothing, an empty document).
func normalize(v reflect.Value) reflect.Value {
	if !v.IsValid() {
		return v
	}
	switch {
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return reflect.ValueOf(time.Time{})
		}
		return reflect.ValueOf(t.UTC().Truncate(time.Microsecond))
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(normalize(v.Index(i)))
		}
		return out
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for _, k := range v.MapKeys() {
			out.SetMapIndex(k, normalize(v.MapIndex(k)))
		}
		return out
	case v.Kind() == reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			out.Field(i).Set(normalize(v.Field(i)))
		}
		return out
	case v.Kind() == reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := normalize(v.Elem())
		out := reflect.New(v.Type()).Elem()
		out.Set(n)
		return out
	}
	return v
}

// compare fails the test for each call whose answers differ.
func compare(t *testing.T, want, got []call) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d calls against %d", len(got), len(want))
	}
	bad := 0
	for i := range want {
		if want[i].name != got[i].name {
			t.Fatalf("call %d is %s against %s", i, got[i].name, want[i].name)
		}
		if !reflect.DeepEqual(want[i].out, got[i].out) {
			bad++
			t.Errorf("%s:\n got %+v\nwant %+v", want[i].name, got[i].out, want[i].out)
		}
	}
	if bad == 0 && len(want) < 300 {
		t.Fatalf("only %d calls were compared", len(want))
	}
}

// readSQLite reads the database at path as readAll does.
func readSQLite(t *testing.T, path string, f filled) []call {
	t.Helper()
	e, err := sqlite.OpenExport(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return readAll(t, e, f)
}

// TestImportSQLite: a database with a row of every kind reads the same
// through every Reader method after an import, to the microsecond; a
// second import adds nothing; an import cut short and run again ends
// the same; a new event gets an ID above every one the database gave.
func TestImportSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecrd.db")
	f := fillSQLite(t, path)
	want := readSQLite(t, path, f)

	pg := newStore(t)
	var seen []string
	counts, err := pg.ImportSQLite(ctx, path, func(table string, rows int) { seen = append(seen, fmt.Sprintf("%s:%d", table, rows)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %+v; progress %v", counts, seen)
	if counts.Tables != len(importTables) || counts.Rows == 0 || counts.Added != counts.Rows {
		t.Errorf("counts %+v of a first import", counts)
	}
	if !slices.Contains(seen, "images:8") || !slices.Contains(seen, "events:3") {
		t.Errorf("progress %v does not tell each table's rows", seen)
	}
	compare(t, want, readAll(t, pg, f))
	if us, err := pg.Uploads(ctx); err != nil || len(us) != 0 {
		t.Errorf("uploads after the import: %v, %v; upload sessions are not copied", us, err)
	}

	again, err := pg.ImportSQLite(ctx, path, nil)
	if err != nil {
		t.Fatalf("a second import: %v", err)
	}
	if again.Added != 0 || again.Rows != counts.Rows {
		t.Errorf("a second import: %+v, want %d rows and none added", again, counts.Rows)
	}
	compare(t, want, readAll(t, pg, f))

	// What the store makes next comes after what was copied.
	if err := pg.Update(ctx, func(tx metadata.Tx) error {
		return tx.AppendEvent(ctx, metadata.Event{Scope: scopeA, Time: base, Type: "after", Document: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	if id, err := pg.LastEventID(ctx); err != nil || id <= f.lastEvent {
		t.Errorf("a new event's ID is %d (%v), want above %d, the largest the data folder gave", id, err, f.lastEvent)
	}
	var repo metadata.Repository
	if err := pg.Update(ctx, func(tx metadata.Tx) error {
		var err error
		repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: scopeA, Name: "new"}, CreatedAt: base})
		if err != nil {
			return err
		}
		return tx.PutImage(ctx, metadata.Image{RepoID: repo.ID, Digest: digest.FromString("{}"), MediaType: "m", Size: 2,
			PushedAt: base, Content: []byte("{}"), StorageClass: metadata.StorageStandard}, nil)
	}); err != nil {
		t.Fatalf("a repository and an image after the import: %v", err)
	}
	if repo.ID <= 5 {
		t.Errorf("a new repository got ID %d, which the data folder gave", repo.ID)
	}
	var seq, maxSeq int64
	if err := pg.rpool.QueryRow(ctx, `SELECT seq, (SELECT max(seq) FROM images WHERE repo_id <> $1) FROM images WHERE repo_id = $1`, repo.ID).Scan(&seq, &maxSeq); err != nil || seq <= maxSeq {
		t.Errorf("a new image's seq is %d, not above the copied %d (%v)", seq, maxSeq, err)
	}
}

// TestImportResumes: an import cut short (its context canceled after the
// first images are in) and run again ends as one that ran through.
func TestImportResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecrd.db")
	f := fillSQLite(t, path)
	want := readSQLite(t, path, f)

	pg := newStore(t)
	cut, cancel := context.WithCancel(ctx)
	_, err := pg.ImportSQLite(cut, path, func(table string, rows int) {
		if table == "images" {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("the cut import succeeded")
	}
	var n int
	if err := pg.rpool.QueryRow(ctx, `SELECT count(*) FROM images`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("after the cut: %d images (%v), want those of the first batch", n, err)
	}
	counts, err := pg.ImportSQLite(ctx, path, nil)
	if err != nil {
		t.Fatalf("the import run again: %v", err)
	}
	if counts.Added == 0 || counts.Added >= counts.Rows {
		t.Errorf("the import run again: %+v, want the rows the cut one did not copy", counts)
	}
	compare(t, want, readAll(t, pg, f))
}

// TestImportRefusesAnotherRegistrysDatabase: a database a registry ran on
// is not mixed with the data folder's.
func TestImportRefusesAnotherRegistrysDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecrd.db")
	fillSQLite(t, path)
	for _, c := range []struct {
		name string
		fn   func(tx metadata.Tx) error
		want string
	}{
		{"account", func(tx metadata.Tx) error {
			return tx.CreateAccount(ctx, metadata.Account{ID: "555555555555", CreatedAt: base})
		}, "account 555555555555"},
		{"repository", func(tx metadata.Tx) error {
			_, err := tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: scopeA, Name: "mine"}, CreatedAt: base})
			return err
		}, "repository 1 (123456789012/us-east-1/mine)"},
		{"event", func(tx metadata.Tx) error {
			return tx.AppendEvent(ctx, metadata.Event{Scope: scopeA, Time: base, Type: "mine", Document: []byte("{}")})
		}, "event 1 mine"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pg := newStore(t)
			if err := pg.Update(ctx, c.fn); err != nil {
				t.Fatal(err)
			}
			_, err := pg.ImportSQLite(ctx, path, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "new, empty database") {
				t.Fatalf("import into a database a registry ran on: %v, want a refusal naming %s", err, c.want)
			}
		})
	}
}

// TestImportCoversTheSchema fails when a table or a column of either
// schema is neither copied nor skipped with a reason: a migration that
// adds one must teach the import about it.
func TestImportCoversTheSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecrd.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// An AUTOINCREMENT counter appears with the first event.
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.AppendEvent(ctx, metadata.Event{Scope: scopeA, Time: base, Type: "x", Document: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	src, err := sqlite.OpenExport(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pg := newStore(t)

	handled := map[string]table{}
	for _, tb := range importTables {
		handled[tb.name] = tb
	}
	sqliteTables, err := src.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pg.rpool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'schema_version'`)
	pgTables, err := scanAll(rows, err, scanString)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Concat(sqliteTables, pgTables) {
		if _, ok := handled[name]; !ok && skippedTables[name] == "" {
			t.Errorf("table %s is neither imported nor skipped with a reason", name)
		}
	}
	for _, tb := range importTables {
		var fromSQLite, all []string
		for _, c := range tb.columns {
			all = append(all, c.name)
			if c.expr == "" {
				fromSQLite = append(fromSQLite, c.name)
			}
		}
		cols, err := src.Strings(ctx, `SELECT name FROM pragma_table_info(?)`, tb.name)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Sort(cols); !slices.Equal(cols, sorted(fromSQLite)) {
			t.Errorf("table %s: SQLite has columns %v, the import reads %v", tb.name, cols, sorted(fromSQLite))
		}
		rows, err := pg.rpool.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, tb.name)
		cols, err = scanAll(rows, err, scanString)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Sort(cols); !slices.Equal(cols, sorted(all)) {
			t.Errorf("table %s: PostgreSQL has columns %v, the import writes %v", tb.name, cols, sorted(all))
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestImportRefusesADamagedManifest: a manifest whose bytes do not match
// its digest is not copied, and the import says where it is.
func TestImportRefusesADamagedManifest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ecrd.db")
	fillSQLite(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE images SET content = CAST('{"m":9}' AS BLOB) WHERE digest = ?`, digest.FromString(`{"m":1}`).String()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = newStore(t).ImportSQLite(ctx, path, nil)
	if err == nil || !strings.Contains(err.Error(), "does not match its digest") || !strings.Contains(err.Error(), digest.FromString(`{"m":1}`).String()) {
		t.Fatalf("import of a damaged manifest: %v", err)
	}
}
