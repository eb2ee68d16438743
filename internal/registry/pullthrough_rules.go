package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/metadata"
)

// The API of pull-through cache rules: create, describe, update, delete
// and validate. Rules are checked and secrets read before the write
// transaction, which only re-reads the rules, applies the change and
// records it.

// MaxPullThroughCacheRules bounds the rules of a registry.
const MaxPullThroughCacheRules = 50

// ECR's names of upstream registries (UpstreamRegistry).
const (
	UpstreamECR        = "ecr"
	UpstreamECRPublic  = "ecr-public"
	UpstreamQuay       = "quay"
	UpstreamK8s        = "k8s"
	UpstreamDockerHub  = "docker-hub"
	UpstreamGitHub     = "github-container-registry"
	UpstreamAzure      = "azure-container-registry"
	UpstreamGitLab     = "gitlab-container-registry"
	UpstreamChainguard = "chainguard"
)

// upstreamAuth says how ECR authenticates to each upstream: a secret is
// required, optional, or not accepted (no entry: an ECR upstream, which
// uses a role).
var upstreamAuth = map[string]secretUse{
	UpstreamECRPublic:  secretRefused,
	UpstreamQuay:       secretRefused,
	UpstreamK8s:        secretRefused,
	UpstreamDockerHub:  secretRequired,
	UpstreamGitHub:     secretRequired,
	UpstreamAzure:      secretRequired,
	UpstreamGitLab:     secretRequired,
	UpstreamChainguard: secretOptional,
	"":                 secretOptional, // any OCI registry, beyond ECR
}

type secretUse int

const (
	secretOptional secretUse = iota
	secretRequired
	secretRefused
)

// upstreamOfHost names the upstream a well-known registry host is, as
// ECR infers upstreamRegistry when a request omits it.
func upstreamOfHost(host string) string {
	switch host {
	case "public.ecr.aws":
		return UpstreamECRPublic
	case "quay.io":
		return UpstreamQuay
	case "registry.k8s.io":
		return UpstreamK8s
	case "registry-1.docker.io":
		return UpstreamDockerHub
	case "ghcr.io":
		return UpstreamGitHub
	case "registry.gitlab.com":
		return UpstreamGitLab
	case "cgr.dev":
		return UpstreamChainguard
	}
	switch {
	case strings.HasSuffix(host, ".azurecr.io"):
		return UpstreamAzure
	case strings.Contains(host, ".dkr.ecr.") && strings.HasSuffix(host, ".amazonaws.com"):
		return UpstreamECR
	}
	return ""
}

// Secrets reads secrets of the Secrets Manager slice on behalf of the
// registry (a service principal, not the caller). Its errors wrap
// ErrSecretNotFound, ErrSecretAccess or ErrSecretDecrypt when they are
// the secret's fault.
type Secrets interface {
	ValueForService(ctx context.Context, account, arn string) (string, error)
}

// Errors a Secrets implementation wraps to say why a secret cannot be read.
var (
	ErrSecretNotFound = errors.New("secret not found")
	ErrSecretAccess   = errors.New("secret not accessible")
	ErrSecretDecrypt  = errors.New("secret cannot be decrypted")
)

// UpstreamProblem is why a rule's upstream settings are refused.
type UpstreamProblem int

// Upstream problems.
const (
	UpstreamURLInvalid        UpstreamProblem = iota + 1 // URL is not host[:port] (optionally with http:// or https://)
	UpstreamURLMismatch                                  // URL is a well-known host of an upstream other than Registry
	UpstreamNeedsCredential                              // Registry requires a credentialArn
	UpstreamRefusesCredential                            // Registry takes no credentialArn
	UpstreamRoleNotECR                                   // a customRoleArn for an upstream that is not ecr
	UpstreamPrefixAtRoot                                 // an upstreamRepositoryPrefix on a ROOT rule
)

// UpstreamError is a rule whose upstream settings break ECR's rules.
type UpstreamError struct {
	Problem  UpstreamProblem
	URL      string
	Registry string // the upstream's name, "" for any OCI registry
}

