package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// searchRecord is a request of the search tests: who, what, on which
// repository, and whether it failed.
type searchRecord struct {
	principal, typ, user, op, repo, errCode string
}

func (r searchRecord) info(at time.Time) *reqinfo.Info {
	info := &reqinfo.Info{Start: at, RequestID: "r", SourceIP: "192.0.2.7", Service: "ecr.amazonaws.com", Operation: r.op,
		Account: scope.Account, Region: scope.Region, Principal: r.principal, Type: r.typ, UserName: r.user,
		ErrorCode: r.errCode}
	if r.errCode != "" {
		info.ErrorMessage = "refused"
	}
	if r.repo != "" {
		info.Resources = []string{"arn:aws:ecr:us-east-1:123456789012:repository/" + r.repo}
	}
	return info
}

const (
	aliceARN = "arn:aws:iam::123456789012:user/team/alice"
	bobARN   = "arn:aws:iam::123456789012:user/bob"
	rootARN  = "arn:aws:iam::123456789012:root"
	roleARN  = "arn:aws:sts::123456789012:assumed-role/deployer/ci-42"
)

// searchTrail stores records (the first oldest, a second apart) and
// returns a trail over them.
func searchTrail(t *testing.T, records []searchRecord) *Trail {
	t.Helper()
	store := openStore(t)
	t.Cleanup(func() { store.Close() })
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var events []metadata.AuditEvent
	for i, r := range records {
		e, _, ok := fromInfo(r.info(start.Add(time.Duration(i)*time.Second)), nil)
		if !ok {
			t.Fatalf("record %d was not made", i)
		}
		events = append(events, e)
	}
	if err := store.Update(context.Background(), func(tx metadata.Tx) error { return tx.AppendAuditEvents(context.Background(), events) }); err != nil {
		t.Fatal(err)
	}
	return New(Options{Store: store})
}

// ops lists the operations of a page's entries, newest first.
func ops(p Page) []string {
	var out []string
	for _, e := range p.Entries {
		out = append(out, e.Name)
	}
	return out
}

