package metadatatest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

var auditTests = []storeTest{
	{"AuditLookups", testAuditLookups},
	{"AuditPaging", testAuditPaging},
	{"AuditPrune", testAuditPrune},
	{"AuditLargeBatch", testAuditLargeBatch},
}

// auditEvent is a record at now plus minutes, named by i.
func auditEvent(i int, s metadata.Scope, minutes int) metadata.AuditEvent {
	return metadata.AuditEvent{
		ID: fmt.Sprintf("event-%d", i), Scope: s, Time: now.Add(time.Duration(minutes) * time.Minute),
		Name: []string{"PutImage", "BatchGetImage"}[i%2], Source: []string{"ecr.amazonaws.com", "iam.amazonaws.com"}[i%3/2],
		Username: fmt.Sprintf("user-%d", i%3), AccessKeyID: fmt.Sprintf("AKIA%d", i%4), ReadOnly: i%2 == 1,
		ResourceType: "AWS::ECR::Repository", ResourceName: fmt.Sprintf("repo-%d", i%5),
		Document: []byte(fmt.Sprintf(`{"eventID":"event-%d"}`, i)),
	}
}

func appendAudit(t *testing.T, s metadata.Store, events ...metadata.AuditEvent) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error { return tx.AppendAuditEvents(ctx, events) })
}

