package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestAuditLookupPlans checks that each lookup of the audit trail is one
// range scan of an index ending in (at, seq), newest first, with or
// without a time range and a page position: never a read of the whole
// table, never a sort. Lookups by an attribute without an index of its
// own go by the time index (audit_events_at) and filter.
func TestAuditLookupPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	scope := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	for _, tt := range []struct {
		attr, value string
		index       string
	}{
		{"", "", "audit_events_at"},
		{metadata.AuditByEventName, "PutImage", "audit_events_name"},
		{metadata.AuditByUsername, "ci", "audit_events_username"},
		{metadata.AuditByResourceName, "team/app", "audit_events_resource_name"},
		{metadata.AuditByEventSource, "ecr.amazonaws.com", "audit_events_at"},
		{metadata.AuditByAccessKeyID, "AKIAEXAMPLE000000001", "audit_events_at"},
		{metadata.AuditByReadOnly, "true", "audit_events_at"},
		{metadata.AuditByResourceType, "AWS::ECR::Repository", "audit_events_at"},
	} {
		for _, ranged := range []bool{false, true} {
			q := metadata.AuditQuery{Scope: scope, Attribute: tt.attr, Value: tt.value, Limit: 50}
			if ranged {
				q.Start, q.End = now.Add(-time.Hour), now
				q.After = &metadata.AuditCursor{Time: now.Add(-time.Minute), Seq: 10}
			}
			sql, args, err := auditEventsSQL(q)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(tt.attr+map[bool]string{false: "", true: "/ranged"}[ranged], func(t *testing.T) {
				checkPlan(t, s, sql, args, []string{"USING INDEX " + tt.index}, func(line string) bool {
					// A walk of the time index from the newest, stopped
					// by the limit.
					return strings.HasPrefix(line, "SCAN audit_events USING INDEX audit_events_at")
				})
			})
		}
	}
}
