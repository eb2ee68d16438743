package audit

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Filter selects records for Search: every criterion that is set must
// hold, where LookupEvents takes one attribute.
type Filter struct {
	Scope metadata.Scope
	// Principal is an ARN, matched against userIdentity.arn, or a
	// Username as LookupEvents has it (a user's name, a role session's
	// name, "root").
	Principal string
	// EventName is the call's name (PutImage); Repository the name of
	// the resource it acted on (CloudTrail's ResourceName).
	EventName, Repository string
	// ErrorsOnly keeps the calls that failed (an errorCode).
	ErrorsOnly bool
	// After continues a search after that record (a Page's Next).
	After *metadata.AuditCursor
	// Limit is the page's size (50 if 0).
	Limit int
}

// Entry is a record as a reader wants it: the columns and what the
// CloudTrail record adds.
type Entry struct {
	metadata.AuditEvent
	PrincipalARN            string
	SourceIP                string
	ErrorCode, ErrorMessage string
	// Resources are the ARNs of what the call acted on.
	Resources []string
}

// Page is one page of a search.
type Page struct {
	Entries []Entry
	// Next continues the search; nil when no older record is left.
	Next *metadata.AuditCursor
	// Partial says the search stopped after Scanned records with the
	// page not full, so that a page of a rare filter costs a bounded
	// read: older records may still match, from Next.
	Partial bool
	Scanned int
}

// searchBudget bounds the records one Search reads; searchBatch is how
// many it reads at once.
const (
	searchBudget = 5000
	searchBatch  = 250
)

// Search lists the records f selects, newest first, for the request's
// principal, authorized as Lookup is. The store filters by one
// attribute, through its index (the repository, else the principal's
// Username, else the event name); the other criteria are checked here on
// each record, at most searchBudget records a page.
func (t *Trail) Search(ctx context.Context, f Filter) (Page, error) {
	if err := t.authorizeLookup(ctx, f.Scope); err != nil {
		return Page{}, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	budget := t.budget
	if budget <= 0 {
		budget = searchBudget
	}
	q := metadata.AuditQuery{Scope: f.Scope, After: f.After, Limit: searchBatch}
	user, byARN := principalUsername(f.Principal)
	switch {
	case f.Repository != "":
		q.Attribute, q.Value = metadata.AuditByResourceName, f.Repository
	case user != "":
		q.Attribute, q.Value = metadata.AuditByUsername, user
	case f.EventName != "":
		q.Attribute, q.Value = metadata.AuditByEventName, f.EventName
	}
	var page Page
	for {
		recs, err := t.o.Store.AuditEvents(ctx, q)
		if err != nil {
			return Page{}, err
		}
		for _, rec := range recs {
			page.Scanned++
			e := entryOf(rec)
			if f.matches(e, user, byARN) {
				if len(page.Entries) == limit {
					// One more match: there is a next page, after the
					// last one kept.
					last := page.Entries[limit-1]
					page.Next = &metadata.AuditCursor{Time: last.Time, Seq: last.Seq}
					return page, nil
				}
				page.Entries = append(page.Entries, e)
			}
			q.After = &metadata.AuditCursor{Time: rec.Time, Seq: rec.Seq}
			if page.Scanned >= budget {
				page.Partial = len(page.Entries) < limit
				page.Next = q.After
				if len(page.Entries) == limit {
					last := page.Entries[limit-1]
					page.Next = &metadata.AuditCursor{Time: last.Time, Seq: last.Seq}
				}
				return page, nil
			}
		}
		if len(recs) < q.Limit {
			return page, nil
		}
	}
}

func (f Filter) matches(e Entry, user string, byARN bool) bool {
	switch {
	case f.Repository != "" && e.ResourceName != f.Repository:
		return false
	case f.EventName != "" && e.Name != f.EventName:
		return false
	case f.ErrorsOnly && e.ErrorCode == "":
		return false
	case byARN && e.PrincipalARN != f.Principal:
		return false
	case !byARN && f.Principal != "" && e.Username != user:
		return false
	}
	return true
}

// principalUsername is the Username of the records of a principal given
// as an ARN or a name, and whether it was an ARN (which the records'
// userIdentity.arn must then equal). A role's ARN has no Username (its
// sessions each have theirs): "".
func principalUsername(p string) (user string, byARN bool) {
	if !strings.HasPrefix(p, "arn:") {
		return p, false
	}
	a, ok := awsid.Parse(p)
	if !ok {
		return "", true
	}
	switch {
	case a.Service == "iam" && a.Resource == "root":
		return "root", true
	case a.Service == "iam" && strings.HasPrefix(a.Resource, "user/"):
		return a.Resource[strings.LastIndexByte(a.Resource, '/')+1:], true
	case a.Service == "sts" && strings.HasPrefix(a.Resource, "assumed-role/"):
		return a.Resource[strings.LastIndexByte(a.Resource, '/')+1:], true
	}
	return "", true
}

// entryOf reads what a record's CloudTrail document adds to its columns;
// a document that does not decode adds nothing.
func entryOf(rec metadata.AuditEvent) Entry {
	var doc struct {
		UserIdentity struct {
			ARN string `json:"arn"`
		} `json:"userIdentity"`
		SourceIP     string `json:"sourceIPAddress"`
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
		Resources    []struct {
			ARN string `json:"ARN"`
		} `json:"resources"`
	}
	e := Entry{AuditEvent: rec}
	if json.Unmarshal(rec.Document, &doc) != nil {
		return e
	}
	e.PrincipalARN, e.SourceIP, e.ErrorCode, e.ErrorMessage = doc.UserIdentity.ARN, doc.SourceIP, doc.ErrorCode, doc.ErrorMessage
	for _, r := range doc.Resources {
		e.Resources = append(e.Resources, r.ARN)
	}
	return e
}

// CursorString writes a search position for a link; ParseCursor reads
// it back.
func CursorString(c *metadata.AuditCursor) string {
	if c == nil {
		return ""
	}
	return strconv.FormatInt(c.Time.UnixNano(), 10) + "." + strconv.FormatInt(c.Seq, 10)
}

// ParseCursor reads a position CursorString wrote; false for anything
// else.
func ParseCursor(s string) (*metadata.AuditCursor, bool) {
	ns, seq, ok := strings.Cut(s, ".")
	if !ok {
		return nil, false
	}
	n, err1 := strconv.ParseInt(ns, 10, 64)
	q, err2 := strconv.ParseInt(seq, 10, 64)
	if err1 != nil || err2 != nil || q < 0 {
		return nil, false
	}
	return &metadata.AuditCursor{Time: time.Unix(0, n).UTC(), Seq: q}, true
}
