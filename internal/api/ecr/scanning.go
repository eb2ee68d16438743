package ecr

// The registry scanning configuration: PutRegistryScanningConfiguration,
// GetRegistryScanningConfiguration and
// BatchGetRepositoryScanningConfiguration, their shapes, validation and
// handlers.

import (
	"context"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/registry"
)

// ScanningRepositoryFilter selects repositories by a wildcard filter.
type ScanningRepositoryFilter struct {
	Filter     *string `json:"filter,omitempty"`
	FilterType *string `json:"filterType,omitempty"`
}

// RegistryScanningRule is a scan frequency and the repositories it covers.
type RegistryScanningRule struct {
	ScanFrequency     *string                    `json:"scanFrequency,omitempty"`
	RepositoryFilters []ScanningRepositoryFilter `json:"repositoryFilters"`
}

// RegistryScanningConfiguration is a registry's scan type and rules.
type RegistryScanningConfiguration struct {
	ScanType string                 `json:"scanType,omitempty"`
	Rules    []RegistryScanningRule `json:"rules"`
}

// PutRegistryScanningConfigurationInput is the
// PutRegistryScanningConfiguration request.
type PutRegistryScanningConfigurationInput struct {
	ScanType *string                `json:"scanType,omitempty"`
	Rules    []RegistryScanningRule `json:"rules,omitempty"`
}

// PutRegistryScanningConfigurationOutput is the
// PutRegistryScanningConfiguration response.
type PutRegistryScanningConfigurationOutput struct {
	RegistryScanningConfiguration *RegistryScanningConfiguration `json:"registryScanningConfiguration,omitempty"`
}

// GetRegistryScanningConfigurationInput is the
// GetRegistryScanningConfiguration request, which has no members.
type GetRegistryScanningConfigurationInput struct{}

// GetRegistryScanningConfigurationOutput is the
// GetRegistryScanningConfiguration response.
type GetRegistryScanningConfigurationOutput struct {
	RegistryId            string                         `json:"registryId,omitempty"`
	ScanningConfiguration *RegistryScanningConfiguration `json:"scanningConfiguration,omitempty"`
}

// BatchGetRepositoryScanningConfigurationInput is the
// BatchGetRepositoryScanningConfiguration request.
type BatchGetRepositoryScanningConfigurationInput struct {
	RepositoryNames []string `json:"repositoryNames,omitempty"`
}

// RepositoryScanningConfiguration is how a repository is scanned.
type RepositoryScanningConfiguration struct {
	RepositoryArn      string                     `json:"repositoryArn,omitempty"`
	RepositoryName     string                     `json:"repositoryName,omitempty"`
	ScanOnPush         bool                       `json:"scanOnPush"`
	ScanFrequency      string                     `json:"scanFrequency,omitempty"`
	AppliedScanFilters []ScanningRepositoryFilter `json:"appliedScanFilters"`
}

// RepositoryScanningConfigurationFailure is a repository whose scanning
// configuration could not be given.
type RepositoryScanningConfigurationFailure struct {
	RepositoryName string `json:"repositoryName,omitempty"`
	FailureCode    string `json:"failureCode,omitempty"`
	FailureReason  string `json:"failureReason,omitempty"`
}

// BatchGetRepositoryScanningConfigurationOutput is the
// BatchGetRepositoryScanningConfiguration response.
type BatchGetRepositoryScanningConfigurationOutput struct {
	ScanningConfigurations []RepositoryScanningConfiguration        `json:"scanningConfigurations"`
	Failures               []RepositoryScanningConfigurationFailure `json:"failures"`
}

// Constraints of the model.
var (
	patternScanningFilter      = newModelPattern(`^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`)
	enumScanType               = []string{"BASIC", "ENHANCED"}
	enumScanFrequency          = []string{"SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL"}
	enumScanningFilterType     = []string{"WILDCARD"}
	shapeScanType              = stringRule{enum: enumScanType}
	shapeScanFrequency         = stringRule{enum: enumScanFrequency}
	shapeScanningFilterValue   = stringRule{length: lengthRule{1, 255}, pattern: patternScanningFilter}
	shapeScanningFilterType    = stringRule{enum: enumScanningFilterType}
	listRegistryScanningRules  = lengthRule{0, 2}
	listScanningFilters        = lengthRule{0, 100}
	listScanningRepositoryName = lengthRule{1, 25}
)

func (c *shapeChecker) scanningRepositoryFilter(path string, v *ScanningRepositoryFilter) {
	c.str(nestedPath(path, "filter"), v.Filter, requiredMember, shapeScanningFilterValue)
	c.str(nestedPath(path, "filterType"), v.FilterType, requiredMember, shapeScanningFilterType)
}

