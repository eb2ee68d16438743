package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
)

// registryRoutes are the pages of a registry's settings and records:
// lifecycle policies, replication, pull-through cache rules, creation
// templates, the audit trail and events.
func (h *Handler) registryRoutes() {
	m := h.mux
	m.HandleFunc("GET /console/lifecycle", h.session(h.lifecycle))
	m.HandleFunc("POST /console/lifecycle", h.session(h.lifecyclePost))
	m.HandleFunc("POST /console/lifecycle/delete", h.session(h.lifecycleDelete))
	m.HandleFunc("GET /console/replication", h.session(h.replication))
	m.HandleFunc("GET /console/pull-through-cache", h.session(h.pullThroughCache))
	m.HandleFunc("POST /console/pull-through-cache/validate", h.session(h.validatePTCRule))
	m.HandleFunc("POST /console/pull-through-cache/delete", h.session(h.deletePTCRule))
	m.HandleFunc("GET /console/templates", h.session(h.creationTemplates))
	m.HandleFunc("GET /console/audit", h.session(h.auditTrail))
	m.HandleFunc("GET /console/events", h.session(h.events))
}

// awsError maps an error of the cores that answer in AWS's words (the
// audit trail, EventBridge: internal/awserr) to what a page shows: a
// denial is a 403 with the core's explanation, a missing thing a 404,
// another refusal a 400. Other errors pass as they are, to errorOf.
func awsError(err error) error {
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case strings.HasPrefix(ae.Code, "AccessDenied"):
		return &pageError{Status: http.StatusForbidden, Title: "Access denied", Message: ae.Message}
	case ae.Code == "ResourceNotFoundException" || ae.Code == "NoSuchEntity":
		return &pageError{Status: http.StatusNotFound, Title: "Not found", Message: ae.Message}
	}
	return &pageError{Status: http.StatusBadRequest, Title: "Invalid request", Message: ae.Code + ": " + ae.Message}
}
