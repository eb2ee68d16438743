package ecr

// Replication: PutReplicationConfiguration (DescribeRegistry returns the
// configuration), DescribeImageReplicationStatus and the replication
// backfills (StartReplicationBackfill, StopReplicationBackfill,
// ListReplicationBackfills, DescribeReplicationBackfillResults): their
// shapes, validation and handlers. The rules beyond each value's shape
// (at most 25 unique destinations, none the registry itself) are the
// core's.

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/registry"
)

// Shapes that appear in requests and responses (input convention).

// ReplicationConfiguration is a registry's replication rules. Rules is
// required: a response always writes it, [] when there are none.
type ReplicationConfiguration struct {
	Rules []ReplicationRule `json:"rules"`
}

// ReplicationRule replicates the repositories matching RepositoryFilters
// (all, when there are none) to Destinations, and deletions too when
// DeleteReplication says so. Destinations is required.
type ReplicationRule struct {
	Destinations      []ReplicationDestination `json:"destinations"`
	RepositoryFilters []RepositoryFilter       `json:"repositoryFilters,omitempty"`
	DeleteReplication *DeleteReplication       `json:"deleteReplication,omitempty"`
}

// ReplicationDestination is a region and registry to replicate to. Both
// members are required.
type ReplicationDestination struct {
	Region     *string `json:"region,omitempty"`
	RegistryId *string `json:"registryId,omitempty"`
}

// RepositoryFilter selects repositories by name prefix (PREFIX_MATCH).
// Both members are required.
type RepositoryFilter struct {
	Filter     *string `json:"filter,omitempty"`
	FilterType *string `json:"filterType,omitempty"`
}

// DeleteReplication says whether a rule replicates deletions and
// untaggings. Enabled is required.
type DeleteReplication struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// Requests and responses.

// PutReplicationConfigurationInput is the PutReplicationConfiguration
// request, which has no registryId: it sets the caller's registry.
type PutReplicationConfigurationInput struct {
	ReplicationConfiguration *ReplicationConfiguration `json:"replicationConfiguration,omitempty"`
}

// PutReplicationConfigurationOutput is the PutReplicationConfiguration
// response: the configuration as stored.
type PutReplicationConfigurationOutput struct {
	ReplicationConfiguration *ReplicationConfiguration `json:"replicationConfiguration,omitempty"`
}

// DescribeImageReplicationStatusInput is the
// DescribeImageReplicationStatus request.
type DescribeImageReplicationStatusInput struct {
	RepositoryName *string          `json:"repositoryName,omitempty"`
	ImageId        *ImageIdentifier `json:"imageId,omitempty"`
	RegistryId     *string          `json:"registryId,omitempty"`
}

// DescribeImageReplicationStatusOutput is the
// DescribeImageReplicationStatus response.
type DescribeImageReplicationStatusOutput struct {
	RepositoryName      string                   `json:"repositoryName,omitempty"`
	ImageId             *ImageIdentifier         `json:"imageId,omitempty"`
	ReplicationStatuses []ImageReplicationStatus `json:"replicationStatuses"`
}

// ImageReplicationStatus is an image's replication to one destination.
type ImageReplicationStatus struct {
	Region      string `json:"region,omitempty"`
	RegistryId  string `json:"registryId,omitempty"`
	Status      string `json:"status,omitempty"`
	FailureCode string `json:"failureCode,omitempty"`
}

// StartReplicationBackfillInput is the StartReplicationBackfill request.
type StartReplicationBackfillInput struct {
	RegistryId  *string                 `json:"registryId,omitempty"`
	Destination *ReplicationDestination `json:"destination,omitempty"`
}

// StartReplicationBackfillOutput is the StartReplicationBackfill
// response, and the StopReplicationBackfill one.
type StartReplicationBackfillOutput struct {
	ReplicationBackfillId string                  `json:"replicationBackfillId,omitempty"`
	RegistryId            string                  `json:"registryId,omitempty"`
	Destination           *ReplicationDestination `json:"destination,omitempty"`
	Status                string                  `json:"status,omitempty"`
	StartedAt             *Timestamp              `json:"startedAt,omitempty"`
}

