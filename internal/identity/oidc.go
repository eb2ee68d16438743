package identity

import (
	"cmp"
	"context"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/webidentity"
)

// Limits of OIDC providers, from the IAM API reference.
const (
	maxClientIDs   = 100
	maxThumbprints = 5
	maxClientIDLen = 255
)

// OIDCProviderInput registers an OpenID Connect provider.
type OIDCProviderInput struct {
	URL         string // https://host[:port][/path]
	ClientIDs   []string
	Thumbprints []string
	Tags        []Tag
}

// CreateOIDCProvider registers an OpenID Connect provider in the caller's
// account.
func (s *Service) CreateOIDCProvider(ctx context.Context, in OIDCProviderInput) (OIDCProvider, error) {
	p, err := caller(ctx)
	if err != nil {
		return OIDCProvider{}, err
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || len(in.URL) > 255 {
		return OIDCProvider{}, awserr.Errorf(CodeValidation, "The URL %q is not valid: give the issuer's https:// URL, without a query or fragment", in.URL)
	}
	if err := checkClientIDs(in.ClientIDs); err != nil {
		return OIDCProvider{}, err
	}
	if err := checkThumbprints(in.Thumbprints); err != nil {
		return OIDCProvider{}, err
	}
	if err := validTags(in.Tags); err != nil {
		return OIDCProvider{}, err
	}
	name := webidentity.ProviderURL(in.URL)
	prov := OIDCProvider{
		URL: name, ARN: arnOf(p.Account, "oidc-provider/", "", name),
		ClientIDs: nonNil(in.ClientIDs), Thumbprints: lower(in.Thumbprints), CreatedAt: s.now().UTC().Truncate(1e6), Tags: in.Tags,
	}
	if err := s.allow(ctx, "iam:CreateOpenIDConnectProvider", prov.ARN); err != nil {
		return OIDCProvider{}, err
	}
	c := act("iam:CreateOpenIDConnectProvider", "url", in.URL, "clientIDList", in.ClientIDs, "thumbprintList", in.Thumbprints, "tags", in.Tags)
	err = s.update(ctx, c, func(tx metadata.Tx) ([]string, error) {
		return []string{prov.ARN}, saveEntity(ctx, tx, p.Account, metadata.IAMOIDCProvider, prov.URL, prov, true)
	})
	return prov, err
}

func checkClientIDs(ids []string) error {
	if len(ids) > maxClientIDs {
		return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: %d", maxClientIDs)
	}
	for _, id := range ids {
		if id == "" || len(id) > maxClientIDLen {
			return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'clientIDList' failed to satisfy constraint: Member must have length between 1 and %d", id, maxClientIDLen)
		}
	}
	return nil
}

func checkThumbprints(tps []string) error {
	if len(tps) > maxThumbprints {
		return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: %d", maxThumbprints)
	}
	for _, t := range tps {
		if _, err := hex.DecodeString(t); len(t) != 40 || err != nil {
			return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'thumbprintList' failed to satisfy constraint: a thumbprint is 40 hexadecimal characters (a SHA-1)", t)
		}
	}
	return nil
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// oidcName returns the provider URL an OIDC provider ARN of the caller's
// account names.
func oidcName(p Principal, arn string) (string, error) {
	name, ok := strings.CutPrefix(arn, awsid.IAM(p.Account, "oidc-provider/"))
	if !ok || name == "" {
		return "", awserr.Errorf(CodeInvalidInput, "ARN %s is not valid: give an OIDC provider ARN of account %s", arn, p.Account)
	}
	return name, nil
}

// OIDCProvider returns a registered provider.
func (s *Service) OIDCProvider(ctx context.Context, arn string) (OIDCProvider, error) {
	p, err := caller(ctx)
	if err != nil {
		return OIDCProvider{}, err
	}
	if err := s.allow(ctx, "iam:GetOpenIDConnectProvider", arn); err != nil {
		return OIDCProvider{}, err
	}
	name, err := oidcName(p, arn)
	if err != nil {
		return OIDCProvider{}, err
	}
	return loadEntity[OIDCProvider](ctx, s.meta, p.Account, metadata.IAMOIDCProvider, name)
}

// OIDCProviders lists the caller's account's providers.
func (s *Service) OIDCProviders(ctx context.Context) ([]OIDCProvider, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "iam:ListOpenIDConnectProviders", "*"); err != nil {
		return nil, err
	}
	return listEntities[OIDCProvider](ctx, s.meta, p.Account, metadata.IAMOIDCProvider)
}

// DeleteOIDCProvider removes a provider. Roles that trust it stay; web
// identity tokens it issues no longer assume them.
func (s *Service) DeleteOIDCProvider(ctx context.Context, arn string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, "iam:DeleteOpenIDConnectProvider", arn); err != nil {
		return err
	}
	name, err := oidcName(p, arn)
	if err != nil {
		return err
	}
	c := act("iam:DeleteOpenIDConnectProvider", "openIDConnectProviderArn", arn)
	return s.update(ctx, c, func(tx metadata.Tx) ([]string, error) {
		if _, err := loadEntity[OIDCProvider](ctx, tx, p.Account, metadata.IAMOIDCProvider, name); err != nil {
			return nil, err
		}
		return []string{arn}, tx.DeleteIAMEntity(ctx, p.Account, metadata.IAMOIDCProvider, name)
	})
}

