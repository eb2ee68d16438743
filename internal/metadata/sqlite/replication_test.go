package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicationQueryPlans checks that replication's queries seek by
// index: a claim, a page of a backfill's tasks or its counts must not read
// every task of the registry, nor sort them.
func TestReplicationQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		name, sql string
		args      []any
		want      []string // each must appear in the plan (an index, covering or not)
	}{
		{"ClaimReplications", claimReplicationsSQL, []any{0, 10}, []string{
			"INDEX replication_tasks_queue (not_before<?)",
			"SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
		}},
		{"RenewReplications", renewReplicationsSQL, []any{0, "h"}, []string{
			"INDEX replication_tasks_held (holder=?)",
		}},
		{"BackfillTasks", backfillTasksSQL, []any{"b", 0, "", 10}, []string{
			"INDEX replication_tasks_backfill (backfill_id=? AND repo_id>?)",
		}},
		{"BackfillTasksByStatus", backfillTasksByStatusSQL, []any{"b", 0, "", 10, "FAILED"}, []string{
			"INDEX replication_tasks_backfill_status (backfill_id=? AND status=? AND repo_id>?)",
		}},
		{"BackfillTaskCounts", backfillCountsSQL, []any{"b"}, []string{
			"INDEX replication_tasks_backfill_status (backfill_id=?)",
		}},
		{"CancelBackfillTasks", cancelBackfillSQL, []any{"b", 0}, []string{
			"INDEX replication_tasks_backfill_status (backfill_id=? AND status=?)",
		}},
		{"ClearBackfill", clearBackfillSQL, []any{"b"}, []string{
			"replication_tasks_backfill",
		}},
		{"EndedBackfills", endedBackfillsSQL, []any{0, 10}, []string{
			"INDEX replication_backfills_ended (started_at<?)",
		}},
		{"ActiveBackfills", activeBackfillsSQL, nil, []string{
			"SCAN replication_backfills USING INDEX replication_backfills_active",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A scan of a partial index reads only its rows (the active
			// backfills).
			checkPlan(t, s, tt.sql, tt.args, tt.want, func(p string) bool { return strings.Contains(p, "INDEX") })
		})
	}
}