// StopReplicationBackfillInput is the StopReplicationBackfill request.
type StopReplicationBackfillInput struct {
	RegistryId            *string `json:"registryId,omitempty"`
	ReplicationBackfillId *string `json:"replicationBackfillId,omitempty"`
}

// StopReplicationBackfillOutput is the StopReplicationBackfill response.
type StopReplicationBackfillOutput = StartReplicationBackfillOutput

// ListReplicationBackfillsInput is the ListReplicationBackfills request.
type ListReplicationBackfillsInput struct {
	RegistryId *string `json:"registryId,omitempty"`
	MaxResults *int32  `json:"maxResults,omitempty"`
	NextToken  *string `json:"nextToken,omitempty"`
}

// ListReplicationBackfillsOutput is the ListReplicationBackfills
// response.
type ListReplicationBackfillsOutput struct {
	RegistryId string                       `json:"registryId,omitempty"`
	Backfills  []ReplicationBackfillSummary `json:"backfills"`
	NextToken  string                       `json:"nextToken,omitempty"`
}

// ReplicationBackfillSummary is one backfill of a registry. Progress is
// absent while the backfill is PREPARING, EndedAt until it ends.
type ReplicationBackfillSummary struct {
	ReplicationBackfillId string                       `json:"replicationBackfillId"`
	Destination           *ReplicationDestination      `json:"destination"`
	Status                string                       `json:"status"`
	FailureCode           string                       `json:"failureCode,omitempty"`
	Progress              *ReplicationBackfillProgress `json:"progress,omitempty"`
	StartedAt             *Timestamp                   `json:"startedAt"`
	EndedAt               *Timestamp                   `json:"endedAt,omitempty"`
}

// ReplicationBackfillProgress counts a backfill's replications; every
// member is required.
type ReplicationBackfillProgress struct {
	TotalReplicationCount     int32    `json:"totalReplicationCount"`
	CompletedReplicationCount int32    `json:"completedReplicationCount"`
	FailedReplicationCount    int32    `json:"failedReplicationCount"`
	FailureCodes              []string `json:"failureCodes"`
}

// DescribeReplicationBackfillResultsInput is the
// DescribeReplicationBackfillResults request.
type DescribeReplicationBackfillResultsInput struct {
	RegistryId            *string `json:"registryId,omitempty"`
	ReplicationBackfillId *string `json:"replicationBackfillId,omitempty"`
	ResultStatusFilter    *string `json:"resultStatusFilter,omitempty"`
	MaxResults            *int32  `json:"maxResults,omitempty"`
	NextToken             *string `json:"nextToken,omitempty"`
}

// DescribeReplicationBackfillResultsOutput is the
// DescribeReplicationBackfillResults response. Results is nil (absent)
// until the backfill has ended, then a list, [] when empty: a pointer, so
// that the two differ.
type DescribeReplicationBackfillResultsOutput struct {
	RegistryId            string                       `json:"registryId,omitempty"`
	ReplicationBackfillId string                       `json:"replicationBackfillId,omitempty"`
	Destination           *ReplicationDestination      `json:"destination,omitempty"`
	Status                string                       `json:"status,omitempty"`
	FailureCode           string                       `json:"failureCode,omitempty"`
	Progress              *ReplicationBackfillProgress `json:"progress,omitempty"`
	Results               *[]ReplicationBackfillResult `json:"results,omitempty"`
	StartedAt             *Timestamp                   `json:"startedAt,omitempty"`
	EndedAt               *Timestamp                   `json:"endedAt,omitempty"`
	NextToken             string                       `json:"nextToken,omitempty"`
}

// ReplicationBackfillResult is the outcome of one image of a backfill.
type ReplicationBackfillResult struct {
	RepositoryName string           `json:"repositoryName"`
	ImageId        *ImageIdentifier `json:"imageId"`
	Status         string           `json:"status"`
	FailureCode    string           `json:"failureCode,omitempty"`
}

