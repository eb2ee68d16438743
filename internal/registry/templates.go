package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Applications of a repository creation template, as ECR names them.
const (
	AppliedForReplication      = "REPLICATION"
	AppliedForPullThroughCache = "PULL_THROUGH_CACHE"
	AppliedForCreateOnPush     = "CREATE_ON_PUSH"
)

// RootPrefix is the template prefix that matches every repository.
const RootPrefix = "ROOT"

// maxTemplates bounds a registry's creation templates.
const maxTemplates = 100

// CreationTemplate is a repository creation template: the settings a
// repository gets when replication, a pull-through cache or a push
// (CREATE_ON_PUSH) creates it.
type CreationTemplate struct {
	Prefix               string                 `json:"prefix"`
	Description          string                 `json:"description,omitempty"`
	EncryptionType       string                 `json:"encryptionType,omitempty"`
	KMSKey               string                 `json:"kmsKey,omitempty"`
	ResourceTags         []metadata.ResourceTag `json:"resourceTags,omitempty"`
	TagMutability        string                 `json:"tagMutability,omitempty"`
	MutabilityExclusions []string               `json:"mutabilityExclusions,omitempty"`
	RepositoryPolicy     string                 `json:"repositoryPolicy,omitempty"`
	LifecyclePolicy      string                 `json:"lifecyclePolicy,omitempty"`
	AppliedFor           []string               `json:"appliedFor"`
	CustomRoleARN        string                 `json:"customRoleArn,omitempty"`
	CreatedAt            time.Time              `json:"-"`
	UpdatedAt            time.Time              `json:"-"`
}

// settings returns the repository settings a template gives.
func (t CreationTemplate) settings() metadata.RepositorySettings {
	return metadata.RepositorySettings{
		TagMutability:        t.TagMutability,
		MutabilityExclusions: t.MutabilityExclusions,
		EncryptionType:       t.EncryptionType,
		KMSKey:               t.KMSKey,
		Policy:               t.RepositoryPolicy,
	}
}

// matches reports whether the template's prefix covers a repository name:
// ROOT covers all; "prod" (or "prod/") covers prod/... .
func (t CreationTemplate) matches(name string) bool {
	if t.Prefix == RootPrefix {
		return true
	}
	return strings.HasPrefix(name, strings.TrimSuffix(t.Prefix, "/")+"/")
}

func decodeTemplate(rec metadata.CreationTemplate) (CreationTemplate, error) {
	var t CreationTemplate
	if err := json.Unmarshal(rec.Document, &t); err != nil {
		return t, fmt.Errorf("stored creation template %s: %w", rec.Prefix, err)
	}
	t.Prefix, t.CreatedAt, t.UpdatedAt = rec.Prefix, rec.CreatedAt, rec.UpdatedAt
	return t, nil
}

// templates reads a registry's creation templates.
func templates(ctx context.Context, rd metadata.Reader, scope metadata.Scope) ([]CreationTemplate, error) {
	recs, err := rd.CreationTemplates(ctx, scope)
	if err != nil {
		return nil, err
	}
	out := make([]CreationTemplate, 0, len(recs))
	for _, rec := range recs {
		t, err := decodeTemplate(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// templateFor picks the template for a new repository created by use
// (one of AppliedFor*): the one with the longest matching prefix, ROOT
// last.
func templateFor(ts []CreationTemplate, name, use string) (CreationTemplate, bool) {
	var best CreationTemplate
	found := false
	for _, t := range ts {
		if !slices.Contains(t.AppliedFor, use) || !t.matches(name) {
			continue
		}
		if !found || best.Prefix == RootPrefix || (t.Prefix != RootPrefix && len(t.Prefix) > len(best.Prefix)) {
			best, found = t, true
		}
	}
	return best, found
}

// checkTemplate fills defaults and checks a template's rules.
func checkTemplate(t *CreationTemplate) error {
	s, err := normalizeSettings(t.settings())
	if err != nil {
		return err
	}
	t.TagMutability, t.EncryptionType = s.TagMutability, s.EncryptionType
	t.ResourceTags = mergeTags(nil, t.ResourceTags)
	if err := checkResourceTags(t.ResourceTags); err != nil {
		return err
	}
	if len(t.AppliedFor) == 0 {
		return paramError("appliedFor", "must name at least one of REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH")
	}
	if t.RepositoryPolicy != "" {
		if _, err := parseRepositoryPolicy(t.RepositoryPolicy); err != nil {
			return err
		}
	}
	// The policy is given to every repository the template creates: it
	// must be one PutLifecyclePolicy would take (ECR's rules, without
	// ecrd's extensions, which a registry opts in to).
	if t.LifecyclePolicy != "" {
		var ve *lifecycle.ValidationError
		if _, err := lifecycle.Parse(t.LifecyclePolicy, lifecycle.Options{}); errors.As(err, &ve) {
			return &ParamError{Field: "lifecyclePolicy", Constraint: ve.Error()}
		} else if err != nil {
			return err
		}
	}
	return nil
}

// findTemplate picks the template with prefix out of all, or says it is
// not there.
func findTemplate(all []CreationTemplate, scope metadata.Scope, prefix string) (CreationTemplate, error) {
	i := slices.IndexFunc(all, func(e CreationTemplate) bool { return e.Prefix == prefix })
	if i < 0 {
		return CreationTemplate{}, &NotFoundError{Kind: KindTemplate, Key: metadata.RepoKey{Scope: scope}, ID: prefix}
	}
	return all[i], nil
}

// templateARN is the resource a template action is authorized on: the
// repositories its prefix covers.
func templateARN(scope metadata.Scope, prefix string) string {
	return RepositoryARN(metadata.RepoKey{Scope: scope, Name: prefix})
}

// CreateCreationTemplate creates a repository creation template.
func (r *Registry) CreateCreationTemplate(ctx context.Context, scope metadata.Scope, t CreationTemplate) (CreationTemplate, error) {
	if err := r.authorize(ctx, ActionCreateTemplate, scope, nil, templateARN(scope, t.Prefix)); err != nil {
		return t, err
	}
	if err := checkTemplate(&t); err != nil {
		return t, err
	}
	t.CreatedAt, t.UpdatedAt = r.now(), r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		existing, err := templates(ctx, tx, scope)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(existing, func(e CreationTemplate) bool { return e.Prefix == t.Prefix }) {
			return &ExistsError{Kind: KindTemplate, Key: metadata.RepoKey{Scope: scope}, ID: t.Prefix}
		}
		if len(existing) >= maxTemplates {
			return &LimitError{Limit: LimitTemplates, Max: maxTemplates}
		}
		if err := putTemplate(ctx, tx, scope, t); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, t.CreatedAt, ActionCreateTemplate, templateParams(t), templateARN(scope, t.Prefix))
	})
	return t, err
}