func (c *shapeChecker) registryScanningRule(path string, v *RegistryScanningRule) {
	c.str(nestedPath(path, "scanFrequency"), v.ScanFrequency, requiredMember, shapeScanFrequency)
	checkList(c, nestedPath(path, "repositoryFilters"), v.RepositoryFilters, requiredMember, listScanningFilters, (*shapeChecker).scanningRepositoryFilter)
}

func (in *PutRegistryScanningConfigurationInput) validate() error {
	c := new(shapeChecker)
	c.str("scanType", in.ScanType, optionalMember, shapeScanType)
	checkList(c, "rules", in.Rules, optionalMember, listRegistryScanningRules, (*shapeChecker).registryScanningRule)
	return c.result()
}

func (in *GetRegistryScanningConfigurationInput) validate() error {
	return nil
}

func (in *BatchGetRepositoryScanningConfigurationInput) validate() error {
	c := new(shapeChecker)
	checkList(c, "repositoryNames", in.RepositoryNames, requiredMember, listScanningRepositoryName, stringMembers(shapeRepositoryName))
	return c.result()
}

func (h *Handler) putRegistryScanningConfiguration(ctx context.Context, c auth.Caller, in *PutRegistryScanningConfigurationInput) (*PutRegistryScanningConfigurationOutput, error) {
	cfg := registry.RegistryScanningConfiguration{ScanType: deref(in.ScanType)}
	for _, rule := range in.Rules {
		r := registry.ScanningRule{ScanFrequency: deref(rule.ScanFrequency)}
		for _, f := range rule.RepositoryFilters {
			r.RepositoryFilters = append(r.RepositoryFilters, registry.ScanFilter{Filter: deref(f.Filter), FilterType: deref(f.FilterType)})
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	stored, err := h.reg.PutRegistryScanningConfiguration(ctx, scope(c, nil), cfg)
	if err != nil {
		return nil, err
	}
	return &PutRegistryScanningConfigurationOutput{RegistryScanningConfiguration: registryScanning(stored)}, nil
}

func (h *Handler) getRegistryScanningConfiguration(ctx context.Context, c auth.Caller, _ *GetRegistryScanningConfigurationInput) (*GetRegistryScanningConfigurationOutput, error) {
	s := scope(c, nil)
	cfg, err := h.reg.RegistryScanningConfiguration(ctx, s)
	if err != nil {
		return nil, err
	}
	return &GetRegistryScanningConfigurationOutput{RegistryId: s.Account, ScanningConfiguration: registryScanning(cfg)}, nil
}

func (h *Handler) batchGetRepositoryScanningConfiguration(ctx context.Context, c auth.Caller, in *BatchGetRepositoryScanningConfigurationInput) (*BatchGetRepositoryScanningConfigurationOutput, error) {
	configs, failures, err := h.reg.BatchGetRepositoryScanningConfiguration(ctx, scope(c, nil), in.RepositoryNames)
	if err != nil {
		return nil, err
	}
	out := &BatchGetRepositoryScanningConfigurationOutput{
		ScanningConfigurations: make([]RepositoryScanningConfiguration, 0, len(configs)),
		Failures:               make([]RepositoryScanningConfigurationFailure, 0, len(failures)),
	}
	for _, rc := range configs {
		out.ScanningConfigurations = append(out.ScanningConfigurations, RepositoryScanningConfiguration{
			RepositoryArn:      registry.RepositoryARN(rc.Key),
			RepositoryName:     rc.Key.Name,
			ScanOnPush:         rc.ScanOnPush,
			ScanFrequency:      rc.ScanFrequency,
			AppliedScanFilters: scanFilters(rc.AppliedScanFilters),
		})
	}
	for _, f := range failures {
		// The one failure is a repository that does not exist.
		out.Failures = append(out.Failures, RepositoryScanningConfigurationFailure{
			RepositoryName: f.RepositoryName,
			FailureCode:    "REPOSITORY_NOT_FOUND",
			FailureReason:  errorMessage(f.Err),
		})
	}
	return out, nil
}

// registryScanning is the ECR shape of a registry scanning configuration,
// with empty lists rather than absent ones.
func registryScanning(cfg registry.RegistryScanningConfiguration) *RegistryScanningConfiguration {
	out := &RegistryScanningConfiguration{ScanType: cfg.ScanType, Rules: make([]RegistryScanningRule, 0, len(cfg.Rules))}
	for _, rule := range cfg.Rules {
		out.Rules = append(out.Rules, RegistryScanningRule{
			ScanFrequency:     ptr(rule.ScanFrequency),
			RepositoryFilters: scanFilters(rule.RepositoryFilters),
		})
	}
	return out
}

func scanFilters(fs []registry.ScanFilter) []ScanningRepositoryFilter {
	out := make([]ScanningRepositoryFilter, 0, len(fs))
	for _, f := range fs {
		out = append(out, ScanningRepositoryFilter{Filter: ptr(f.Filter), FilterType: ptr(f.FilterType)})
	}
	return out
}
