package iampolicy

import (
	"strings"

	"github.com/ecrd/ecrd/internal/awsid"
)

// Principal is who makes a request, resolved before evaluation.
type Principal struct {
	// Type is "Account" (the root user), "User", "AssumedRole",
	// "FederatedUser", "Anonymous" (the zero value is anonymous too),
	// "WebIdentity" (a caller of AssumeRoleWithWebIdentity or
	// AssumeRoleWithSAML, before it has a session) or "Service".
	Type    string
	Account string
	// ARN is the user ARN, the root ARN arn:aws:iam::A:root, the session
	// ARN arn:aws:sts::A:assumed-role/ROLE/SESSION (no role path), the
	// federated-user ARN, or for Type "Service" the service principal
	// name (ecr.amazonaws.com).
	ARN string
	// RoleARN is, for AssumedRole, the role's ARN with its path: what
	// aws:PrincipalArn is, and what a role ARN in a Principal matches.
	RoleARN string
	// UserID is aws:userid: AIDA..., AROA...:session, or the account ID
	// for root.
	UserID string
	// Username is aws:username (users only).
	Username string
	// Provider is, for WebIdentity, the identity provider: an OIDC or SAML
	// provider ARN (arn:aws:iam::A:oidc-provider/HOST) or a named IdP
	// (accounts.google.com). A "Federated" principal matches it; when it
	// is empty, Request.Context["aws:FederatedProvider"] is used.
	Provider string
	// Tags are the principal tags (aws:PrincipalTag/K), session tags
	// included.
	Tags map[string]string
}

func (p *Principal) anonymous() bool { return p.Type == "" || p.Type == "Anonymous" }

// iam reports whether p is an IAM principal of its account: the only kinds
// that an account in a Principal element names.
func (p *Principal) iam() bool {
	switch p.Type {
	case "Account", "User", "AssumedRole", "FederatedUser":
		return true
	}
	return false
}

// principalARN is aws:PrincipalArn: the role ARN for role sessions.
func (p *Principal) principalARN() string {
	switch p.Type {
	case "AssumedRole":
		if p.RoleARN != "" {
			return p.RoleARN
		}
		return p.ARN
	case "Account", "User", "FederatedUser":
		return p.ARN
	}
	return ""
}

// grant is how strongly a resource-policy statement names the caller; it
// decides whether identity, boundary and session policies still apply in
// the same account (IAM user guide, "Policy evaluation logic").
type grant int

const (
	grantNone    grant = iota
	grantAccount       // the account: delegated to its IAM, an identity Allow is needed too
	grantRole          // a role (or "*" for a session): limited by boundary and session policies
	grantDirect        // a user, a session, a federated user: a grant on its own
)

// principals is a compiled Principal or NotPrincipal element.
type principals struct {
	any       bool     // "*" or {"AWS":"*"}
	accounts  []string // 12-digit IDs, from "A" and arn:aws:iam::A:root
	users     []string // user and federated-user ARNs, and session ARNs: exact
	roles     []string // role ARNs: any session of the role
	ids       []string // unique IDs (AIDA..., AROA...): what IAM rewrites a deleted principal to
	federated []string
	services  []string
}

// match returns the strongest way the element names p.
func (ps *principals) match(p *Principal, e *env) grant {
	g := grantNone
	up := func(n grant) {
		if n > g {
			g = n
		}
	}
	if ps.any {
		switch p.Type {
		case "AssumedRole", "FederatedUser":
			up(grantRole)
		default:
			up(grantDirect)
		}
	}
	if p.iam() {
		for _, a := range ps.accounts {
			if a == p.Account {
				up(grantAccount)
				break
			}
		}
		for _, u := range ps.users {
			if u == p.ARN {
				up(grantDirect)
				break
			}
		}
		if p.Type == "AssumedRole" {
			for _, r := range ps.roles {
				if r == p.RoleARN {
					up(grantRole)
					break
				}
			}
		}
		if len(ps.ids) > 0 {
			id, _, _ := strings.Cut(p.UserID, ":")
			for _, u := range ps.ids {
				if u == id {
					if p.Type == "AssumedRole" {
						up(grantRole)
					} else {
						up(grantDirect)
					}
				}
			}
		}
	}
	if len(ps.federated) > 0 && p.Type == "WebIdentity" {
		prov := e.lookup("aws:FederatedProvider", "aws:federatedprovider")
		for _, f := range ps.federated {
			for i := 0; i < prov.n; i++ {
				if f == prov.at(i) {
					up(grantDirect)
				}
			}
		}
	}
	if p.Type == "Service" {
		for _, s := range ps.services {
			if s == p.ARN {
				up(grantDirect)
			}
		}
	}
	return g
}

func isUniqueID(s string) bool {
	if len(s) < 16 || len(s) > 128 || !(strings.HasPrefix(s, "AIDA") || strings.HasPrefix(s, "AROA")) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// addAWS adds one "AWS" principal value; it reports false when IAM would
// answer "Invalid principal in policy". Wildcards are allowed only as the
// whole value "*" (use aws:PrincipalArn with ArnLike instead).
func (ps *principals) addAWS(v string) bool {
	switch {
	case v == "*":
		ps.any = true
		return true
	case strings.ContainsAny(v, "*?"):
		return false
	case awsid.ValidAccountID(v):
		ps.accounts = append(ps.accounts, v)
		return true
	case isUniqueID(v):
		ps.ids = append(ps.ids, v)
		return true
	}
	a, ok := awsid.Parse(v)
	if !ok || a.Region != "" {
		return false
	}
	res := a.Resource
	switch a.Service {
	case "iam":
		switch {
		case res == "root":
			ps.accounts = append(ps.accounts, a.AccountID)
		case strings.HasPrefix(res, "user/") && len(res) > len("user/") && !strings.HasSuffix(res, "/"):
			ps.users = append(ps.users, v)
		case strings.HasPrefix(res, "role/") && len(res) > len("role/") && !strings.HasSuffix(res, "/"):
			ps.roles = append(ps.roles, v)
		default:
			return false
		}
	case "sts":
		kind, rest, _ := strings.Cut(res, "/")
		switch kind {
		case "assumed-role":
			role, session, ok := strings.Cut(rest, "/")
			if !ok || role == "" || session == "" || strings.Contains(session, "/") {
				return false
			}
		case "federated-user":
			if rest == "" {
				return false
			}
		default:
			return false
		}
		ps.users = append(ps.users, v)
	default:
		return false
	}
	return true
}
