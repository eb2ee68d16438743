package console

import (
	"net/http"

	"github.com/ecrd/ecrd/internal/registry"
)

type creationTemplatesView struct {
	Rows []registry.CreationTemplate
	Next string
}

// creationTemplates lists the registry's repository creation templates,
// a page at a time.
func (h *Handler) creationTemplates(w http.ResponseWriter, r *http.Request, s *session) {
	list, next, err := h.o.Registry.DescribeCreationTemplates(s.ctx, s.scope, nil, r.FormValue("next"), pageSize)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "creation-templates", view{Title: "Repository creation templates", Nav: "templates",
		Data: creationTemplatesView{Rows: list, Next: next}})
}
