package iampolicy

import (
	"strconv"
	"strings"
	"unicode"
)

// Kind is where a policy is attached; it decides what Parse accepts.
type Kind int

const (
	// Identity is a user or role inline or managed policy, a permissions
	// boundary or a session policy: no Principal or NotPrincipal.
	Identity Kind = iota
	// Resource is an ECR repository or registry policy: Principal is
	// required and Resource optional (ECR repository policies omit it; the
	// resource is then the one the request names).
	Resource
	// Trust is a role trust policy: Principal required, Resource
	// prohibited, actions only sts:*.
	Trust
)

func (k Kind) String() string {
	switch k {
	case Identity:
		return "identity"
	case Resource:
		return "resource"
	case Trust:
		return "trust"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Policy versions.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// MaxPolicySize is the largest document Parse accepts, in characters not
// counting white space, as IAM counts. It is IAM's limit for inline role
// policies (10,240) and ECR's for repository policies; managed policies
// (6,144) and trust policies (2,048 by default) are smaller in AWS, and a
// caller that wants those checks the size itself.
const MaxPolicySize = 10240

// MalformedError is a policy that Parse rejects. Message is IAM's
// MalformedPolicyDocument text.
type MalformedError struct{ Message string }

func (e *MalformedError) Error() string { return e.Message }

// The messages of MalformedError, in IAM's words.
const (
	msgSyntax          = "Syntax errors in policy."
	msgVersion         = "Policy document must be version 2012-10-17 or greater."
	msgLegacy          = "The policy failed legacy parsing"
	msgSidUnique       = "Statement IDs (SID) in a single policy must be unique."
	msgActions         = "Policy statement must contain actions."
	msgResources       = "Policy statement must contain resources."
	msgVendor          = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgOneColon        = "Actions/Condition can contain only one colon."
	msgNoPrincipal     = "Policy document should not specify a principal."
	msgMissingPrinc    = "Missing required field Principal"
	msgProhibitedRes   = "Has prohibited field Resource."
	msgTrustActions    = "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
	msgSizePrefix      = "Cannot exceed quota for PolicySize: "
	msgInvalidPrincFmt = "Invalid principal in policy: "
)

func malformed(msg string) *MalformedError { return &MalformedError{Message: msg} }

// Policy is a compiled policy document: parsed once when stored, then
// evaluated per request.
type Policy struct {
	kind    Kind
	version string
	doc     string
	stmts   []statement
	keys    map[string]bool // lower-case condition and variable keys
}

// UsesKey reports whether the policy's conditions or variables read a
// context key (case-insensitively), so that a caller can skip computing
// the keys no policy reads.
func (p *Policy) UsesKey(key string) bool {
	return p.keys[strings.ToLower(key)]
}

// ReadsKeys reports whether the policy reads any context key, so that a
// caller can skip computing them all.
func (p *Policy) ReadsKeys() bool { return len(p.keys) > 0 }

// indexKeys records the keys the policy reads.
func (p *Policy) indexKeys() {
	p.keys = map[string]bool{}
	addTemplate := func(t template) {
		for _, part := range t.parts {
			if part.lkey != "" {
				p.keys[part.lkey] = true
			}
		}
	}
	for i := range p.stmts {
		st := &p.stmts[i]
		for _, r := range st.resources {
			addTemplate(r.tmpl)
		}
		for _, c := range st.conds {
			p.keys[c.lkey] = true
			for _, v := range c.values {
				addTemplate(v.tmpl)
			}
		}
	}
}

// Kind returns the kind the policy was parsed as.
func (p *Policy) Kind() Kind { return p.kind }

// Version returns the document's Version ("" when absent).
func (p *Policy) Version() string { return p.version }

// String returns the document as it was given to Parse.
func (p *Policy) String() string { return p.doc }

// Sids returns the statement IDs in document order ("" for none).
func (p *Policy) Sids() []string {
	out := make([]string, len(p.stmts))
	for i := range p.stmts {
		out[i] = p.stmts[i].sid
	}
	return out
}

// Actions returns the actions the policy's statements name, as written;
// a NotAction statement covers any action, so it contributes "*". ECR
// uses it to check which services' actions a policy may name.
func (p *Policy) Actions() []string {
	var out []string
	for i := range p.stmts {
		if p.stmts[i].notAction {
			out = append(out, "*")
			continue
		}
		out = append(out, p.stmts[i].actionText...)
	}
	return out
}

// statement is one compiled statement.
type statement struct {
	sid          string
	deny         bool
	notAction    bool
	actions      []glob   // escaped, matched case-insensitively
	actionText   []string // as written, for Actions
	hasResource  bool     // false: the resource the request names
	notResource  bool
	resources    []resourcePattern
	hasPrincipal bool
	notPrincipal bool
	principals   principals
	conds        []condition
}

type resourcePattern struct {
	tmpl template
	pat  string // escaped pattern when tmpl has no variables
}

var (
	topFields       = map[string]bool{"Version": true, "Id": true, "Statement": true}
	statementFields = map[string]bool{"Sid": true, "Effect": true, "Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Principal": true, "NotPrincipal": true, "Condition": true}
)

// rawStatement is a statement after the syntax stage.
type rawStatement struct {
	n                     *node
	sid                   string
	effect                string
	action, notAction     []string
	hasAction             bool
	resource, notResource []string
	hasResource           bool
	principal             *node
	notPrincipal          bool
	cond                  *node
}

// Parse compiles a policy document of the given kind. Its checks follow
// IAM's order, and an error is a *MalformedError with IAM's message for
// the first failing check.
func Parse(doc string, kind Kind) (*Policy, error) {
	if n := policySize(doc); n > MaxPolicySize {
		return nil, malformed(msgSizePrefix + strconv.Itoa(MaxPolicySize))
	}
	root, err := decodeJSON(doc)
	if err != nil || root.kind != 'o' {
		return nil, malformed(msgSyntax)
	}
	// Stage 1: grammar.
	for _, k := range root.keys {
		if !topFields[k] {
			return nil, malformed(msgSyntax)
		}
	}
	version := ""
	if v := root.get("Version"); v != nil {
		if v.kind != 's' {
			return nil, malformed(msgSyntax)
		}
		version = v.str
	}
	if id := root.get("Id"); id != nil && id.kind != 's' {
		return nil, malformed(msgSyntax)
	}
	st := root.get("Statement")
	if st == nil {
		return nil, malformed(msgSyntax)
	}
	var list []*node
	switch st.kind {
	case 'o':
		list = []*node{st}
	case 'a':
		list = st.elem
	default:
		return nil, malformed(msgSyntax)
	}
	if len(list) == 0 {
		return nil, malformed(msgSyntax)
	}
	raws := make([]rawStatement, len(list))
	for i, s := range list {
		if !readStatement(s, &raws[i]) {
			return nil, malformed(msgSyntax)
		}
	}
	// Stage 2: version.
	if version != "" && version != Version2012 && version != Version2008 {
		return nil, malformed(msgVersion)
	}
	vars := version == Version2012
	// Stage 3: the legacy parser: Effect is case-sensitive, dates parse.
	for i := range raws {
		r := &raws[i]
		if r.effect != "Allow" && r.effect != "Deny" {
			return nil, malformed(msgLegacy)
		}
		if !legacyDates(r.cond) {
			return nil, malformed(msgLegacy)
		}
	}
	// Stage 4: unique Sids (IAM's rule; ECR's and KMS's resource
	// policies take repeated ones, which Terraform modules produce),
	// actions present.
	sids := make(map[string]bool, len(raws))
	for i := range raws {
		if sid := raws[i].sid; sid != "" && kind != Resource {
			if sids[sid] {
				return nil, malformed(msgSidUnique)
			}
			sids[sid] = true
		}
	}
	for i := range raws {
		if !raws[i].hasAction || len(raws[i].action)+len(raws[i].notAction) == 0 {
			return nil, malformed(msgActions)
		}
	}
	// Stage 5: resource formats.
	for i := range raws {
		for _, r := range append(raws[i].resource, raws[i].notResource...) {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				return nil, malformed(`Resource ` + r + ` must be in ARN format or "*".`)
			}
		}
	}
	// Stage 6: action vendors.
	for i := range raws {
		for _, a := range append(raws[i].action, raws[i].notAction...) {
			if msg := checkAction(a); msg != "" {
				return nil, malformed(msg)
			}
		}
	}
	// Stage 7: what the policy's kind requires.
	for i := range raws {
		r := &raws[i]
		switch kind {
		case Identity:
			if r.principal != nil {
				return nil, malformed(msgNoPrincipal)
			}
			if !r.hasResource || len(r.resource)+len(r.notResource) == 0 {
				return nil, malformed(msgResources)
			}
		case Resource, Trust:
			if r.principal == nil {
				return nil, malformed(msgMissingPrinc)
			}
		}
		if kind == Trust {
			for _, a := range append(r.action, r.notAction...) {
				if a != "*" && !strings.HasPrefix(strings.ToLower(a), "sts:") {
					return nil, malformed(msgTrustActions)
				}
			}
			if r.hasResource {
				return nil, malformed(msgProhibitedRes)
			}
		}
	}
	// Stage 8: compile, checking principals.
	p := &Policy{kind: kind, version: version, doc: doc, stmts: make([]statement, len(raws))}
	for i := range raws {
		if err := compileStatement(&raws[i], &p.stmts[i], vars); err != nil {
			return nil, err
		}
	}
	p.indexKeys()
	return p, nil
}

// policySize counts characters other than white space.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// readStatement is the grammar check of one statement.
func readStatement(n *node, r *rawStatement) bool {
	if n.kind != 'o' {
		return false
	}
	r.n = n
	for _, k := range n.keys {
		if !statementFields[k] {
			return false
		}
	}
	if sid := n.get("Sid"); sid != nil {
		if sid.kind != 's' {
			return false
		}
		r.sid = sid.str
	}
	eff := n.get("Effect")
	if eff == nil || eff.kind != 's' || !(strings.EqualFold(eff.str, "Allow") || strings.EqualFold(eff.str, "Deny")) {
		return false
	}
	r.effect = eff.str
	a, na := n.get("Action"), n.get("NotAction")
	if a != nil && na != nil {
		return false
	}
	var ok bool
	switch {
	case a != nil:
		r.hasAction = true
		if r.action, ok = a.strings(); !ok {
			return false
		}
	case na != nil:
		r.hasAction = true
		if r.notAction, ok = na.strings(); !ok {
			return false
		}
	}
	res, nres := n.get("Resource"), n.get("NotResource")
	if res != nil && nres != nil {
		return false
	}
	switch {
	case res != nil:
		r.hasResource = true
		if r.resource, ok = res.strings(); !ok {
			return false
		}
	case nres != nil:
		r.hasResource = true
		if r.notResource, ok = nres.strings(); !ok {
			return false
		}
	}
	pr, npr := n.get("Principal"), n.get("NotPrincipal")
	if pr != nil && npr != nil {
		return false
	}
	if npr != nil {
		pr, r.notPrincipal = npr, true
	}
	if pr != nil {
		switch pr.kind {
		case 's':
		case 'o':
			if len(pr.keys) == 0 {
				return false
			}
			for _, v := range pr.elem {
				if _, ok := v.strings(); !ok {
					return false
				}
			}
		default:
			return false
		}
		r.principal = pr
	}
	if c := n.get("Condition"); c != nil {
		if c.kind != 'o' {
			return false
		}
		for i, op := range c.keys {
			block := c.elem[i]
			if block.kind != 'o' {
				return false
			}
			if _, _, _, ok := parseOperator(op); !ok && len(block.keys) > 0 {
				return false
			}
			for _, v := range block.elem {
				if _, ok := v.scalars(); !ok {
					return false
				}
			}
		}
		r.cond = c
	}
	return true
}

// legacyDates reports whether every value of a Date operator parses.
func legacyDates(c *node) bool {
	if c == nil {
		return true
	}
	for i, op := range c.keys {
		info, _, _, ok := parseOperator(op)
		if !ok || info.fam != famDate {
			continue
		}
		for _, v := range c.elem[i].elem {
			vals, _ := v.scalars()
			for _, s := range vals {
				if _, ok := parseDate(s); !ok && !strings.Contains(s, "${") {
					return false
				}
			}
		}
	}
	return true
}

// checkAction returns IAM's message for a malformed action, or "".
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	vendor, name, ok := strings.Cut(a, ":")
	if !ok {
		return msgVendor
	}
	if strings.Contains(name, ":") {
		return msgOneColon
	}
	for i := 0; i < len(vendor); i++ {
		c := vendor[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '*' || c == '?') {
			return "Vendor " + vendor + " is not valid"
		}
	}
	if vendor == "" {
		return "Vendor " + vendor + " is not valid"
	}
	return ""
}

