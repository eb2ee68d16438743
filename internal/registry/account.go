package registry

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Account settings, with the values each takes; the first is the default.
// BLOB_MOUNTING defaults to ENABLED in ecrd (ECR's default is DISABLED):
// cross-repository mounts are part of the OCI API that every client uses.
var accountSettings = map[string][]string{
	"BASIC_SCAN_TYPE_VERSION": {"AWS_NATIVE", "CLAIR"},
	"REGISTRY_POLICY_SCOPE":   {"V2", "V1"},
	"BLOB_MOUNTING":           {"ENABLED", "DISABLED"},
	settingExpireSincePulled:  {"DISABLED", "ENABLED"},
}

// AccountSetting returns a registry setting's value.
func (r *Registry) AccountSetting(ctx context.Context, scope metadata.Scope, name string) (string, error) {
	if err := r.authorize(ctx, ActionGetAccountSetting, scope, nil, "*"); err != nil {
		return "", err
	}
	return r.accountSetting(ctx, scope, name)
}

func (r *Registry) accountSetting(ctx context.Context, scope metadata.Scope, name string) (string, error) {
	values, ok := accountSettings[name]
	if !ok {
		return "", unknownSetting(name)
	}
	v, err := r.meta.AccountSetting(ctx, scope, name)
	if errors.Is(err, metadata.ErrNotFound) {
		return values[0], nil
	}
	return v, err
}

// PutAccountSetting sets a registry setting.
func (r *Registry) PutAccountSetting(ctx context.Context, scope metadata.Scope, name, value string) error {
	if err := r.authorize(ctx, ActionPutAccountSetting, scope, nil, "*"); err != nil {
		return err
	}
	values, ok := accountSettings[name]
	if !ok {
		return unknownSetting(name)
	}
	if !slices.Contains(values, value) {
		return errorf(CodeValidation, "Invalid value '%s' for account setting %s: use one of %s", value, name, strings.Join(values, ", "))
	}
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := tx.PutAccountSetting(ctx, scope, name, value); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionPutAccountSetting, map[string]any{"name": name, "value": value})
	})
	if name == settingRegistryPolicyScope {
		r.forgetRegistryPolicy(scope)
	}
	return err
}

func unknownSetting(name string) error {
	names := make([]string, 0, len(accountSettings))
	for n := range accountSettings {
		names = append(names, n)
	}
	slices.Sort(names)
	return errorf(CodeValidation, "Unknown account setting %q: use one of %s", name, strings.Join(names, ", "))
}

// DescribeRegistry checks that the caller may describe a registry. Its
// replication configuration is empty until replication exists.
func (r *Registry) DescribeRegistry(ctx context.Context, scope metadata.Scope) error {
	return r.authorize(ctx, ActionDescribeRegistry, scope, nil, "*")
}
