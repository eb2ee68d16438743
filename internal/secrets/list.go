package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// checkPolicy compiles a resource policy as IAM would and, with
// blockPublic, refuses one that allows any principal without a
// condition.
func checkPolicy(doc string, blockPublic bool) error {
	_, err := iampolicy.Parse(doc, iampolicy.Resource)
	var me *iampolicy.MalformedError
	if errors.As(err, &me) {
		return awserr.Errorf(CodeMalformedPolicy, "%s", me.Message)
	}
	if err != nil {
		return err
	}
	if blockPublic && public(doc) {
		return awserr.Errorf(CodePublicPolicy, "This resource policy will grant public access to the secret. Use the BlockPublicPolicy parameter to block public access, or make the policy more restrictive.")
	}
	return nil
}

// public reports whether a policy has an Allow statement for every
// principal ("*" or {"AWS":"*"}) with no condition.
func public(doc string) bool {
	var p struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	type statement struct {
		Effect    string
		Principal json.RawMessage
		Condition json.RawMessage
	}
	var list []statement
	if json.Unmarshal(p.Statement, &list) != nil {
		var one statement
		if json.Unmarshal(p.Statement, &one) != nil {
			return false
		}
		list = []statement{one}
	}
	for _, st := range list {
		if st.Effect != "Allow" || len(st.Condition) > 0 && string(st.Condition) != "{}" {
			continue
		}
		var star string
		if json.Unmarshal(st.Principal, &star) == nil && star == "*" {
			return true
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(st.Principal, &m) != nil {
			continue
		}
		var one string
		var many []string
		if json.Unmarshal(m["AWS"], &one) == nil && one == "*" || json.Unmarshal(m["AWS"], &many) == nil && slices.Contains(many, "*") {
			return true
		}
	}
	return false
}

// Filter is one of ListSecrets' filters: a key (name, description,
// tag-key, tag-value, all) and values, each a prefix, or with "!" a
// prefix that excludes.
type Filter struct {
	Key    string
	Values []string
}

// ListInput is ListSecrets' request.
type ListInput struct {
	Filters                []Filter
	IncludePlannedDeletion bool
	MaxResults             *int
	NextToken              *string
	SortOrder              string // asc or desc (by creation date)
}

// ListSecrets lists the secrets of the scope that the filters match, a
// page at a time.
func (s *Service) ListSecrets(ctx context.Context, scope Scope, in ListInput) ([]*Secret, string, error) {
	var v validation
	n := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			v.add(fmt.Sprint(*in.MaxResults), "maxResults", "Member must have value between 1 and 100")
		}
		n = *in.MaxResults
	}
	if in.SortOrder != "" && in.SortOrder != "asc" && in.SortOrder != "desc" {
		v.add("'"+in.SortOrder+"'", "sortOrder", "Member must satisfy enum value set: [asc, desc]")
	}
	for i, f := range in.Filters {
		switch f.Key {
		case "description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all":
		default:
			v.add("'"+f.Key+"'", "filters."+itoa(i+1)+".member.key", "Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]")
		}
		if len(f.Values) == 0 || len(f.Values) > 10 {
			return nil, "", awserr.Errorf(CodeInvalidParameter, "Invalid filter values: a filter has 1 to 10 values.")
		}
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	if err := s.authorizeAccount(ctx, scope, "secretsmanager:ListSecrets"); err != nil {
		return nil, "", err
	}
	es, err := s.meta.IAMEntities(ctx, scope.Account, metadata.Secret)
	if err != nil {
		return nil, "", err
	}
	var all []*Secret
	for _, e := range es {
		if !strings.HasPrefix(e.Name, scope.Region+"/") {
			continue
		}
		sec := new(Secret)
		if err := json.Unmarshal(e.Document, sec); err != nil {
			return nil, "", fmt.Errorf("reading secret %s: %w", e.Name, err)
		}
		if s.gone(sec) || sec.Deleted != nil && !in.IncludePlannedDeletion || !matches(sec, in.Filters) {
			continue
		}
		all = append(all, sec)
	}
	key := func(sec *Secret) string {
		return fmt.Sprintf("%020d/%s", sec.Created.UnixNano(), entityName(sec.Region, sec.Name))
	}
	desc := in.SortOrder != "asc"
	slices.SortFunc(all, func(a, b *Secret) int {
		if desc {
			return strings.Compare(key(b), key(a))
		}
		return strings.Compare(key(a), key(b))
	})
	if in.NextToken != nil {
		after, ok := decodeToken(*in.NextToken)
		if !ok {
			return nil, "", invalidToken()
		}
		i := 0
		for i < len(all) && (!desc && key(all[i]) <= after || desc && key(all[i]) >= after) {
			i++
		}
		all = all[i:]
	}
	if len(all) <= n {
		return all, "", nil
	}
	return all[:n], encodeToken(key(all[n-1])), nil
}

