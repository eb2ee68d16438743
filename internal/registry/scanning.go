package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// The actions of the registry scanning configuration.
const (
	ActionPutRegistryScanningConfig      Action = "ecr:PutRegistryScanningConfiguration"
	ActionGetRegistryScanningConfig      Action = "ecr:GetRegistryScanningConfiguration"
	ActionBatchGetRepositoryScanningConf Action = "ecr:BatchGetRepositoryScanningConfiguration"
)

// Scan types and frequencies, as ECR names them.
const (
	ScanTypeBasic    = "BASIC"
	ScanTypeEnhanced = "ENHANCED"

	ScanOnPush     = "SCAN_ON_PUSH"
	ContinuousScan = "CONTINUOUS_SCAN"
	ManualScan     = "MANUAL"

	ScanFilterWildcard = "WILDCARD"
)

// settingRegistryScanning is the registry setting that holds the registry
// scanning configuration, as JSON. It is not one of accountSettings, so
// clients can neither read nor write it through Get/PutAccountSetting.
const settingRegistryScanning = "ecrd:registry-scanning-configuration"

var scanTypes = []string{ScanTypeBasic, ScanTypeEnhanced}

// ScanFilter selects repositories by name: '*' stands for any run of
// characters.
type ScanFilter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

// ScanningRule gives the repositories its filters match a scan frequency.
type ScanningRule struct {
	ScanFrequency     string       `json:"scanFrequency"`
	RepositoryFilters []ScanFilter `json:"repositoryFilters"`
}

// RegistryScanningConfiguration is a registry's scan type and rules.
type RegistryScanningConfiguration struct {
	ScanType string         `json:"scanType"`
	Rules    []ScanningRule `json:"rules"`
}

// RepositoryScanningConfiguration is how a repository is scanned under its
// registry's configuration.
type RepositoryScanningConfiguration struct {
	Key                metadata.RepoKey
	ScanOnPush         bool
	ScanFrequency      string
	AppliedScanFilters []ScanFilter
}

// ScanningConfigurationFailure is a repository whose scanning
// configuration could not be given.
type ScanningConfigurationFailure struct {
	RepositoryName string
	Err            error // why: the repository does not exist (a *NotFoundError)
}

// defaultRegistryScanning is the configuration of a registry that never
// set one.
func defaultRegistryScanning() RegistryScanningConfiguration {
	return RegistryScanningConfiguration{ScanType: ScanTypeBasic, Rules: []ScanningRule{}}
}

// PutRegistryScanningConfiguration replaces a registry's scanning
// configuration; an empty scan type is BASIC. It returns the configuration
// as stored.
func (r *Registry) PutRegistryScanningConfiguration(ctx context.Context, scope metadata.Scope, cfg RegistryScanningConfiguration) (RegistryScanningConfiguration, error) {
	if err := r.authorize(ctx, ActionPutRegistryScanningConfig, scope, nil, "*"); err != nil {
		return RegistryScanningConfiguration{}, err
	}
	cfg = normalizeRegistryScanning(cfg)
	if err := checkRegistryScanning(cfg); err != nil {
		return RegistryScanningConfiguration{}, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return RegistryScanningConfiguration{}, err
	}
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		old, err := registryScanning(ctx, tx, scope)
		if err != nil {
			return err
		}
		if err := tx.PutAccountSetting(ctx, scope, settingRegistryScanning, string(b)); err != nil {
			return err
		}
		if err := scanResourceChange(ctx, tx, scope, old, cfg, now); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionPutRegistryScanningConfig, map[string]any{"scanType": cfg.ScanType, "rules": cfg.Rules})
	})
	if err != nil {
		return RegistryScanningConfiguration{}, err
	}
	return cfg, nil
}

// RegistryScanningConfiguration returns a registry's scanning
// configuration: BASIC with no rules when it never set one.
func (r *Registry) RegistryScanningConfiguration(ctx context.Context, scope metadata.Scope) (RegistryScanningConfiguration, error) {
	if err := r.authorize(ctx, ActionGetRegistryScanningConfig, scope, nil, "*"); err != nil {
		return RegistryScanningConfiguration{}, err
	}
	return registryScanning(ctx, r.meta, scope)
}

func registryScanning(ctx context.Context, rd metadata.Reader, scope metadata.Scope) (RegistryScanningConfiguration, error) {
	v, err := rd.AccountSetting(ctx, scope, settingRegistryScanning)
	if errors.Is(err, metadata.ErrNotFound) {
		return defaultRegistryScanning(), nil
	}
	if err != nil {
		return RegistryScanningConfiguration{}, err
	}
	var cfg RegistryScanningConfiguration
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		return RegistryScanningConfiguration{}, fmt.Errorf("registry scanning configuration of %s/%s: %w", scope.Account, scope.Region, err)
	}
	return normalizeRegistryScanning(cfg), nil
}