func compileStatement(r *rawStatement, s *statement, vars bool) error {
	s.sid = r.sid
	s.deny = r.effect == "Deny"
	s.notAction = r.notAction != nil
	for _, a := range append(r.action, r.notAction...) {
		s.actions = append(s.actions, newGlob(escapeBackslash(a)))
	}
	s.actionText = append(append([]string(nil), r.action...), r.notAction...)
	s.hasResource = r.hasResource
	s.notResource = r.notResource != nil
	for _, res := range append(r.resource, r.notResource...) {
		t := parseTemplate(res, vars)
		rp := resourcePattern{tmpl: t}
		if !t.hasVars() {
			rp.pat = escapeBackslash(res)
		}
		s.resources = append(s.resources, rp)
	}
	if r.principal != nil {
		s.hasPrincipal = true
		s.notPrincipal = r.notPrincipal
		if err := compilePrincipal(r.principal, &s.principals); err != nil {
			return err
		}
	}
	if c := r.cond; c != nil {
		for i, op := range c.keys {
			info, set, ifExists, _ := parseOperator(op)
			block := c.elem[i]
			for j, key := range block.keys {
				vals, _ := block.elem[j].scalars()
				cond := condition{opInfo: info, set: set, ifExists: ifExists, key: key, lkey: strings.ToLower(key)}
				for _, v := range vals {
					cond.values = append(cond.values, compileValue(info, v, vars))
				}
				s.conds = append(s.conds, cond)
			}
		}
	}
	return nil
}

