package sqlite

import (
	"context"
	"path/filepath"
	"strings"
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
	rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+repositorySummariesSQL, "[1,2]")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	if !strings.Contains(joined, "SEARCH images USING") || !strings.Contains(joined, "(repo_id=?)") || !strings.Contains(joined, "LIST SUBQUERY") {
		t.Errorf("plan does not seek images by repository:\n%s", joined)
	}
	for _, p := range plan {
		if strings.HasPrefix(p, "SCAN ") && !strings.Contains(p, "json_each") {
			t.Errorf("plan reads a table whole (%s):\n%s", p, joined)
		}
		if strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("plan sorts (%s):\n%s", p, joined)
		}
	}
}
