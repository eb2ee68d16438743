package identity

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Check is one authorization question: may the request's principal take
// Action on Resource?
type Check struct {
	Action          string // "ecr:PutImage", "iam:CreateRole", ...
	Resource        string // the resource's ARN, or "*"
	ResourceAccount string // the account that owns the resource
	// Policy is the resource's own policy (a repository or trust policy),
	// if it has one.
	Policy *iampolicy.Named
	// Keys gives the resource's condition keys (its tags, request
	// parameters); set records one that some policy reads.
	Keys func(set func(key, value string))
}

// Authorizer decides whether a request's principal may act, and words a
// denial: what the domain cores beside the registry (kms, events,
// secrets) ask of a Service, so that their tests may wrap it.
type Authorizer interface {
	Authorize(ctx context.Context, c Check) (iampolicy.Decision, iampolicy.Request, error)
	DenialMessage(d iampolicy.Decision, req iampolicy.Request) string
}

// Authorize decides a check for the principal the context carries (none:
// anonymous), as AWS's policy evaluation does: the principal's identity
// policies, permissions boundary and session policies, and the
// resource's policy. It returns the decision and the request it decided,
// whose Message explains a denial. It is the one place where a request's
// permissions are computed; the registry and the IAM and STS services
// all ask it. A nil Service knows no IAM users or roles: only roots and
// resource policies grant anything.
func (s *Service) Authorize(ctx context.Context, c Check) (iampolicy.Decision, iampolicy.Request, error) {
	if s != nil && s.authorizing != nil {
		s.authorizing()
	}
	req := iampolicy.Request{Action: c.Action, Resource: c.Resource, ResourceAccount: c.ResourceAccount}
	pols := iampolicy.Policies{Resource: c.Policy}
	p, ok := FromContext(ctx)
	if ok {
		p = p.normalized()
		if p.Type == TypeRoot && p.Account == c.ResourceAccount && c.Policy == nil {
			// The root in its own account, with no resource policy that
			// could deny it: the common case, decided without evaluation.
			return rootAllowed, req, nil
		}
		g, err := s.grantsOf(ctx, p)
		if err != nil {
			return iampolicy.Decision{}, req, err
		}
		req.Principal = g.principal(p)
		pols.Identity, pols.Boundary = g.identity, g.boundary
		if p.Session != nil {
			pols.Session = s.sessionPolicies(ctx, p.Session)
		}
	}
	if readers := keyReaders(&pols); len(readers) > 0 {
		fillKeys(ctx, &req, readers, c.Keys)
	}
	return iampolicy.Evaluate(req, pols), req, nil
}

var rootAllowed = iampolicy.Decision{Allowed: true, Reason: iampolicy.Allow}

// keyReaders returns the policies that read context keys (usually none).
func keyReaders(pols *iampolicy.Policies) []*iampolicy.Policy {
	var out []*iampolicy.Policy
	add := func(n *iampolicy.Named) {
		if n != nil && n.Policy != nil && n.Policy.ReadsKeys() {
			out = append(out, n.Policy)
		}
	}
	add(pols.Resource)
	add(pols.Boundary)
	for i := range pols.Identity {
		add(&pols.Identity[i])
	}
	for i := range pols.Session {
		add(&pols.Session[i])
	}
	return out
}

