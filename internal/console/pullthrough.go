package console

import (
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/registry"
)

type pullThroughView struct {
	Rows   []registry.PullThroughCacheRule
	Next   string
	Notice string
}

// pullThroughCache lists the registry's pull-through cache rules, a page
// at a time.
func (h *Handler) pullThroughCache(w http.ResponseWriter, r *http.Request, s *session) {
	rules, next, err := h.o.Registry.DescribePullThroughCacheRules(s.ctx, s.scope, nil, r.FormValue("next"), pageSize)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "pullthrough", view{Title: "Pull-through cache", Nav: "ptc",
		Data: pullThroughView{Rows: rules, Next: next, Notice: s.notice}})
}

func ptcBack(s *session) string { return "/console/pull-through-cache?" + scopeQuery(s) }

// validatePTCRule checks a rule as ValidatePullThroughCacheRule does: its
// secret, and a login to the upstream with it. A rule that fails is not
// an error: the notice says why it is not valid.
func (h *Handler) validatePTCRule(w http.ResponseWriter, r *http.Request, s *session) {
	prefix := r.PostFormValue("prefix")
	v, err := h.o.Registry.ValidatePullThroughCacheRule(s.ctx, s.scope, prefix)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	notice := "Rule " + v.Rule.Prefix + ": valid."
	if !v.Valid {
		notice = "Rule " + v.Rule.Prefix + ": not valid: " + strings.TrimSpace(v.Failure)
	}
	back(w, r, ptcBack(s), notice)
}

// deletePTCRule deletes a rule; the repositories it cached stay.
func (h *Handler) deletePTCRule(w http.ResponseWriter, r *http.Request, s *session) {
	rule, err := h.o.Registry.DeletePullThroughCacheRule(s.ctx, s.scope, r.PostFormValue("prefix"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	back(w, r, ptcBack(s), "Deleted the rule "+rule.Prefix+"; the repositories it cached stay.")
}
