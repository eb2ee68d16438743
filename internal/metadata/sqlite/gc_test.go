package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestGCQueryPlans checks that garbage collection's queries seek by key
// and probe indexes: over millions of links and blobs, a query that read
// a table whole for each page would make a collection quadratic.
func TestGCQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		name, sql string
		args      []any
		want      []string // each detail line must contain one of these, in order
	}{
		{"UnreferencedLinks", unreferencedLinksSQL, []any{0, "", 0, 500}, []string{
			"SEARCH b USING PRIMARY KEY ((repo_id,digest)>(?,?))",
			"SCALAR SUBQUERY",
			"SEARCH r USING COVERING INDEX image_refs_by_ref (repo_id=? AND ref=?)",
		}},
		{"CollectableBlobs", collectableBlobsSQL, []any{"", 0, 500}, []string{
			"SEARCH b USING PRIMARY KEY (digest>?)",
			"SCALAR SUBQUERY",
			"SEARCH l USING COVERING INDEX repository_blobs_by_digest (digest=?)",
		}},
		{"DeletingBlobs", deletingBlobsSQL, []any{"", 500}, []string{
			"SEARCH blobs USING INDEX blobs_deleting (digest>?)",
		}},
		{"RemoveStaleLink", removeLinkSQL, []any{1, "d", 0}, []string{
			"SEARCH repository_blobs USING PRIMARY KEY (repo_id=? AND digest=?)",
			"SCALAR SUBQUERY",
			"SEARCH image_refs USING COVERING INDEX image_refs_by_ref (repo_id=? AND ref=?)",
		}},
		{"MarkBlobDeleting", markBlobSQL, []any{"d", 0}, []string{
			"SEARCH blobs USING PRIMARY KEY (digest=?)",
			"SCALAR SUBQUERY",
			"SEARCH repository_blobs USING COVERING INDEX repository_blobs_by_digest (digest=?)",
		}},
		{"MarkOrphansDeleting", markOrphanSQL, []any{"d", 1, 0}, []string{
			"SEARCH repository_blobs USING COVERING INDEX repository_blobs_by_digest (digest=?)",
		}},
		{"UnmarkBlobs", unmarkBlobsSQL, []any{`["d"]`}, []string{
			"SEARCH blobs USING PRIMARY KEY (digest=?)",
			"LIST SUBQUERY",
		}},
		{"ForgetBlobs", forgetBlobsSQL, []any{`["d"]`}, []string{
			"SEARCH blobs USING PRIMARY KEY (digest=?)",
			"LIST SUBQUERY",
		}},
		{"BlobRecords", blobRecordsSQL, []any{`["d"]`}, []string{
			"SEARCH blobs USING PRIMARY KEY (digest=?)",
			"LIST SUBQUERY",
			"SCAN json_each VIRTUAL TABLE",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, s, tt.sql, tt.args, tt.want, func(p string) bool { return jsonList(p) || p == "SCAN CONSTANT ROW" })
		})
	}
}
