package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Replication copies what a registry's pushes bring to other registries:
// other regions and accounts of this server, or regions another ecrd
// serves (RemoteRegions). The rules and the API live here; the engine
// (the outbox feed, the leased tasks, the backfills) is
// internal/registry/replication, and the copy itself replicate.go.

// Replication limits, as ECR's.
const (
	MaxReplicationRules        = 10
	MaxReplicationFilters      = 100
	MaxReplicationDestinations = 25
	// MaxActiveBackfills is how many backfills a registry runs at once.
	MaxActiveBackfills = 10
	// BackfillRetention is how long a finished backfill stays listed.
	BackfillRetention = 90 * 24 * time.Hour
)

// FilterPrefixMatch is the one repository filter type.
const FilterPrefixMatch = "PREFIX_MATCH"

// settingReplication is the account setting that holds a registry's
// replication configuration. ECR's setting names are upper case; this
// one cannot be read or written through GetAccountSetting.
const settingReplication = "ecrd:replication"

// ReplicationConfiguration is a registry's replication configuration.
type ReplicationConfiguration struct {
	Rules []ReplicationRule `json:"rules"`
	// Since is when it was put: pushes before it are not replicated,
	// unless a backfill copies them.
	Since time.Time `json:"since,omitzero"`
}

// ReplicationRule says where the repositories its filters select are
// replicated.
type ReplicationRule struct {
	Destinations      []ReplicationDestination `json:"destinations"`
	RepositoryFilters []RepositoryFilter       `json:"repositoryFilters,omitempty"`
	// DeleteReplication: nil when the rule does not say; when true,
	// deletions and untaggings are replicated too.
	DeleteReplication *bool `json:"deleteReplication,omitempty"`
}

// ReplicationDestination is a registry: an account in a region.
type ReplicationDestination struct {
	Region     string `json:"region"`
	RegistryID string `json:"registryId"`
}

func (d ReplicationDestination) scope() metadata.Scope {
	return metadata.Scope{Account: d.RegistryID, Region: d.Region}
}

// RepositoryFilter selects repositories by name prefix.
type RepositoryFilter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

// selects reports whether the rule replicates repository name.
func (rule ReplicationRule) selects(name string) bool {
	if len(rule.RepositoryFilters) == 0 {
		return true
	}
	for _, f := range rule.RepositoryFilters {
		if strings.HasPrefix(name, f.Filter) {
			return true
		}
	}
	return false
}

// deletes reports whether the rule replicates deletions.
func (rule ReplicationRule) deletes() bool {
	return rule.DeleteReplication != nil && *rule.DeleteReplication
}

// ReplicationTarget is one destination of a repository: where its images
// go, and whether their deletions follow.
type ReplicationTarget struct {
	Dest    metadata.Scope
	Deletes bool
}

// Targets lists the destinations of repository name, each once (deletions
// follow if any rule naming the destination says so).
func (c ReplicationConfiguration) Targets(name string) []ReplicationTarget {
	var out []ReplicationTarget
	for _, rule := range c.Rules {
		if !rule.selects(name) {
			continue
		}
	dests:
		for _, d := range rule.Destinations {
			for i := range out {
				if out[i].Dest == d.scope() {
					out[i].Deletes = out[i].Deletes || rule.deletes()
					continue dests
				}
			}
			out = append(out, ReplicationTarget{Dest: d.scope(), Deletes: rule.deletes()})
		}
	}
	return out
}

// hasDestination reports whether the configuration replicates to d.
func (c ReplicationConfiguration) hasDestination(d metadata.Scope) bool {
	for _, rule := range c.Rules {
		for _, x := range rule.Destinations {
			if x.scope() == d {
				return true
			}
		}
	}
	return false
}