// BatchGetRepositoryScanningConfiguration gives the scanning configuration
// of each named repository that exists, and a failure for each that does
// not. A repository takes the frequency of the last rule with a filter that
// matches its name, and that filter as its applied filter (ECR's behaviour,
// as moto records it); with no match, SCAN_ON_PUSH if its own scanOnPush
// is set, else MANUAL.
func (r *Registry) BatchGetRepositoryScanningConfiguration(ctx context.Context, scope metadata.Scope, names []string) ([]RepositoryScanningConfiguration, []ScanningConfigurationFailure, error) {
	var repos []metadata.Repository
	failures := []ScanningConfigurationFailure{}
	for _, n := range names {
		key := metadata.RepoKey{Scope: scope, Name: n}
		repo, err := r.repositoryFor(ctx, ActionBatchGetRepositoryScanningConf, key)
		switch {
		case CodeOf(err) == CodeNameUnknown || CodeOf(err) == CodeNameInvalid:
			failures = append(failures, ScanningConfigurationFailure{RepositoryName: n, Err: &NotFoundError{Kind: KindRepository, Key: key}})
			continue
		case err != nil:
			return nil, nil, err
		}
		repos = append(repos, repo)
	}
	cfg, err := registryScanning(ctx, r.meta, scope)
	if err != nil {
		return nil, nil, err
	}
	out := make([]RepositoryScanningConfiguration, 0, len(repos))
	for _, repo := range repos {
		out = append(out, effectiveScanning(cfg, repo))
	}
	return out, failures, nil
}

// effectiveScanning is how a registry's configuration scans a repository.
func effectiveScanning(cfg RegistryScanningConfiguration, repo metadata.Repository) RepositoryScanningConfiguration {
	out := RepositoryScanningConfiguration{Key: repo.Key, AppliedScanFilters: []ScanFilter{}}
	for _, rule := range cfg.Rules {
		for _, f := range rule.RepositoryFilters {
			if WildcardMatch(f.Filter, repo.Key.Name) {
				out.ScanFrequency = rule.ScanFrequency
				out.AppliedScanFilters = []ScanFilter{f}
			}
		}
	}
	if out.ScanFrequency == "" {
		out.ScanFrequency = ManualScan
		if repo.Settings.ScanOnPush {
			out.ScanFrequency = ScanOnPush
		}
	}
	// scanOnPush is the repository's own setting, whatever the rules
	// make of it, as ECR reports it.
	out.ScanOnPush = repo.Settings.ScanOnPush
	return out
}

// normalizeRegistryScanning fills the defaults: BASIC, and empty rather
// than absent lists.
func normalizeRegistryScanning(cfg RegistryScanningConfiguration) RegistryScanningConfiguration {
	if cfg.ScanType == "" {
		cfg.ScanType = ScanTypeBasic
	}
	rules := make([]ScanningRule, len(cfg.Rules))
	for i, rule := range cfg.Rules {
		rule.RepositoryFilters = append([]ScanFilter{}, rule.RepositoryFilters...)
		rules[i] = rule
	}
	cfg.Rules = rules
	return cfg
}

// checkRegistryScanning checks the rule the ECR model documents beyond
// its shapes (which the API adapter checks): BASIC scanning does not scan
// continuously.
func checkRegistryScanning(cfg RegistryScanningConfiguration) error {
	if cfg.ScanType != ScanTypeBasic && cfg.ScanType != ScanTypeEnhanced {
		return paramError("scanType", "must satisfy enum value set: [%s]", strings.Join(scanTypes, ", "))
	}
	for i, rule := range cfg.Rules {
		if cfg.ScanType == ScanTypeBasic && rule.ScanFrequency == ContinuousScan {
			return paramError(fmt.Sprintf("rules.%d.member.scanFrequency", i+1), "CONTINUOUS_SCAN requires the ENHANCED scan type: BASIC scanning supports SCAN_ON_PUSH and MANUAL")
		}
	}
	return nil
}

// scanResourceChange appends ECR's "ECR Scan Resource Change" event
// (SCAN_FREQUENCY_CHANGE) naming the repositories whose scan frequency a
// new enhanced scanning configuration changed, if any did.
func scanResourceChange(ctx context.Context, tx metadata.Tx, scope metadata.Scope, old, cfg RegistryScanningConfiguration, now time.Time) error {
	if cfg.ScanType != ScanTypeEnhanced && old.ScanType != ScanTypeEnhanced {
		return nil
	}
	var changed []map[string]string
	after := ""
	for {
		repos, err := tx.Repositories(ctx, scope, after, 1000)
		if err != nil {
			return err
		}
		for _, repo := range repos {
			was, is := effectiveScanning(old, repo).ScanFrequency, effectiveScanning(cfg, repo).ScanFrequency
			if was != is {
				changed = append(changed, map[string]string{"repository-name": repo.Key.Name, "repository-arn": RepositoryARN(repo.Key),
					"scan-frequency": is, "previous-scan-frequency": was})
			}
		}
		if len(repos) < 1000 {
			break
		}
		after = repos[len(repos)-1].Key.Name
	}
	if len(changed) == 0 {
		return nil
	}
	e, err := outbox.New(scope, now, outbox.SourceECR, outbox.TypeScanResourceChange, []string{}, map[string]any{
		"action-type": "SCAN_FREQUENCY_CHANGE", "repositories": changed, "resource-type": "REPOSITORY", "scan-type": cfg.ScanType,
	})
	if err != nil {
		return err
	}
	return tx.AppendEvent(ctx, e)
}