// Constraints of the model.
var (
	patternRegion            = newModelPattern(`[0-9a-z-]{2,25}`)
	patternReplicationFilter = newModelPattern(`^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$`)
	patternBackfillID        = newModelPattern(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

	shapeRegion                 = stringRule{length: lengthRule{2, 25}, pattern: patternRegion}
	shapeRepositoryFilterValue  = stringRule{length: lengthRule{2, 256}, pattern: patternReplicationFilter}
	shapeRepositoryFilterType   = stringRule{enum: []string{registry.FilterPrefixMatch}}
	shapeReplicationBackfillID  = stringRule{pattern: patternBackfillID}
	shapeBackfillResultStatus   = stringRule{enum: []string{registry.BackfillComplete, registry.BackfillFailed}}
	listReplicationRules        = lengthRule{0, 10}
	listReplicationDestinations = lengthRule{0, 100}
	listReplicationFilters      = lengthRule{1, 100}
)

// Page sizes without maxResults, as ECR's API reference gives them.
const (
	defaultBackfillPageSize        = 25
	defaultBackfillResultsPageSize = 100
)

// pageSizeOr is a request's maxResults, or def without one.
func pageSizeOr(maxResults *int32, def int) int {
	if maxResults == nil {
		return def
	}
	return int(*maxResults)
}

func (c *shapeChecker) replicationConfiguration(path string, v *ReplicationConfiguration) {
	checkList(c, nestedPath(path, "rules"), v.Rules, requiredMember, listReplicationRules, (*shapeChecker).replicationRule)
}

func (c *shapeChecker) replicationRule(path string, v *ReplicationRule) {
	checkList(c, nestedPath(path, "destinations"), v.Destinations, requiredMember, listReplicationDestinations, (*shapeChecker).replicationDestination)
	checkList(c, nestedPath(path, "repositoryFilters"), v.RepositoryFilters, optionalMember, listReplicationFilters, (*shapeChecker).repositoryFilter)
	checkStructure(c, nestedPath(path, "deleteReplication"), v.DeleteReplication, optionalMember, (*shapeChecker).deleteReplication)
}

func (c *shapeChecker) replicationDestination(path string, v *ReplicationDestination) {
	c.str(nestedPath(path, "region"), v.Region, requiredMember, shapeRegion)
	c.str(nestedPath(path, "registryId"), v.RegistryId, requiredMember, shapeRegistryID)
}

func (c *shapeChecker) repositoryFilter(path string, v *RepositoryFilter) {
	c.str(nestedPath(path, "filter"), v.Filter, requiredMember, shapeRepositoryFilterValue)
	c.str(nestedPath(path, "filterType"), v.FilterType, requiredMember, shapeRepositoryFilterType)
}

func (c *shapeChecker) deleteReplication(path string, v *DeleteReplication) {
	c.boolean(nestedPath(path, "enabled"), v.Enabled, requiredMember)
}

// Validation, members in the model's order.

func (in *PutReplicationConfigurationInput) validate() error {
	c := new(shapeChecker)
	checkStructure(c, "replicationConfiguration", in.ReplicationConfiguration, requiredMember, (*shapeChecker).replicationConfiguration)
	return c.result()
}

func (in *DescribeImageReplicationStatusInput) validate() error {
	c := new(shapeChecker)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "imageId", in.ImageId, requiredMember, (*shapeChecker).imageIdentifier)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	return c.result()
}

func (in *StartReplicationBackfillInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	checkStructure(c, "destination", in.Destination, requiredMember, (*shapeChecker).replicationDestination)
	return c.result()
}

func (in *StopReplicationBackfillInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("replicationBackfillId", in.ReplicationBackfillId, requiredMember, shapeReplicationBackfillID)
	return c.result()
}

func (in *ListReplicationBackfillsInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeFiftyMaxResults)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	return c.result()
}

func (in *DescribeReplicationBackfillResultsInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("replicationBackfillId", in.ReplicationBackfillId, requiredMember, shapeReplicationBackfillID)
	c.str("resultStatusFilter", in.ResultStatusFilter, optionalMember, shapeBackfillResultStatus)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	return c.result()
}

// Conversions between the wire and the core.

// coreReplication is the core's configuration of a validated request's.
func coreReplication(in *ReplicationConfiguration) registry.ReplicationConfiguration {
	var out registry.ReplicationConfiguration
	for _, rule := range in.Rules {
		r := registry.ReplicationRule{Destinations: make([]registry.ReplicationDestination, 0, len(rule.Destinations))}
		for _, d := range rule.Destinations {
			r.Destinations = append(r.Destinations, coreDestination(&d))
		}
		for _, f := range rule.RepositoryFilters {
			r.RepositoryFilters = append(r.RepositoryFilters, registry.RepositoryFilter{Filter: deref(f.Filter), FilterType: deref(f.FilterType)})
		}
		if rule.DeleteReplication != nil {
			r.DeleteReplication = ptr(deref(rule.DeleteReplication.Enabled))
		}
		out.Rules = append(out.Rules, r)
	}
	return out
}

