package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/testutil"
)

// countedReads is a metadata store that counts the reads of preview
// results.
type countedReads struct {
	metadata.Store
	reads int
}

func (c *countedReads) LifecyclePreviewResults(ctx context.Context, repoID int64) ([]byte, error) {
	c.reads++
	return c.Store.LifecyclePreviewResults(ctx, repoID)
}

func encodeResults(rs []PreviewResult) ([]byte, error) {
	return encodePreviewResults(len(rs), func(i int) PreviewResult { return rs[i] })
}

func previewResults(n int) []PreviewResult {
	out := make([]PreviewResult, n)
	for i := range out {
		out[i] = PreviewResult{Digest: fmt.Sprintf("sha256:%064x", i), Tags: []string{fmt.Sprint(i)},
			PushedAt: time.Unix(int64(i), 0).UTC(), Action: lifecycle.Action{Type: lifecycle.ActionExpire}, RulePriority: 1}
	}
	return out
}

// TestPreviewResultsStored: results are stored compressed and read back
// as they were; results stored as plain JSON (by earlier versions) still
// read. The cache keeps one preview per repository: a new preview of the
// repository replaces the old one's entry, and paging a preview reads the
// store once.
func TestPreviewResultsStored(t *testing.T) {
	want := previewResults(5000)
	packed, err := encodeResults(want)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodePreviewResults(packed); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("results read back differ (%v)", err)
	}
	if none, _ := encodeResults(nil); len(none) == 0 {
		t.Fatal("no results stored as nothing")
	} else if got, err := decodePreviewResults(none); err != nil || len(got) != 0 {
		t.Fatalf("no results read back as %d, %v", len(got), err)
	}
	plain, _ := json.Marshal(want)
	if len(packed)*2 > len(plain) {
		t.Errorf("stored results take %d bytes, plain JSON %d: want at most half", len(packed), len(plain))
	}
	for name, b := range map[string][]byte{"compressed": packed, "plain JSON": plain} {
		got, err := decodePreviewResults(b)
		if err != nil || len(got) != len(want) || !got[4999].PushedAt.Equal(want[4999].PushedAt) || got[4999].Digest != want[4999].Digest {
			t.Fatalf("%s: %d results, %v", name, len(got), err)
		}
	}

	ctx := context.Background()
	store := &countedReads{Store: testutil.SQLite(t, "")}
	var repo metadata.Repository
	put := func(p metadata.LifecyclePreview) {
		t.Helper()
		if err := store.Update(ctx, func(tx metadata.Tx) error { return tx.PutLifecyclePreview(ctx, p) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Update(ctx, func(tx metadata.Tx) (err error) {
		repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: metadata.Scope{Account: "123456789012", Region: "us-east-1"}, Name: "app"}, CreatedAt: time.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var c previewCache
	first := metadata.LifecyclePreview{RepoID: repo.ID, Status: PreviewComplete, StartedAt: time.Unix(100, 0).UTC(), Results: packed}
	put(first)
	for range 3 {
		res, sum, err := c.results(ctx, store, first)
		if err != nil || len(res) != 5000 || sum.Expiring != 5000 {
			t.Fatalf("results: %d, %+v, %v", len(res), sum, err)
		}
	}
	if store.reads != 1 {
		t.Fatalf("three pages read the store %d times, want once", store.reads)
	}
	next := metadata.LifecyclePreview{RepoID: repo.ID, Status: PreviewComplete, StartedAt: time.Unix(200, 0).UTC()}
	next.Results, _ = encodeResults(want[:10])
	put(next)
	if res, _, err := c.results(ctx, store, next); err != nil || len(res) != 10 {
		t.Fatalf("the next preview's results: %d, %v", len(res), err)
	}
	if len(c.entries) != 1 {
		t.Fatalf("the cache holds %d previews of one repository, want only the latest", len(c.entries))
	}
	// A preview starting lets the repository's results go; the next read
	// decodes them again.
	c.drop(repo.ID)
	if len(c.entries) != 0 {
		t.Fatalf("the cache holds %d previews after a drop", len(c.entries))
	}
	reads := store.reads
	if res, _, err := c.results(ctx, store, next); err != nil || len(res) != 10 || store.reads != reads+1 {
		t.Fatalf("results after a drop: %d, %v, %d reads", len(res), err, store.reads-reads)
	}
}