func (e *UpstreamError) Error() string {
	switch e.Problem {
	case UpstreamURLInvalid:
		return fmt.Sprintf("upstream registry URL %q is not a host[:port]", e.URL)
	case UpstreamURLMismatch:
		return fmt.Sprintf("upstream registry URL %q is not a %s registry", e.URL, e.Registry)
	case UpstreamNeedsCredential:
		return fmt.Sprintf("upstream registry %s requires a credentialArn", e.Registry)
	case UpstreamRefusesCredential:
		return fmt.Sprintf("upstream registry %s takes no credentialArn", e.Registry)
	case UpstreamRoleNotECR:
		return "a customRoleArn is only for an ecr upstream registry"
	}
	return "an upstreamRepositoryPrefix needs an ecrRepositoryPrefix other than ROOT"
}

// ErrorCode returns CodeValidation for a rule's shape, else
// CodeUnsupportedUpstream.
func (e *UpstreamError) ErrorCode() Code {
	if e.Problem == UpstreamRoleNotECR || e.Problem == UpstreamPrefixAtRoot {
		return CodeValidation
	}
	return CodeUnsupportedUpstream
}

// SecretError is a rule's secret that cannot be read.
type SecretError struct {
	ARN  string
	Code Code // CodeSecretNotFound, CodeUnableToAccessSecret or CodeUnableToDecryptSecret
}

func (e *SecretError) Error() string {
	switch e.Code {
	case CodeUnableToAccessSecret:
		return "secret " + e.ARN + " cannot be accessed"
	case CodeUnableToDecryptSecret:
		return "secret " + e.ARN + " cannot be decrypted"
	}
	return "secret " + e.ARN + " does not exist"
}

// ErrorCode returns e.Code.
func (e *SecretError) ErrorCode() Code { return e.Code }

// parseUpstreamURL checks an upstreamRegistryUrl: a host (DNS name, IPv4
// or bracketed IPv6) with an optional port, optionally after http:// or
// https:// (ecrd's own upstreams may speak plain HTTP). It returns the
// host.
func parseUpstreamURL(s string) (string, bool) {
	rest := s
	for _, scheme := range []string{"https://", "http://"} {
		if after, ok := strings.CutPrefix(s, scheme); ok {
			rest = after
			break
		}
	}
	if rest == "" || strings.ContainsAny(rest, "/?#@ \t\r\n\\") {
		return "", false
	}
	u, err := url.Parse("https://" + rest)
	if err != nil || u.Host != rest || u.Hostname() == "" {
		return "", false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	} else if strings.HasSuffix(rest, ":") {
		return "", false
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return host, strings.HasPrefix(rest, "[") == strings.Contains(host, ":")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "", false
			}
		}
	}
	return strings.ToLower(host), len(host) <= 253
}

// normalizePrefix drops the "/" ECR assumes at the end of a prefix.
func normalizePrefix(p string) string {
	if p == ptcRootPrefix {
		return p
	}
	return strings.TrimSuffix(p, "/")
}

// checkRule normalizes a new rule (prefixes, the upstream's name when the
// URL is a well-known host) and checks its upstream settings.
func checkRule(rule *PullThroughCacheRule) error {
	rule.Prefix = normalizePrefix(rule.Prefix)
	if p := normalizePrefix(rule.UpstreamRepositoryPrefix); p == ptcRootPrefix {
		rule.UpstreamRepositoryPrefix, rule.UpstreamRootGiven = "", true
	} else {
		rule.UpstreamRepositoryPrefix = p
	}
	host, ok := parseUpstreamURL(rule.UpstreamRegistryURL)
	if !ok {
		return &UpstreamError{Problem: UpstreamURLInvalid, URL: rule.UpstreamRegistryURL, Registry: rule.UpstreamRegistry}
	}
	known := upstreamOfHost(host)
	switch {
	case rule.UpstreamRegistry == "":
		rule.UpstreamRegistry = known
	case known != "" && known != rule.UpstreamRegistry:
		return &UpstreamError{Problem: UpstreamURLMismatch, URL: rule.UpstreamRegistryURL, Registry: rule.UpstreamRegistry}
	}
	if rule.UpstreamRepositoryPrefix != "" && rule.Prefix == ptcRootPrefix {
		return &UpstreamError{Problem: UpstreamPrefixAtRoot, URL: rule.UpstreamRegistryURL, Registry: rule.UpstreamRegistry}
	}
	return checkAuth(*rule)
}