// OIDCChange is one change to a provider.
type OIDCChange struct {
	Thumbprints    []string // replaces the list when not nil
	AddClientID    string
	RemoveClientID string
	AddTags        []Tag
	RemoveTags     []string
}

// ChangeOIDCProvider applies a change to a provider, authorized as action.
func (s *Service) ChangeOIDCProvider(ctx context.Context, arn, action string, c OIDCChange) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, action, arn); err != nil {
		return err
	}
	name, err := oidcName(p, arn)
	if err != nil {
		return err
	}
	if c.Thumbprints != nil {
		if err := checkThumbprints(c.Thumbprints); err != nil {
			return err
		}
	}
	if c.AddClientID != "" {
		if err := checkClientIDs([]string{c.AddClientID}); err != nil {
			return err
		}
	}
	if err := validTags(c.AddTags); err != nil {
		return err
	}
	ch := act(action, "openIDConnectProviderArn", arn, "clientID", cmp.Or(c.AddClientID, c.RemoveClientID), "tags", c.AddTags, "tagKeys", c.RemoveTags)
	if c.Thumbprints != nil {
		ch = ch.with("thumbprintList", c.Thumbprints)
	}
	return s.update(ctx, ch, func(tx metadata.Tx) ([]string, error) {
		prov, err := loadEntity[OIDCProvider](ctx, tx, p.Account, metadata.IAMOIDCProvider, name)
		if err != nil {
			return nil, err
		}
		if c.Thumbprints != nil {
			prov.Thumbprints = lower(c.Thumbprints)
		}
		if c.AddClientID != "" && !slices.Contains(prov.ClientIDs, c.AddClientID) {
			prov.ClientIDs = append(prov.ClientIDs, c.AddClientID)
			if err := checkClientIDs(prov.ClientIDs); err != nil {
				return nil, err
			}
		}
		if c.RemoveClientID != "" {
			prov.ClientIDs = nonNil(slices.DeleteFunc(prov.ClientIDs, func(id string) bool { return id == c.RemoveClientID }))
		}
		prov.Tags = removeTags(mergeTags(prov.Tags, c.AddTags), c.RemoveTags)
		if err := validTags(prov.Tags); err != nil {
			return nil, err
		}
		return []string{prov.ARN}, saveEntity(ctx, tx, p.Account, metadata.IAMOIDCProvider, prov.URL, prov, false)
	})
}
