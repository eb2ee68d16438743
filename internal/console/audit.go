package console

import (
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/audit"
)

type auditView struct {
	// Off says the server keeps no audit trail.
	Off bool
	// The filters.
	Principal, Action, Repository string
	ErrorsOnly                    bool
	ErrorsParam                   string // the checkbox's value in links
	Rows                          []auditRow
	// Next continues the search; Partial says this page stopped after
	// Scanned records without filling up.
	Next    string
	Partial bool
	Scanned int
}

type auditRow struct {
	audit.Entry
	// ResourceNames name what the call acted on, as CloudTrail does.
	ResourceNames []string
}

// auditTrail shows the audit trail's records, newest first, through the
// trail's Search: authorized as cloudtrail:LookupEvents, as the
// CloudTrail API is.
func (h *Handler) auditTrail(w http.ResponseWriter, r *http.Request, s *session) {
	v := auditView{Principal: strings.TrimSpace(r.FormValue("principal")), Action: strings.TrimSpace(r.FormValue("action")),
		Repository: strings.TrimSpace(r.FormValue("repository")), ErrorsOnly: r.FormValue("errors") != ""}
	if v.ErrorsOnly {
		v.ErrorsParam = "1"
	}
	if h.o.Trail == nil {
		v.Off = true
		h.render(w, r, s, http.StatusOK, "audit", view{Title: "Audit trail", Nav: "audit", Data: v})
		return
	}
	f := audit.Filter{Scope: s.scope, Principal: v.Principal, EventName: v.Action, Repository: v.Repository,
		ErrorsOnly: v.ErrorsOnly, Limit: pageSize}
	if after := r.FormValue("after"); after != "" {
		c, ok := audit.ParseCursor(after)
		if !ok {
			h.fail(w, r, s, badRequest("the page position "+after+" is not one this console wrote"))
			return
		}
		f.After = c
	}
	page, err := h.o.Trail.Search(s.ctx, f)
	if err != nil {
		h.fail(w, r, s, awsError(err))
		return
	}
	v.Next, v.Partial, v.Scanned = audit.CursorString(page.Next), page.Partial, page.Scanned
	for _, e := range page.Entries {
		row := auditRow{Entry: e}
		for _, arn := range e.Resources {
			row.ResourceNames = append(row.ResourceNames, audit.ResourceName(arn))
		}
		v.Rows = append(v.Rows, row)
	}
	h.render(w, r, s, http.StatusOK, "audit", view{Title: "Audit trail", Nav: "audit", Data: v})
}