// checkReplication enforces ECR's rules of a configuration that span its
// parts (the adapter checked each value's shape): at most 25 destinations
// in all, none the source registry itself, filters of one type.
func checkReplication(scope metadata.Scope, c ReplicationConfiguration) error {
	const field = "replicationConfiguration"
	if len(c.Rules) > MaxReplicationRules {
		return paramError(field, "a replication configuration has at most %d rules", MaxReplicationRules)
	}
	unique := map[metadata.Scope]bool{}
	for _, rule := range c.Rules {
		if len(rule.RepositoryFilters) > MaxReplicationFilters {
			return paramError(field, "a replication rule has at most %d repository filters", MaxReplicationFilters)
		}
		for _, f := range rule.RepositoryFilters {
			if f.FilterType != FilterPrefixMatch {
				return paramError(field, "repository filter type %q is not supported: use PREFIX_MATCH", f.FilterType)
			}
		}
		for _, d := range rule.Destinations {
			if d.scope() == scope {
				return paramError(field, "Replication destination cannot be the same as the source registry")
			}
			unique[d.scope()] = true
		}
	}
	if len(unique) > MaxReplicationDestinations {
		return paramError(field, "a replication configuration has at most %d unique destinations across its rules; this one has %d", MaxReplicationDestinations, len(unique))
	}
	return nil
}

// replicationConfig reads a registry's replication configuration (empty
// when it has none) from r.
func replicationConfig(ctx context.Context, rd metadata.Reader, scope metadata.Scope) (ReplicationConfiguration, error) {
	var c ReplicationConfiguration
	text, err := rd.AccountSetting(ctx, scope, settingReplication)
	if errors.Is(err, metadata.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		return c, fmt.Errorf("replication configuration of %s/%s: %w", scope.Account, scope.Region, err)
	}
	return c, nil
}

// PutReplicationConfiguration replaces a registry's replication
// configuration (no rules: replication stops) and returns it. Images
// pushed from now on replicate; those already there only through a
// backfill.
func (r *Registry) PutReplicationConfiguration(ctx context.Context, scope metadata.Scope, c ReplicationConfiguration) (ReplicationConfiguration, error) {
	if err := r.authorize(ctx, ActionPutReplicationConfig, scope, nil, "*"); err != nil {
		return c, err
	}
	if err := checkReplication(scope, c); err != nil {
		return c, err
	}
	now := r.now()
	c.Since = now
	doc, err := json.Marshal(c)
	if err != nil {
		return c, err
	}
	var params map[string]any
	if err := json.Unmarshal(doc, &params); err != nil {
		return c, err
	}
	delete(params, "since")
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := tx.PutAccountSetting(ctx, scope, settingReplication, string(doc)); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionPutReplicationConfig, map[string]any{"replicationConfiguration": params})
	})
	return c, err
}

// ReplicationConfiguration returns a registry's replication
// configuration, for DescribeRegistry (whose authorization the caller
// checked).
func (r *Registry) ReplicationConfiguration(ctx context.Context, scope metadata.Scope) (ReplicationConfiguration, error) {
	return replicationConfig(ctx, r.meta, scope)
}

// ReplicationStatus is the state of an image's replication to one
// destination.
type ReplicationStatus struct {
	Region, RegistryID string
	Status             string // IN_PROGRESS, COMPLETE or FAILED
	FailureCode        string
}

// Backfill statuses, as ECR's.
const (
	BackfillPreparing  = "PREPARING"
	BackfillInProgress = "IN_PROGRESS"
	BackfillComplete   = "COMPLETE"
	BackfillFailed     = "FAILED"
	BackfillStopping   = "STOPPING"
	BackfillStopped    = "STOPPED"
)

// Backfill is a replication backfill: the copy to one destination of
// what a registry held before replication was configured.
type Backfill struct {
	ID          string                 `json:"id"`
	Destination ReplicationDestination `json:"destination"`
	Status      string                 `json:"status"`
	StartedAt   time.Time              `json:"startedAt"`
	EndedAt     time.Time              `json:"endedAt,omitzero"`
	FailureCode string                 `json:"failureCode,omitempty"`
	// Progress is nil while the backfill is PREPARING.
	Progress *BackfillProgress `json:"-"`
	// Queued says the backfill listed every image it copies.
	Queued bool `json:"queued,omitempty"`
}

// BackfillProgress counts a backfill's replications (one per image and
// destination).
type BackfillProgress struct {
	Total, Completed, Failed int
	FailureCodes             []string
}

// BackfillResult is the outcome of one image of a finished backfill.
type BackfillResult struct {
	RepositoryName string
	Image          ImageID
	Status         string // COMPLETE or FAILED
	FailureCode    string
}