func coreDestination(d *ReplicationDestination) registry.ReplicationDestination {
	return registry.ReplicationDestination{Region: deref(d.Region), RegistryID: deref(d.RegistryId)}
}

// wireReplication is the ECR shape of a configuration: rules and each
// rule's destinations always present, filters and deleteReplication only
// when the configuration has them (as it was put).
func wireReplication(cfg registry.ReplicationConfiguration) *ReplicationConfiguration {
	out := &ReplicationConfiguration{Rules: make([]ReplicationRule, 0, len(cfg.Rules))}
	for _, rule := range cfg.Rules {
		r := ReplicationRule{Destinations: make([]ReplicationDestination, 0, len(rule.Destinations))}
		for _, d := range rule.Destinations {
			r.Destinations = append(r.Destinations, *wireDestination(d))
		}
		for _, f := range rule.RepositoryFilters {
			r.RepositoryFilters = append(r.RepositoryFilters, RepositoryFilter{Filter: ptr(f.Filter), FilterType: ptr(f.FilterType)})
		}
		if rule.DeleteReplication != nil {
			r.DeleteReplication = &DeleteReplication{Enabled: ptr(*rule.DeleteReplication)}
		}
		out.Rules = append(out.Rules, r)
	}
	return out
}

func wireDestination(d registry.ReplicationDestination) *ReplicationDestination {
	return &ReplicationDestination{Region: ptr(d.Region), RegistryId: ptr(d.RegistryID)}
}

// wireProgress is a backfill's progress, nil while it is PREPARING.
func wireProgress(p *registry.BackfillProgress) *ReplicationBackfillProgress {
	if p == nil {
		return nil
	}
	codes := p.FailureCodes
	if codes == nil {
		codes = []string{}
	}
	return &ReplicationBackfillProgress{
		TotalReplicationCount:     int32(p.Total),
		CompletedReplicationCount: int32(p.Completed),
		FailedReplicationCount:    int32(p.Failed),
		FailureCodes:              codes,
	}
}

// backfillEnded reports whether a backfill is in a terminal status, when
// its per-image results are given.
func backfillEnded(b registry.Backfill) bool {
	switch b.Status {
	case registry.BackfillComplete, registry.BackfillFailed, registry.BackfillStopped:
		return true
	}
	return false
}

func backfillOutput(registryID string, b registry.Backfill) *StartReplicationBackfillOutput {
	return &StartReplicationBackfillOutput{
		ReplicationBackfillId: b.ID,
		RegistryId:            registryID,
		Destination:           wireDestination(b.Destination),
		Status:                b.Status,
		StartedAt:             awsjson.NewTimestamp(b.StartedAt),
	}
}

// Handlers.

func (h *Handler) putReplicationConfiguration(ctx context.Context, c auth.Caller, in *PutReplicationConfigurationInput) (*PutReplicationConfigurationOutput, error) {
	stored, err := h.reg.PutReplicationConfiguration(ctx, scope(c, nil), coreReplication(in.ReplicationConfiguration))
	if err != nil {
		return nil, err
	}
	return &PutReplicationConfigurationOutput{ReplicationConfiguration: wireReplication(stored)}, nil
}

func (h *Handler) describeRegistry(ctx context.Context, c auth.Caller, _ *DescribeRegistryInput) (*DescribeRegistryOutput, error) {
	s := scope(c, nil)
	if err := h.reg.DescribeRegistry(ctx, s); err != nil {
		return nil, err
	}
	cfg, err := h.reg.ReplicationConfiguration(ctx, s)
	if err != nil {
		return nil, err
	}
	// Always present, with rules [] when there are none: Terraform's
	// aws_ecr_replication_configuration reads zero rules as no resource.
	return &DescribeRegistryOutput{RegistryId: s.Account, ReplicationConfiguration: wireReplication(cfg)}, nil
}