func lookup(t *testing.T, s metadata.Store, q metadata.AuditQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	events, err := s.AuditEvents(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

func testAuditLookups(t *testing.T, s metadata.Store) {
	var all []metadata.AuditEvent
	for i := range 12 {
		all = append(all, auditEvent(i, scope, i))
	}
	appendAudit(t, s, all[:6]...)
	appendAudit(t, s, all[6:]...)
	other := auditEvent(100, metadata.Scope{Account: "210987654321", Region: scope.Region}, 3)
	appendAudit(t, s, other, auditEvent(101, metadata.Scope{Account: scope.Account, Region: "eu-west-1"}, 3))
	// An event whose ID is recorded already is left as it was.
	dup := all[0]
	dup.Name = "Changed"
	appendAudit(t, s, dup)

	want := func(keep func(e metadata.AuditEvent) bool) []string {
		ids := []string{}
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("all", lookup(t, s, metadata.AuditQuery{Scope: scope}), want(func(metadata.AuditEvent) bool { return true }))
	for _, c := range []struct {
		attr, value string
		keep        func(e metadata.AuditEvent) bool
	}{
		{metadata.AuditByEventID, "event-4", func(e metadata.AuditEvent) bool { return e.ID == "event-4" }},
		{metadata.AuditByEventID, "event-100", func(e metadata.AuditEvent) bool { return false }},
		{metadata.AuditByEventName, "PutImage", func(e metadata.AuditEvent) bool { return e.Name == "PutImage" }},
		{metadata.AuditByReadOnly, "true", func(e metadata.AuditEvent) bool { return e.ReadOnly }},
		{metadata.AuditByReadOnly, "false", func(e metadata.AuditEvent) bool { return !e.ReadOnly }},
		{metadata.AuditByUsername, "user-1", func(e metadata.AuditEvent) bool { return e.Username == "user-1" }},
		{metadata.AuditByResourceType, "AWS::ECR::Repository", func(e metadata.AuditEvent) bool { return true }},
		{metadata.AuditByResourceName, "repo-2", func(e metadata.AuditEvent) bool { return e.ResourceName == "repo-2" }},
		{metadata.AuditByEventSource, "iam.amazonaws.com", func(e metadata.AuditEvent) bool { return e.Source == "iam.amazonaws.com" }},
		{metadata.AuditByAccessKeyID, "AKIA3", func(e metadata.AuditEvent) bool { return e.AccessKeyID == "AKIA3" }},
	} {
		check(c.attr+"="+c.value, lookup(t, s, metadata.AuditQuery{Scope: scope, Attribute: c.attr, Value: c.value}), want(c.keep))
	}
	// A time range includes both ends.
	check("range", lookup(t, s, metadata.AuditQuery{Scope: scope, Start: now.Add(3 * time.Minute), End: now.Add(5 * time.Minute)}),
		[]string{"event-5", "event-4", "event-3"})
	check("range by name", lookup(t, s, metadata.AuditQuery{Scope: scope, Attribute: metadata.AuditByEventName, Value: "BatchGetImage",
		Start: now.Add(3 * time.Minute), End: now.Add(7 * time.Minute)}), []string{"event-7", "event-5", "event-3"})
	check("since", lookup(t, s, metadata.AuditQuery{Scope: scope, Start: now.Add(10 * time.Minute)}), []string{"event-11", "event-10"})

	// The record reads back as written.
	got, err := s.AuditEvents(ctx, metadata.AuditQuery{Scope: scope, Attribute: metadata.AuditByEventID, Value: "event-0", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("event-0: %v, %v", got, err)
	}
	e := got[0]
	e.Seq = 0
	if w := all[0]; !e.Time.Equal(w.Time) || e.Name != w.Name || e.Source != w.Source || e.Username != w.Username ||
		e.AccessKeyID != w.AccessKeyID || e.ReadOnly != w.ReadOnly || e.ResourceType != w.ResourceType ||
		e.ResourceName != w.ResourceName || string(e.Document) != string(w.Document) || e.Scope != w.Scope {
		t.Errorf("event-0 reads back as %+v, want %+v", e, w)
	}
	check("other account", lookup(t, s, metadata.AuditQuery{Scope: other.Scope}), []string{"event-100"})
}

func testAuditPaging(t *testing.T, s metadata.Store) {
	// Events of one time are ordered by when they were appended.
	var all []metadata.AuditEvent
	for i := range 9 {
		all = append(all, auditEvent(i, scope, i/3))
	}
	for _, e := range all {
		appendAudit(t, s, e)
	}
	var (
		got   []string
		after *metadata.AuditCursor
	)
	for range 10 {
		events, err := s.AuditEvents(ctx, metadata.AuditQuery{Scope: scope, After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			got = append(got, e.ID)
		}
		if len(events) < 2 {
			break
		}
		last := events[len(events)-1]
		after = &metadata.AuditCursor{Time: last.Time, Seq: last.Seq}
	}
	want := []string{"event-8", "event-7", "event-6", "event-5", "event-4", "event-3", "event-2", "event-1", "event-0"}
	if !slices.Equal(got, want) {
		t.Errorf("pages: got %v, want %v", got, want)
	}
}

func testAuditPrune(t *testing.T, s metadata.Store) {
	for i := range 6 {
		appendAudit(t, s, auditEvent(i, scope, i))
	}
	var n int
	update(t, s, func(tx metadata.Tx) error {
		var err error
		n, err = tx.PruneAuditEvents(ctx, now.Add(4*time.Minute), 3)
		return err
	})
	if n != 3 {
		t.Errorf("pruned %d, want 3 (the limit)", n)
	}
	update(t, s, func(tx metadata.Tx) error {
		var err error
		n, err = tx.PruneAuditEvents(ctx, now.Add(4*time.Minute), 3)
		return err
	})
	if n != 1 {
		t.Errorf("pruned %d, want 1", n)
	}
	if got, want := lookup(t, s, metadata.AuditQuery{Scope: scope}), []string{"event-5", "event-4"}; !slices.Equal(got, want) {
		t.Errorf("after pruning: %v, want %v", got, want)
	}
}

// A batch larger than any statement a store splits it into keeps every
// record once, in order, including records repeated within the batch
// and records stored before.
func testAuditLargeBatch(t *testing.T, s metadata.Store) {
	before := auditEvent(0, scope, 0)
	appendAudit(t, s, before)
	var batch []metadata.AuditEvent
	for i := range 150 {
		batch = append(batch, auditEvent(i, scope, i))
	}
	changed := batch[70]
	changed.Name = "Changed"
	batch = append(batch, changed, before)
	appendAudit(t, s, batch...)

	got := lookup(t, s, metadata.AuditQuery{Scope: scope, Limit: 1000})
	if len(got) != 150 {
		t.Fatalf("%d records stored, want 150", len(got))
	}
	for k, id := range got {
		if want := fmt.Sprintf("event-%d", 149-k); id != want {
			t.Fatalf("record %d is %s, want %s", k, id, want)
		}
	}
	names := lookup(t, s, metadata.AuditQuery{Scope: scope, Attribute: metadata.AuditByEventName, Value: "Changed"})
	if len(names) != 0 {
		t.Errorf("a repeated record replaced the first: %v", names)
	}
}