// checkAuth checks a rule's credential and role against its upstream.
func checkAuth(rule PullThroughCacheRule) error {
	fail := func(p UpstreamProblem) error {
		return &UpstreamError{Problem: p, URL: rule.UpstreamRegistryURL, Registry: rule.UpstreamRegistry}
	}
	if rule.CustomRoleARN != "" && rule.UpstreamRegistry != UpstreamECR {
		return fail(UpstreamRoleNotECR)
	}
	use, ok := upstreamAuth[rule.UpstreamRegistry]
	if !ok { // ecr: a role, never a secret
		use = secretRefused
	}
	switch {
	case use == secretRequired && rule.CredentialARN == "":
		return fail(UpstreamNeedsCredential)
	case use == secretRefused && rule.CredentialARN != "":
		return fail(UpstreamRefusesCredential)
	}
	return nil
}

// readSecret reads a rule's secret, outside any transaction.
func (r *Registry) readSecret(ctx context.Context, scope metadata.Scope, arn string) (string, error) {
	if r.opts.Secrets == nil {
		return "", &SecretError{ARN: arn, Code: CodeSecretNotFound}
	}
	v, err := r.opts.Secrets.ValueForService(ctx, scope.Account, arn)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, ErrSecretNotFound):
		return "", &SecretError{ARN: arn, Code: CodeSecretNotFound}
	case errors.Is(err, ErrSecretAccess):
		return "", &SecretError{ARN: arn, Code: CodeUnableToAccessSecret}
	case errors.Is(err, ErrSecretDecrypt):
		return "", &SecretError{ARN: arn, Code: CodeUnableToDecryptSecret}
	}
	return "", err
}

// ptcRuleARN is the resource a rule action is authorized on: the
// repositories its prefix covers, as for creation templates.
func ptcRuleARN(scope metadata.Scope, prefix string) string {
	return RepositoryARN(metadata.RepoKey{Scope: scope, Name: prefix})
}

func ptcParams(rule PullThroughCacheRule) map[string]any {
	p := map[string]any{"ecrRepositoryPrefix": rule.Prefix, "upstreamRegistryUrl": rule.UpstreamRegistryURL}
	for k, v := range map[string]string{"upstreamRegistry": rule.UpstreamRegistry, "credentialArn": rule.CredentialARN,
		"customRoleArn": rule.CustomRoleARN, "upstreamRepositoryPrefix": rule.UpstreamRepositoryPrefix} {
		if v != "" {
			p[k] = v
		}
	}
	return p
}

func findRule(rules []PullThroughCacheRule, scope metadata.Scope, prefix string) (int, error) {
	i := slices.IndexFunc(rules, func(r PullThroughCacheRule) bool { return r.Prefix == prefix })
	if i < 0 {
		return i, &NotFoundError{Kind: KindPullThroughCacheRule, Key: metadata.RepoKey{Scope: scope}, ID: prefix}
	}
	return i, nil
}