func invalidPrincipal(typ, v string) *MalformedError {
	return malformed(msgInvalidPrincFmt + strconv.Quote(typ) + ":" + strconv.Quote(v))
}

func compilePrincipal(n *node, ps *principals) error {
	if n.kind == 's' {
		if n.str != "*" {
			return malformed(msgSyntax)
		}
		ps.any = true
		return nil
	}
	for i, typ := range n.keys {
		vals, _ := n.elem[i].strings()
		if len(vals) == 0 {
			return malformed(msgSyntax)
		}
		for _, v := range vals {
			switch typ {
			case "AWS":
				if !ps.addAWS(v) {
					return invalidPrincipal(typ, v)
				}
			case "Federated":
				if v == "" || strings.ContainsAny(v, "*?") {
					return invalidPrincipal(typ, v)
				}
				ps.federated = append(ps.federated, v)
			case "Service":
				if v == "*" {
					// Not a wildcard for services; never matches.
					continue
				}
				if !strings.Contains(v, ".") || strings.ContainsAny(v, "*? /") {
					return invalidPrincipal(typ, v)
				}
				ps.services = append(ps.services, v)
			case "CanonicalUser":
				// S3's canonical user IDs: accepted, never match here.
				if v == "" {
					return invalidPrincipal(typ, v)
				}
			default:
				return invalidPrincipal(typ, v)
			}
		}
	}
	return nil
}

// NamedPrincipal is an IAM principal a policy names by ARN.
type NamedPrincipal struct {
	Type string // "AWS" or "Federated"
	ARN  string
}

// NamedPrincipals returns the IAM principals the policy's Principal and
// NotPrincipal elements name by ARN: users, roles, sessions and federated
// providers (not accounts, services or "*"). IAM refuses a trust policy
// naming one that does not exist, so the caller checks them.
func (p *Policy) NamedPrincipals() []NamedPrincipal {
	var out []NamedPrincipal
	for i := range p.stmts {
		ps := &p.stmts[i].principals
		for _, l := range [][]string{ps.users, ps.roles} {
			for _, a := range l {
				out = append(out, NamedPrincipal{"AWS", a})
			}
		}
		for _, a := range ps.federated {
			out = append(out, NamedPrincipal{"Federated", a})
		}
	}
	return out
}