func (h *Handler) describeImageReplicationStatus(ctx context.Context, c auth.Caller, in *DescribeImageReplicationStatusInput) (*DescribeImageReplicationStatusOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	id, statuses, err := h.reg.DescribeImageReplicationStatus(ctx, key, registry.ImageID{Digest: deref(in.ImageId.ImageDigest), Tag: deref(in.ImageId.ImageTag)})
	if err != nil {
		return nil, err
	}
	out := &DescribeImageReplicationStatusOutput{RepositoryName: key.Name, ImageId: wireID(id), ReplicationStatuses: make([]ImageReplicationStatus, 0, len(statuses))}
	for _, st := range statuses {
		out.ReplicationStatuses = append(out.ReplicationStatuses, ImageReplicationStatus{
			Region: st.Region, RegistryId: st.RegistryID, Status: st.Status, FailureCode: st.FailureCode,
		})
	}
	return out, nil
}

func (h *Handler) startReplicationBackfill(ctx context.Context, c auth.Caller, in *StartReplicationBackfillInput) (*StartReplicationBackfillOutput, error) {
	s := scope(c, in.RegistryId)
	b, err := h.reg.StartReplicationBackfill(ctx, s, coreDestination(in.Destination))
	if err != nil {
		return nil, err
	}
	return backfillOutput(s.Account, b), nil
}

func (h *Handler) stopReplicationBackfill(ctx context.Context, c auth.Caller, in *StopReplicationBackfillInput) (*StopReplicationBackfillOutput, error) {
	s := scope(c, in.RegistryId)
	b, err := h.reg.StopReplicationBackfill(ctx, s, deref(in.ReplicationBackfillId))
	if err != nil {
		return nil, err
	}
	return backfillOutput(s.Account, b), nil
}

func (h *Handler) listReplicationBackfills(ctx context.Context, c auth.Caller, in *ListReplicationBackfillsInput) (*ListReplicationBackfillsOutput, error) {
	s := scope(c, in.RegistryId)
	backfills, next, err := h.reg.ListReplicationBackfills(ctx, s, deref(in.NextToken), pageSizeOr(in.MaxResults, defaultBackfillPageSize))
	if err != nil {
		return nil, err
	}
	out := &ListReplicationBackfillsOutput{RegistryId: s.Account, Backfills: make([]ReplicationBackfillSummary, 0, len(backfills)), NextToken: next}
	for _, b := range backfills {
		out.Backfills = append(out.Backfills, ReplicationBackfillSummary{
			ReplicationBackfillId: b.ID,
			Destination:           wireDestination(b.Destination),
			Status:                b.Status,
			FailureCode:           b.FailureCode,
			Progress:              wireProgress(b.Progress),
			StartedAt:             awsjson.NewTimestamp(b.StartedAt),
			EndedAt:               awsjson.NewTimestamp(b.EndedAt),
		})
	}
	return out, nil
}

func (h *Handler) describeReplicationBackfillResults(ctx context.Context, c auth.Caller, in *DescribeReplicationBackfillResultsInput) (*DescribeReplicationBackfillResultsOutput, error) {
	s := scope(c, in.RegistryId)
	b, results, next, err := h.reg.DescribeReplicationBackfillResults(ctx, s, deref(in.ReplicationBackfillId), deref(in.ResultStatusFilter), deref(in.NextToken),
		pageSizeOr(in.MaxResults, defaultBackfillResultsPageSize))
	if err != nil {
		return nil, err
	}
	out := &DescribeReplicationBackfillResultsOutput{
		RegistryId:            s.Account,
		ReplicationBackfillId: b.ID,
		Destination:           wireDestination(b.Destination),
		Status:                b.Status,
		FailureCode:           b.FailureCode,
		Progress:              wireProgress(b.Progress),
		StartedAt:             awsjson.NewTimestamp(b.StartedAt),
		EndedAt:               awsjson.NewTimestamp(b.EndedAt),
		NextToken:             next,
	}
	if backfillEnded(b) {
		list := make([]ReplicationBackfillResult, 0, len(results))
		for _, r := range results {
			list = append(list, ReplicationBackfillResult{
				RepositoryName: r.RepositoryName,
				ImageId:        wireID(r.Image),
				Status:         r.Status,
				FailureCode:    r.FailureCode,
			})
		}
		out.Results = &list
	}
	return out, nil
}
