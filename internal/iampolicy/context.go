package iampolicy

import "strings"

// values is the value of a condition key in a request: one string, or a
// list. It avoids allocating a slice for the principal keys.
type values struct {
	one  string
	many []string
	n    int
}

func single(s string) values { return values{one: s, n: 1} }
func list(l []string) values { return values{many: l, n: len(l)} }
func (v values) at(i int) string {
	if v.many != nil {
		return v.many[i]
	}
	return v.one
}

// env is the evaluation environment of one request.
type env struct {
	req         *Request
	hasBoundary bool
}

// Principal keys that the evaluator derives from Request.Principal. They
// win over the same keys in Request.Context, so a caller cannot spoof them
// by passing them in.
const principalTagPrefix = "aws:principaltag/"

// lookup returns the values of a condition key. key is the spelling in
// the policy, lkey its lower-case form. Keys are case-insensitive, like
// AWS's, including the tag-key part of aws:PrincipalTag/K and friends.
func (e *env) lookup(key, lkey string) values {
	p := &e.req.Principal
	anon := p.anonymous()
	switch lkey {
	case "aws:principalarn":
		if a := p.principalARN(); a != "" {
			return single(a)
		}
		return values{}
	case "aws:principalaccount":
		if anon || p.Account == "" {
			return values{}
		}
		return single(p.Account)
	case "aws:principaltype":
		if anon {
			return single("Anonymous")
		}
		return single(p.Type)
	case "aws:userid":
		if p.UserID != "" {
			return single(p.UserID)
		}
		if anon {
			return single("anonymous")
		}
		return values{}
	case "aws:username":
		if p.Username == "" || p.Type != "User" {
			return values{}
		}
		return single(p.Username)
	case "aws:principalisawsservice":
		if p.Type == "Service" {
			return single("true")
		}
		return single("false")
	case "aws:federatedprovider":
		if p.Provider != "" {
			return single(p.Provider)
		}
	}
	if strings.HasPrefix(lkey, principalTagPrefix) {
		tag := key[len(principalTagPrefix):]
		if v, ok := p.Tags[tag]; ok {
			return single(v)
		}
		for k, v := range p.Tags {
			if strings.EqualFold(k, tag) {
				return single(v)
			}
		}
		return values{}
	}
	ctx := e.req.Context
	if v, ok := ctx[key]; ok {
		return list(v)
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return list(v)
		}
	}
	return values{}
}
