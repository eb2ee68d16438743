package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestRepositorySummariesPlan checks that a page of repositories' summaries
// seeks each listed repository's images by key: a plan that read the
// images table whole would cost every repository's images for one page.
func TestRepositorySummariesPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkPlan(t, s, repositorySummariesSQL, []any{"[1,2]"}, []string{"SEARCH images USING", "(repo_id=?)", "LIST SUBQUERY"}, jsonList)
}
