package console

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
}