// fillKeys sets the request's context keys that some of readers read:
// the time, where the request came from, the session's source identity
// and issue time, and the resource's own keys.
func fillKeys(ctx context.Context, req *iampolicy.Request, readers []*iampolicy.Policy, resource func(set func(k, v string))) {
	uses := func(key string) bool {
		for _, p := range readers {
			if p.UsesKey(key) {
				return true
			}
		}
		return false
	}
	set := func(key, value string) {
		if req.Context == nil {
			req.Context = map[string][]string{}
		}
		req.Context[key] = append(req.Context[key], value)
	}
	now := time.Now()
	if uses("aws:CurrentTime") {
		set("aws:CurrentTime", now.UTC().Format(time.RFC3339))
	}
	if uses("aws:EpochTime") {
		set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	}
	if o, ok := OriginFromContext(ctx); ok {
		if uses("aws:SourceIp") {
			set("aws:SourceIp", o.SourceIP)
		}
		if uses("aws:SecureTransport") {
			set("aws:SecureTransport", strconv.FormatBool(o.Secure))
		}
	}
	if p, ok := FromContext(ctx); ok && p.Session != nil {
		// A session's own keys.
		if p.Session.SourceIdentity != "" && uses("aws:SourceIdentity") {
			set("aws:SourceIdentity", p.Session.SourceIdentity)
		}
		if uses("aws:TokenIssueTime") {
			set("aws:TokenIssueTime", time.Unix(p.Session.Issued, 0).UTC().Format(time.RFC3339))
		}
	}
	if resource != nil {
		resource(func(k, v string) {
			if uses(k) {
				set(k, v)
			}
		})
	}
}

// grants are the compiled identity-side policies of one user or role
// (with, for a user, its groups'), and its tags.
type grants struct {
	// id is the user's or role's unique ID (AIDA..., AROA...), "" when
	// it does not exist: credentials issued to a principal of another ID
	// are those of one deleted since, and do not authenticate.
	id         string
	identity   []iampolicy.Named
	boundary   *iampolicy.Named
	tags       map[string]string
	generation int64
	loaded     time.Time
}

var noGrants = &grants{}

// grantsOf returns the compiled policies of a user, or of an assumed
// role's role, cached until an IAM change (Changed) or cacheTTL passes.
// A user or role that does not exist has none (and is remembered as
// such, so that a deleted principal's credentials cost no lookup).
func (s *Service) grantsOf(ctx context.Context, p Principal) (*grants, error) {
	var kind string
	switch p.Type {
	case TypeUser:
		kind = metadata.IAMUser
	case TypeAssumedRole:
		kind = metadata.IAMRole
	default:
		return noGrants, nil
	}
	if s == nil {
		return noGrants, nil
	}
	key := p.Account + "/" + kind + "/" + strings.ToLower(p.Name)
	gen := s.generation.Load()
	if v, ok := s.grants.Load(key); ok {
		g := v.(*grants)
		if g.generation == gen && time.Since(g.loaded) < cacheTTL {
			return g, nil
		}
	}
	g := &grants{generation: gen, loaded: time.Now()}
	var (
		have   Grants
		tags   []Tag
		groups []string
	)
	switch kind {
	case metadata.IAMUser:
		u, err := loadEntity[User](ctx, s.meta, p.Account, kind, p.Name)
		if err != nil && !isNoSuchEntity(err) {
			return nil, err
		}
		g.id, have, tags, groups = u.ID, u.Grants, u.Tags, u.Groups
	default:
		r, err := loadEntity[Role](ctx, s.meta, p.Account, kind, p.Name)
		if err != nil && !isNoSuchEntity(err) {
			return nil, err
		}
		g.id, have, tags = r.ID, r.Grants, r.Tags
	}
	s.addGrants(ctx, g, p.ARN, have, "")
	for _, name := range groups {
		gr, err := loadEntity[Group](ctx, s.meta, p.Account, KindGroup, name)
		if err != nil {
			if !isNoSuchEntity(err) {
				return nil, err
			}
			continue
		}
		s.addGrants(ctx, g, p.ARN, gr.Grants, gr.Name)
	}
	if have.Boundary != "" {
		n, ok := s.compiledManaged(ctx, have.Boundary)
		if !ok {
			// A boundary that cannot be read allows nothing, rather than
			// everything.
			n = iampolicy.Named{Name: have.Boundary, Policy: denyAll}
		}
		g.boundary = &n
	}
	if len(tags) > 0 {
		g.tags = make(map[string]string, len(tags))
		for _, t := range tags {
			g.tags[t.Key] = t.Value
		}
	}
	s.grants.Store(key, g)
	return g, nil
}

