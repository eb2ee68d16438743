package sqlite

import (
	"context"
	"strings"
	"testing"
)

// checkPlan checks SQLite's plan of a query: it holds each line of want,
// reads no table whole (a SCAN, unless scanOK accepts it: a json_each
// list, a partial index) and sorts nothing.
func checkPlan(t *testing.T, s *Store, sql string, args []any, want []string, scanOK func(line string) bool) {
	t.Helper()
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+sql, args...)
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
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("plan lacks %q:\n%s", w, joined)
		}
	}
	for _, p := range plan {
		if strings.HasPrefix(p, "SCAN ") && !scanOK(p) {
			t.Errorf("plan reads a table whole (%s):\n%s", p, joined)
		}
		if strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("plan sorts (%s):\n%s", p, joined)
		}
	}
}

// jsonList accepts the scan of a json_each list of keys.
func jsonList(line string) bool { return strings.Contains(line, "json_each") }