func putTemplate(ctx context.Context, tx metadata.Tx, scope metadata.Scope, t CreationTemplate) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return tx.PutCreationTemplate(ctx, metadata.CreationTemplate{Scope: scope, Prefix: t.Prefix, Document: doc, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
}

// UpdateCreationTemplate replaces the fields of a template that change
// sets, keeping its creation time.
func (r *Registry) UpdateCreationTemplate(ctx context.Context, scope metadata.Scope, prefix string, change func(*CreationTemplate)) (CreationTemplate, error) {
	var t CreationTemplate
	if err := r.authorize(ctx, ActionUpdateTemplate, scope, nil, templateARN(scope, prefix)); err != nil {
		return t, err
	}
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		all, err := templates(ctx, tx, scope)
		if err != nil {
			return err
		}
		if t, err = findTemplate(all, scope, prefix); err != nil {
			return err
		}
		change(&t)
		t.Prefix = prefix
		if err := checkTemplate(&t); err != nil {
			return err
		}
		t.UpdatedAt = now
		if err := putTemplate(ctx, tx, scope, t); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionUpdateTemplate, templateParams(t), templateARN(scope, prefix))
	})
	return t, err
}

// DeleteCreationTemplate deletes a template and returns it.
func (r *Registry) DeleteCreationTemplate(ctx context.Context, scope metadata.Scope, prefix string) (CreationTemplate, error) {
	var t CreationTemplate
	if err := r.authorize(ctx, ActionDeleteTemplate, scope, nil, templateARN(scope, prefix)); err != nil {
		return t, err
	}
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		all, err := templates(ctx, tx, scope)
		if err != nil {
			return err
		}
		if t, err = findTemplate(all, scope, prefix); err != nil {
			return err
		}
		if err := tx.DeleteCreationTemplate(ctx, scope, prefix); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionDeleteTemplate, map[string]any{"prefix": prefix}, templateARN(scope, prefix))
	})
	return t, err
}

// DescribeCreationTemplates returns a page of up to max of the named
// templates (all if none are named), in prefix order, after the one token
// names, and the token of the next page ("" on the last). A prefix no
// template has is left out, not an error: ECR answers an empty list for
// it (the operation has no not-found error), which is how clients tell
// that a template is gone.
func (r *Registry) DescribeCreationTemplates(ctx context.Context, scope metadata.Scope, prefixes []string, token string, max int) ([]CreationTemplate, string, error) {
	if err := r.authorize(ctx, ActionDescribeTemplates, scope, nil, templateARN(scope, "*")); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	all, err := templates(ctx, r.meta, scope)
	if err != nil {
		return nil, "", err
	}
	all = slices.DeleteFunc(all, func(t CreationTemplate) bool {
		return t.Prefix <= after && token != "" || len(prefixes) > 0 && !slices.Contains(prefixes, t.Prefix)
	})
	if max = pageSize(max); len(all) > max {
		return all[:max], encodeToken(all[max-1].Prefix), nil
	}
	return all, "", nil
}

// errNoTemplate is the NAME_UNKNOWN a push to a missing repository gets
// when no CREATE_ON_PUSH template covers it.
func errNoTemplate(key metadata.RepoKey) error {
	return &NotFoundError{Kind: KindRepository, Key: key, Hint: "create it (aws ecr create-repository), or add a repository creation template applied for CREATE_ON_PUSH"}
}