// addGrants compiles the inline and attached policies of a user, role or
// (with its name) group into g's identity policies.
func (s *Service) addGrants(ctx context.Context, g *grants, principal string, have Grants, group string) {
	for _, in := range have.Inline {
		pol, err := iampolicy.Parse(in.Document, iampolicy.Identity)
		if err != nil {
			s.log.Error("a stored inline policy does not compile: it is ignored", "principal", principal, "group", group, "policy", in.Name, "err", err)
			continue
		}
		name := in.Name
		if group != "" {
			name = groupPolicyName(group, in.Name)
		}
		g.identity = append(g.identity, iampolicy.Named{Name: name, Policy: pol})
	}
	for _, arn := range have.Attached {
		if n, ok := s.compiledManaged(ctx, arn); ok {
			g.identity = append(g.identity, n)
		}
	}
}

// groupPolicyName is how an explanation names a group's inline policy.
func groupPolicyName(group, policy string) string { return policy + " (group " + group + ")" }

// denyAll is a policy that allows nothing.
var denyAll = func() *iampolicy.Policy {
	p, err := iampolicy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, iampolicy.Identity)
	if err != nil {
		panic(err)
	}
	return p
}()

// compiledManaged returns a managed policy's default version, compiled
// once per version (of the policy's unique ID: a policy deleted and
// created again under its name starts at v1 again).
func (s *Service) compiledManaged(ctx context.Context, arn string) (iampolicy.Named, bool) {
	mp, err := managedPolicy(ctx, s.meta, arn)
	if err != nil {
		s.log.Warn("an attached managed policy cannot be read: it is ignored", "policy", arn, "err", err)
		return iampolicy.Named{}, false
	}
	key := arn + "#" + mp.ID + "#" + mp.DefaultVersion
	if v, ok := s.managed.Load(key); ok {
		return iampolicy.Named{Name: mp.Name, Policy: v.(*iampolicy.Policy)}, true
	}
	pol, err := iampolicy.Parse(mp.Document(), iampolicy.Identity)
	if err != nil {
		s.log.Error("a stored managed policy does not compile: it is ignored", "policy", arn, "err", err)
		return iampolicy.Named{}, false
	}
	s.managed.Store(key, pol)
	return iampolicy.Named{Name: mp.Name, Policy: pol}, true
}

// principal describes p to the evaluator.
func (g *grants) principal(p Principal) iampolicy.Principal {
	out := iampolicy.Principal{Type: p.Type, Account: p.Account, ARN: p.ARN, UserID: p.UserID, Tags: g.tags}
	switch p.Type {
	case TypeUser:
		out.Username = p.Name
	case TypeAssumedRole:
		if p.Session != nil {
			out.RoleARN = p.Session.RoleARN
			if len(p.Session.Tags) > 0 {
				tags := make(map[string]string, len(g.tags)+len(p.Session.Tags))
				for k, v := range g.tags {
					tags[k] = v
				}
				for k, v := range p.Session.Tags {
					tags[k] = v // session tags override the role's
				}
				out.Tags = tags
			}
		}
	}
	return out
}

// normalized fills a principal's Type and Name from its ARN when they are
// missing (principals made before IAM users existed carried only ARNs).
func (p Principal) normalized() Principal {
	if p.Type != "" {
		return p
	}
	switch res := p.ARN[strings.LastIndex(p.ARN, ":")+1:]; {
	case p.IsRoot():
		p.Type = TypeRoot
	case strings.HasPrefix(res, "user/"):
		p.Type, p.Name = TypeUser, res[strings.LastIndex(res, "/")+1:]
	case strings.HasPrefix(res, "assumed-role/"):
		role, _, _ := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		p.Type, p.Name = TypeAssumedRole, role
	default:
		p.Type = "Unknown" // matches no policy's principal and has no grants
	}
	return p
}
