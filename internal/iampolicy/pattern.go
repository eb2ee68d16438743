package iampolicy

import (
	"strings"
	"unicode/utf8"
)

// Patterns are kept in an escaped form: '*' and '?' are wildcards and '\'
// makes the next byte literal. The escape lets ${*}, ${?} and substituted
// variable values stand for themselves inside a wildcard pattern.

// glob is a compiled wildcard pattern.
type glob struct {
	pat   string // escaped form
	plain string // the literal text, when the pattern has no wildcards
	lit   bool   // pat has no wildcards: compare plain directly
}

func newGlob(escaped string) glob {
	g := glob{pat: escaped}
	if !strings.ContainsAny(escaped, `*?\`) {
		g.lit, g.plain = true, escaped
	} else if !strings.ContainsAny(escaped, "*?") {
		g.lit, g.plain = true, unescape(escaped)
	}
	return g
}

func (g glob) match(s string, fold bool) bool {
	if g.lit {
		if fold {
			return strings.EqualFold(g.plain, s)
		}
		return g.plain == s
	}
	return wildMatch(g.pat, s, fold)
}

// escapeWild makes every byte of s literal in a pattern.
func escapeWild(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escapeBackslash keeps wildcards but makes backslashes literal: the
// escaped form of policy text.
func escapeBackslash(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.ReplaceAll(s, `\`, `\\`)
}

func unescape(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// wildMatch reports whether s matches the escaped pattern p, where '*'
// matches any run of characters (including '/' and ':') and '?' exactly
// one character. fold compares ASCII letters case-insensitively (actions
// are ASCII). It backtracks only to the last '*', so it runs in
// O(len(p)*len(s)) at worst and never allocates.
func wildMatch(p, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				pi++
				starP, starS = pi, si
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			case '\\':
				if pi+1 < len(p) && p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			default:
				if eqByte(c, s[si], fold) {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// splitARN splits an ARN into at most six colon-separated parts: the
// five prefix segments and the resource part, which may itself contain
// colons. A string with fewer colons gives fewer parts, the last one
// taking the rest.
func splitARN(s string, max int) (segs [6]string, n int) {
	for n < max-1 {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			break
		}
		segs[n], s = s[:j], s[j+1:]
		n++
	}
	segs[n] = s
	return segs, n + 1
}

// arnMatch matches an escaped ARN pattern against an ARN per segment, as
// AWS matches Resource and the Arn* operators: a wildcard in the first five
// segments stays inside its segment; in the resource part it may cross
// '/' and ':'. A pattern with fewer segments matches its last segment
// against the rest of the ARN ("arn:*" matches every ARN), and one that
// does not start with "arn:" is matched as a whole.
func arnMatch(p, s string) bool {
	if p == "*" {
		return true
	}
	if !strings.HasPrefix(p, "arn:") {
		return wildMatch(p, s, false)
	}
	ps, n := splitARN(p, 6)
	ss, m := splitARN(s, n)
	if m != n {
		return false
	}
	for i := 0; i < n; i++ {
		if !wildMatch(ps[i], ss[i], false) {
			return false
		}
	}
	return true
}

// template is a policy string that may contain policy variables
// (${aws:username}, ${key, 'default'}, ${*}, ${?}, ${$}).
type template struct {
	parts []tpart // nil when the string has no variables
	text  string  // the string itself when it has no variables
}

type tpart struct {
	lit    string // literal text, or the variable's key
	lkey   string // lower-case key; "" for literal parts
	def    string // default value
	hasDef bool
	quoted bool // literal that is not a wildcard in patterns (${*} ${?})
}

// parseTemplate splits s at its policy variables. Without vars (policy
// version 2008-10-17) the string is literal.
func parseTemplate(s string, vars bool) template {
	if !vars || !strings.Contains(s, "${") {
		return template{text: s}
	}
	var parts []tpart
	lit := func(t string, quoted bool) {
		if t != "" {
			parts = append(parts, tpart{lit: t, quoted: quoted})
		}
	}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		lit(s[:i], false)
		body := s[i+2 : i+j]
		s = s[i+j+1:]
		switch body {
		case "*", "?", "$":
			lit(body, true)
			continue
		}
		key, def, hasDef := strings.Cut(body, ",")
		key = strings.TrimSpace(key)
		if hasDef {
			def = strings.TrimSpace(def)
			if len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
				def = def[1 : len(def)-1]
			}
		}
		parts = append(parts, tpart{lit: key, lkey: strings.ToLower(key), def: def, hasDef: hasDef})
	}
	lit(s, false)
	return template{parts: parts}
}

func (t *template) hasVars() bool { return t.parts != nil }

// render substitutes the variables. As a pattern (wild) the result is in
// escaped form with the substituted values literal. ok is false when a
// variable has no value and no default: that value then matches nothing.
func (t *template) render(e *env, wild bool) (string, bool) {
	if t.parts == nil {
		if wild {
			return escapeBackslash(t.text), true
		}
		return t.text, true
	}
	var b strings.Builder
	for i := range t.parts {
		p := &t.parts[i]
		switch {
		case p.lkey == "" && !p.quoted:
			if wild {
				b.WriteString(escapeBackslash(p.lit))
			} else {
				b.WriteString(p.lit)
			}
		case p.lkey == "":
			if wild {
				b.WriteString(escapeWild(p.lit))
			} else {
				b.WriteString(p.lit)
			}
		default:
			v := e.lookup(p.lit, p.lkey)
			var s string
			switch {
			case v.n == 1:
				s = v.at(0)
			case p.hasDef:
				s = p.def
			default:
				// Missing, or multivalued: AWS substitutes only
				// single-valued keys.
				return "", false
			}
			if wild {
				s = escapeWild(s)
			}
			b.WriteString(s)
		}
	}
	return b.String(), true
}