// CreatePullThroughCacheRule creates a rule. Its secret, if it names one,
// must be readable.
func (r *Registry) CreatePullThroughCacheRule(ctx context.Context, scope metadata.Scope, rule PullThroughCacheRule) (PullThroughCacheRule, error) {
	if err := r.authorize(ctx, ActionCreatePTCRule, scope, nil, ptcRuleARN(scope, normalizePrefix(rule.Prefix))); err != nil {
		return rule, err
	}
	if err := checkRule(&rule); err != nil {
		return rule, err
	}
	if rule.CredentialARN != "" {
		if _, err := r.readSecret(ctx, scope, rule.CredentialARN); err != nil {
			return rule, err
		}
	}
	rule.CreatedAt, rule.UpdatedAt = r.now(), r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		rules, err := pullThroughRules(ctx, tx, scope)
		if err != nil {
			return err
		}
		if _, err := findRule(rules, scope, rule.Prefix); err == nil {
			return &ExistsError{Kind: KindPullThroughCacheRule, Key: metadata.RepoKey{Scope: scope}, ID: rule.Prefix}
		}
		if len(rules) >= MaxPullThroughCacheRules {
			return &LimitError{Limit: LimitPullThroughCacheRules, Max: MaxPullThroughCacheRules}
		}
		rules = append(slices.Clone(rules), rule)
		slices.SortFunc(rules, func(a, b PullThroughCacheRule) int { return strings.Compare(a.Prefix, b.Prefix) })
		if err := putPullThroughRules(ctx, tx, scope, rules); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, rule.CreatedAt, ActionCreatePTCRule, ptcParams(rule), ptcRuleARN(scope, rule.Prefix))
	})
	return rule, err
}

// DescribePullThroughCacheRules returns a page of up to max of the named
// rules (all if none are named), in prefix order, after the one token
// names, and the token of the next page ("" on the last). A named prefix
// no rule has is an error, as in ECR.
func (r *Registry) DescribePullThroughCacheRules(ctx context.Context, scope metadata.Scope, prefixes []string, token string, max int) ([]PullThroughCacheRule, string, error) {
	if err := r.authorize(ctx, ActionDescribePTCRules, scope, nil, ptcRuleARN(scope, "*")); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	rules, err := pullThroughRules(ctx, r.meta, scope)
	if err != nil {
		return nil, "", err
	}
	if len(prefixes) > 0 {
		named := make([]string, len(prefixes))
		for i, p := range prefixes {
			named[i] = normalizePrefix(p)
			if _, err := findRule(rules, scope, named[i]); err != nil {
				return nil, "", err
			}
		}
		rules = slices.DeleteFunc(rules, func(r PullThroughCacheRule) bool { return !slices.Contains(named, r.Prefix) })
	}
	if token != "" {
		rules = slices.DeleteFunc(rules, func(r PullThroughCacheRule) bool { return r.Prefix <= after })
	}
	if max = pageSize(max); len(rules) > max {
		return rules[:max], encodeToken(rules[max-1].Prefix), nil
	}
	return rules, "", nil
}

// PullThroughCacheRuleUpdate is what UpdatePullThroughCacheRule changes:
// the members that are not nil.
type PullThroughCacheRuleUpdate struct {
	CredentialARN *string
	CustomRoleARN *string
}

func (u PullThroughCacheRuleUpdate) apply(rule *PullThroughCacheRule) {
	if u.CredentialARN != nil {
		rule.CredentialARN = *u.CredentialARN
	}
	if u.CustomRoleARN != nil {
		rule.CustomRoleARN = *u.CustomRoleARN
	}
}