// matches reports whether a secret passes every filter: each filter
// passes when one of its values does (a prefix of the field; "!value"
// when no such prefix is).
func matches(sec *Secret, filters []Filter) bool {
	for _, f := range filters {
		var fields []string
		switch f.Key {
		case "name":
			fields = []string{sec.Name}
		case "description":
			fields = []string{sec.Description}
		case "tag-key":
			for _, t := range sec.Tags {
				fields = append(fields, t.Key)
			}
		case "tag-value":
			for _, t := range sec.Tags {
				fields = append(fields, t.Value)
			}
		case "primary-region":
			fields = []string{sec.Region}
		case "owning-service":
		case "all":
			fields = []string{sec.Name, sec.Description}
			for _, t := range sec.Tags {
				fields = append(fields, t.Key, t.Value)
			}
		}
		pass := false
		for _, val := range f.Values {
			neg := strings.HasPrefix(val, "!")
			val = strings.TrimPrefix(val, "!")
			hit := slices.ContainsFunc(fields, func(x string) bool { return strings.HasPrefix(x, val) })
			if hit != neg {
				pass = true
			}
		}
		if !pass {
			return false
		}
	}
	return true
}

// VersionsPage is a page of ListSecretVersionIds.
type VersionsPage struct {
	Secret   *Secret
	Versions []Version
	Next     string
}

// ListSecretVersionIds lists a secret's versions, newest first: those
// with a staging label, and with includeDeprecated those without.
func (s *Service) ListSecretVersionIds(ctx context.Context, scope Scope, id string, includeDeprecated bool, maxResults *int, token *string) (VersionsPage, error) {
	var v validation
	if err := checkSecretID(id); err != nil {
		return VersionsPage{}, err
	}
	n := 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 100 {
			v.add(fmt.Sprint(*maxResults), "maxResults", "Member must have value between 1 and 100")
		}
		n = *maxResults
	}
	if err := v.err(); err != nil {
		return VersionsPage{}, err
	}
	sec, err := s.find(ctx, scope, id)
	if err != nil {
		return VersionsPage{}, err
	}
	if err := s.authorize(ctx, sec, "secretsmanager:ListSecretVersionIds", nil); err != nil {
		return VersionsPage{}, err
	}
	if sec.Deleted != nil {
		return VersionsPage{}, markedForDeletion()
	}
	var vs []Version
	for i := len(sec.Versions) - 1; i >= 0; i-- {
		if includeDeprecated || len(sec.Versions[i].Stages) > 0 {
			vs = append(vs, sec.Versions[i])
		}
	}
	if token != nil {
		after, ok := decodeToken(*token)
		if !ok {
			return VersionsPage{}, invalidToken()
		}
		i := slices.IndexFunc(vs, func(v Version) bool { return v.ID == after })
		if i < 0 {
			return VersionsPage{}, invalidToken()
		}
		vs = vs[i+1:]
	}
	page := VersionsPage{Secret: sec, Versions: vs}
	if len(vs) > n {
		page.Versions, page.Next = vs[:n], encodeToken(vs[n-1].ID)
	}
	return page, nil
}