// Search combines the criteria LookupEvents takes one at a time:
// principal by ARN or name, event name, repository, errors only.
func TestSearchCombinesFilters(t *testing.T) {
	trail := searchTrail(t, []searchRecord{
		{aliceARN, "IAMUser", "alice", "PutImage", "app", ""},                            // 0
		{aliceARN, "IAMUser", "alice", "BatchGetImage", "app", "AccessDenied"},           // 1
		{bobARN, "IAMUser", "bob", "PutImage", "app", ""},                                // 2
		{aliceARN, "IAMUser", "alice", "PutImage", "web", "ImageTagAlreadyExists"},       // 3
		{rootARN, "Root", "root", "DeleteRepository", "web", ""},                         // 4
		{roleARN, "AssumedRole", "ci-42", "PutImage", "app", ""},                         // 5
		{"arn:aws:iam::123456789012:user/ci-42", "IAMUser", "ci-42", "PutImage", "", ""}, // 6: a user named as the session
		{aliceARN, "IAMUser", "alice", "DescribeRepositories", "", ""},                   // 7
	})
	ctx := identity.NewContext(context.Background(), identity.Root(scope.Account))
	for _, c := range []struct {
		name string
		f    Filter
		want []string // operations, newest first
	}{
		{"everything", Filter{}, []string{"DescribeRepositories", "PutImage", "PutImage", "DeleteRepository", "PutImage", "PutImage", "BatchGetImage", "PutImage"}},
		{"user name", Filter{Principal: "alice"}, []string{"DescribeRepositories", "PutImage", "BatchGetImage", "PutImage"}},
		{"user ARN", Filter{Principal: aliceARN}, []string{"DescribeRepositories", "PutImage", "BatchGetImage", "PutImage"}},
		{"root ARN", Filter{Principal: rootARN}, []string{"DeleteRepository"}},
		{"session ARN, not the user of that name", Filter{Principal: roleARN}, []string{"PutImage"}},
		{"name of a session and a user", Filter{Principal: "ci-42"}, []string{"PutImage", "PutImage"}},
		{"ARN of a principal with no records", Filter{Principal: "arn:aws:iam::123456789012:user/carol"}, nil},
		{"event name", Filter{EventName: "PutImage"}, []string{"PutImage", "PutImage", "PutImage", "PutImage", "PutImage"}},
		{"repository", Filter{Repository: "web"}, []string{"DeleteRepository", "PutImage"}},
		{"errors", Filter{ErrorsOnly: true}, []string{"PutImage", "BatchGetImage"}},
		{"all four", Filter{Principal: aliceARN, EventName: "PutImage", Repository: "web", ErrorsOnly: true}, []string{"PutImage"}},
		{"repository and name", Filter{Repository: "app", EventName: "PutImage"}, []string{"PutImage", "PutImage", "PutImage"}},
		{"repository and principal", Filter{Repository: "app", Principal: "bob"}, []string{"PutImage"}},
	} {
		c.f.Scope = scope
		p, err := trail.Search(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ops(p); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		if p.Next != nil || p.Partial {
			t.Errorf("%s: a next page (%v, partial %v) after every record", c.name, p.Next, p.Partial)
		}
	}
	// The document's fields come with each entry.
	p, err := trail.Search(ctx, Filter{Scope: scope, ErrorsOnly: true, Repository: "app"})
	if err != nil || len(p.Entries) != 1 {
		t.Fatalf("%v, %v", ops(p), err)
	}
	e := p.Entries[0]
	if e.PrincipalARN != aliceARN || e.SourceIP != "192.0.2.7" || e.ErrorCode != "AccessDenied" || e.ErrorMessage != "refused" ||
		!slices.Equal(e.Resources, []string{"arn:aws:ecr:us-east-1:123456789012:repository/app"}) {
		t.Errorf("entry %+v", e)
	}
}

// Pages continue where the last one ended, and a search that reads its
// budget without filling a page says so and where to go on.
func TestSearchPages(t *testing.T) {
	var records []searchRecord
	for i := range 30 {
		r := searchRecord{aliceARN, "IAMUser", "alice", "BatchGetImage", "app", ""}
		if i%10 == 0 {
			r.errCode = "AccessDenied"
		}
		records = append(records, r)
	}
	trail := searchTrail(t, records)
	ctx := identity.NewContext(context.Background(), identity.Root(scope.Account))
	var seen []int64
	f := Filter{Scope: scope, Limit: 7}
	for pages := 1; ; pages++ {
		p, err := trail.Search(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			seen = append(seen, e.Seq)
		}
		if p.Next == nil {
			if pages != 5 || len(seen) != 30 {
				t.Fatalf("%d pages of %d records, want 5 of 30", pages, len(seen))
			}
			break
		}
		c, ok := ParseCursor(CursorString(p.Next))
		if !ok || *c != *p.Next {
			t.Fatalf("cursor %v does not read back: %v", p.Next, c)
		}
		f.After = c
	}
	if !slices.IsSortedFunc(seen, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(seen))) != 30 {
		t.Fatalf("records out of order or repeated: %v", seen)
	}

	trail.budget = 12
	p, err := trail.Search(ctx, Filter{Scope: scope, ErrorsOnly: true, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	// The newest 12 records hold one failure (record 20).
	if len(p.Entries) != 1 || !p.Partial || p.Scanned != 12 || p.Next == nil {
		t.Fatalf("partial page: %v, partial %v, scanned %d, next %v", ops(p), p.Partial, p.Scanned, p.Next)
	}
	p, err = trail.Search(ctx, Filter{Scope: scope, ErrorsOnly: true, Limit: 5, After: p.Next})
	if err != nil || len(p.Entries) != 1 || !p.Partial {
		t.Fatalf("second partial page: %v, partial %v, %v", ops(p), p.Partial, err)
	}
	for _, bad := range []string{"", "12", "a.b", "1.-2", "1.2.3"} {
		if _, ok := ParseCursor(bad); ok {
			t.Errorf("cursor %q was read", bad)
		}
	}
}

// Search is authorized as Lookup: only the caller's own account.
func TestSearchIsAuthorizedAsLookup(t *testing.T) {
	trail := searchTrail(t, []searchRecord{{aliceARN, "IAMUser", "alice", "PutImage", "app", ""}})
	for name, ctx := range map[string]context.Context{
		"anonymous":     context.Background(),
		"other account": identity.NewContext(context.Background(), identity.Root("210987654321")),
	} {
		if _, err := trail.Search(ctx, Filter{Scope: scope}); err == nil || err.Error() == "" {
			t.Errorf("%s: searched the trail of %s", name, scope.Account)
		} else if code := awserr.Code(err); code != identity.CodeAccessDenied {
			t.Errorf("%s: error %v, want AccessDenied", name, err)
		}
	}
}
