package console

import (
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

func (h *Handler) accessRoutes() {
	m := h.mux
	m.HandleFunc("GET /console/access", h.session(h.access))
	m.HandleFunc("POST /console/access/repository-policy", h.session(h.putRepositoryPolicy))
	m.HandleFunc("POST /console/access/registry-policy", h.session(h.putRegistryPolicy))
}

type accessView struct {
	Name string // the repository, if the page is about one
	// RepositoryPolicy and RegistryPolicy are the policies' text ("" for
	// none); the errors say why one could not be read.
	RepositoryPolicy, RepositoryPolicyError string
	RegistryPolicy, RegistryPolicyError     string
	// Problem is a refused edit, as the API words it; Edited is the text
	// that was refused, kept for correcting.
	Problem, Edited, EditedPolicy string
	Notice                        string
	Question                      *question
}

// question is "can this principal do this action here?" and its answer.
type question struct {
	Principal, Action string
	Answer            *registry.AccessAnswer
	Problem           string
}

// access shows a repository's policy and the registry's, with editors
// that validate as the API does, and answers "can this principal do
// this action here?" with the deciding statement.
func (h *Handler) access(w http.ResponseWriter, r *http.Request, s *session) {
	v := accessView{Name: r.FormValue("name"), Notice: s.notice}
	h.fillPolicies(r, s, &v)
	if p, a := strings.TrimSpace(r.FormValue("principal")), strings.TrimSpace(r.FormValue("action")); p != "" || a != "" {
		q := &question{Principal: p, Action: a}
		ans, err := h.o.Registry.ExplainAccess(s.ctx, registry.AccessQuestion{Scope: s.scope, Repository: v.Name, PrincipalARN: p, Action: a})
		if err != nil {
			q.Problem = h.errorOf(err).Message
		} else {
			q.Answer = &ans
		}
		v.Question = q
	}
	h.render(w, r, s, http.StatusOK, "access", view{Title: "Access", Nav: "access", Data: v})
}

func (h *Handler) fillPolicies(r *http.Request, s *session, v *accessView) {
	if v.Name != "" {
		text, err := h.o.Registry.RepositoryPolicy(s.ctx, metadata.RepoKey{Scope: s.scope, Name: v.Name})
		switch {
		case err == nil:
			v.RepositoryPolicy = text
		case registry.CodeOf(err) != registry.CodeRepositoryPolicyNotFound:
			v.RepositoryPolicyError = h.errorOf(err).Message
		}
	}
	text, err := h.o.Registry.RegistryPolicy(s.ctx, s.scope)
	switch {
	case err == nil:
		v.RegistryPolicy = text
	case registry.CodeOf(err) != registry.CodeRegistryPolicyNotFound:
		v.RegistryPolicyError = h.errorOf(err).Message
	}
}

// putRepositoryPolicy sets (or, empty, deletes) a repository's policy.
func (h *Handler) putRepositoryPolicy(w http.ResponseWriter, r *http.Request, s *session) {
	name, text := r.PostFormValue("name"), strings.TrimSpace(r.PostFormValue("policy"))
	key := metadata.RepoKey{Scope: s.scope, Name: name}
	var err error
	notice := "Saved the repository policy."
	if text == "" {
		_, err = h.o.Registry.DeleteRepositoryPolicy(s.ctx, key)
		notice = "Deleted the repository policy."
	} else {
		_, err = h.o.Registry.SetRepositoryPolicy(s.ctx, key, text, false)
	}
	h.afterPolicyEdit(w, r, s, name, "repository", text, notice, err)
}

// putRegistryPolicy sets (or, empty, deletes) the registry's policy.
func (h *Handler) putRegistryPolicy(w http.ResponseWriter, r *http.Request, s *session) {
	text := strings.TrimSpace(r.PostFormValue("policy"))
	var err error
	notice := "Saved the registry policy."
	if text == "" {
		_, err = h.o.Registry.DeleteRegistryPolicy(s.ctx, s.scope)
		notice = "Deleted the registry policy."
	} else {
		err = h.o.Registry.PutRegistryPolicy(s.ctx, s.scope, text)
	}
	h.afterPolicyEdit(w, r, s, r.PostFormValue("name"), "registry", text, notice, err)
}

// afterPolicyEdit goes back to the access page, or shows it again with
// the refused text and the API's reason (a 400, or the 403 of a
// denial, which shows nothing of the policies).
func (h *Handler) afterPolicyEdit(w http.ResponseWriter, r *http.Request, s *session, name, which, text, notice string, err error) {
	if err == nil {
		back(w, r, "/console/access?"+scopeQuery(s, "name", name), notice)
		return
	}
	pe := h.errorOf(err)
	if pe.Status != http.StatusBadRequest {
		h.fail(w, r, s, err)
		return
	}
	v := accessView{Name: name, Problem: pe.Message, Edited: which, EditedPolicy: text}
	h.fillPolicies(r, s, &v)
	h.render(w, r, s, http.StatusBadRequest, "access", view{Title: "Access", Nav: "access", Data: v})
}