// UpdatePullThroughCacheRule changes a rule's credential or role.
func (r *Registry) UpdatePullThroughCacheRule(ctx context.Context, scope metadata.Scope, prefix string, change PullThroughCacheRuleUpdate) (PullThroughCacheRule, error) {
	prefix = normalizePrefix(prefix)
	var rule PullThroughCacheRule
	if err := r.authorize(ctx, ActionUpdatePTCRule, scope, nil, ptcRuleARN(scope, prefix)); err != nil {
		return rule, err
	}
	// Check the change against the rule as it is now, and read a new
	// secret, before the transaction, which checks it again (purely).
	rules, err := pullThroughRules(ctx, r.meta, scope)
	if err != nil {
		return rule, err
	}
	i, err := findRule(rules, scope, prefix)
	if err != nil {
		return rule, err
	}
	rule = rules[i]
	change.apply(&rule)
	if err := checkAuth(rule); err != nil {
		return rule, err
	}
	if change.CredentialARN != nil {
		if _, err := r.readSecret(ctx, scope, *change.CredentialARN); err != nil {
			return rule, err
		}
	}
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		rules, err := pullThroughRules(ctx, tx, scope)
		if err != nil {
			return err
		}
		i, err := findRule(rules, scope, prefix)
		if err != nil {
			return err
		}
		rule = rules[i]
		change.apply(&rule)
		if err := checkAuth(rule); err != nil {
			return err
		}
		rule.UpdatedAt = now
		rules = slices.Clone(rules)
		rules[i] = rule
		if err := putPullThroughRules(ctx, tx, scope, rules); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionUpdatePTCRule, ptcParams(rule), ptcRuleARN(scope, prefix))
	})
	return rule, err
}

// DeletePullThroughCacheRule deletes a rule and returns it. The
// repositories it cached stay, with their images.
func (r *Registry) DeletePullThroughCacheRule(ctx context.Context, scope metadata.Scope, prefix string) (PullThroughCacheRule, error) {
	prefix = normalizePrefix(prefix)
	var rule PullThroughCacheRule
	if err := r.authorize(ctx, ActionDeletePTCRule, scope, nil, ptcRuleARN(scope, prefix)); err != nil {
		return rule, err
	}
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		rules, err := pullThroughRules(ctx, tx, scope)
		if err != nil {
			return err
		}
		i, err := findRule(rules, scope, prefix)
		if err != nil {
			return err
		}
		rule = rules[i]
		if err := putPullThroughRules(ctx, tx, scope, slices.Delete(slices.Clone(rules), i, i+1)); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionDeletePTCRule, map[string]any{"ecrRepositoryPrefix": prefix}, ptcRuleARN(scope, prefix))
	})
	return rule, err
}

// PullThroughCacheValidation is ValidatePullThroughCacheRule's answer.
type PullThroughCacheValidation struct {
	Rule    PullThroughCacheRule
	Valid   bool
	Failure string // why it is not valid, "" if it is
}

// ValidatePullThroughCacheRule reads a rule's secret, checks its syntax
// and tries to log in to the upstream with it (Options.UpstreamCheck).
// What fails makes the rule invalid, with the reason; it is not an error.
func (r *Registry) ValidatePullThroughCacheRule(ctx context.Context, scope metadata.Scope, prefix string) (PullThroughCacheValidation, error) {
	prefix = normalizePrefix(prefix)
	var v PullThroughCacheValidation
	if err := r.authorize(ctx, ActionValidatePTCRule, scope, nil, ptcRuleARN(scope, prefix)); err != nil {
		return v, err
	}
	rules, err := pullThroughRules(ctx, r.meta, scope)
	if err != nil {
		return v, err
	}
	i, err := findRule(rules, scope, prefix)
	if err != nil {
		return v, err
	}
	v.Rule = rules[i]
	var credential string
	if arn := v.Rule.CredentialARN; arn != "" {
		value, err := r.readSecret(ctx, scope, arn)
		var se *SecretError
		if errors.As(err, &se) {
			v.Failure = se.Error()
			return v, nil
		} else if err != nil {
			return v, err
		}
		if _, _, err := ParseUpstreamCredential(value); err != nil {
			v.Failure = "secret " + arn + ": " + err.Error()
			return v, nil
		}
		credential = value
	}
	if r.opts.UpstreamCheck != nil {
		if err := r.opts.UpstreamCheck(ctx, scope, v.Rule, credential); err != nil {
			if ctx.Err() != nil {
				return v, ctx.Err()
			}
			v.Failure = "the upstream registry " + v.Rule.UpstreamRegistryURL + " refused the login: " + err.Error()
			return v, nil
		}
	}
	v.Valid = true
	return v, nil
}
