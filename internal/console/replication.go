package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

type replicationView struct {
	Rules []replicationRow
	Since time.Time
	// Backfills are a page of the registry's backfills, or BackfillError
	// says why they cannot be shown.
	Backfills     []registry.Backfill
	BackfillsNext string
	BackfillError string
	// The status of one image: the form's values and the answer.
	Repository, Image string
	Status            *imageReplication
	StatusError       string
}

// replicationRow is a rule of the configuration.
type replicationRow struct {
	Number       int // from 1
	Destinations []registry.ReplicationDestination
	Filters      []registry.RepositoryFilter
	Deletes      bool
}

type imageReplication struct {
	Digest string
	Rows   []registry.ReplicationStatus
}

// replication shows the registry's replication configuration, its
// backfills, and an image's replication status. The configuration is
// DescribeRegistry's, authorized as it is.
func (h *Handler) replication(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.o.Registry.DescribeRegistry(s.ctx, s.scope); err != nil {
		h.fail(w, r, s, err)
		return
	}
	cfg, err := h.o.Registry.ReplicationConfiguration(s.ctx, s.scope)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := replicationView{Since: cfg.Since,
		Repository: strings.TrimSpace(r.FormValue("repository")), Image: strings.TrimSpace(r.FormValue("image"))}
	for i, rule := range cfg.Rules {
		v.Rules = append(v.Rules, replicationRow{Number: i + 1, Destinations: rule.Destinations, Filters: rule.RepositoryFilters,
			Deletes: rule.DeleteReplication != nil && *rule.DeleteReplication})
	}
	if bfs, next, err := h.o.Registry.ListReplicationBackfills(s.ctx, s.scope, r.FormValue("next"), pageSize); err != nil {
		v.BackfillError = h.errorOf(err).Message
	} else {
		v.Backfills, v.BackfillsNext = bfs, next
	}
	if v.Repository != "" && v.Image != "" {
		// A tag holds no colon; a digest does.
		id := registry.ImageID{Tag: v.Image}
		if strings.Contains(v.Image, ":") {
			id = registry.ImageID{Digest: v.Image}
		}
		got, statuses, err := h.o.Registry.DescribeImageReplicationStatus(s.ctx, metadata.RepoKey{Scope: s.scope, Name: v.Repository}, id)
		if err != nil {
			v.StatusError = h.errorOf(err).Message
		} else {
			v.Status = &imageReplication{Digest: got.Digest, Rows: statuses}
		}
	}
	h.render(w, r, s, http.StatusOK, "replication", view{Title: "Replication", Nav: "replication", Data: v})
}
