package eventpattern

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type mkind uint8

const (
	mExactString mkind = iota // s; an IP address also matches its other spellings
	mExactNumber              // s as written, or lo numerically when isNum
	mExactBool                // b
	mNull
	mPrefix
	mPrefixFold
	mSuffix
	mSuffixFold
	mEqualsFold
	mWildcard // wc[0]
	mNumeric  // lo/hi with open ends
	mCIDR     // prefix
	mExists   // any value
	mAbsent   // {"exists": false}: kept on the leaf, never in its list
	mButStrings
	mButNumbers
	mButFold
	mButPrefix
	mButSuffix
	mButWildcard
)

// matcher is one value or operator of a field's list.
type matcher struct {
	kind           mkind
	s              string
	b              bool
	isNum, isIP    bool
	lo, hi         float64
	loOpen, hiOpen bool
	ip             netip.Addr
	prefix         netip.Prefix
	strs           []string
	nums           []float64
	wc             []wildcard
}

// scalar is one value of the event at a field, prepared once for all the
// field's matchers.
type scalar struct {
	kind   jkind // jString, jNumber, jBool or jNull
	s      string
	b      bool
	f      float64
	fOK    bool // a number within numeric matching's range
	ipDone bool
	ip     netip.Addr
	ipOK   bool
}

func toScalar(v any) (scalar, bool) {
	switch t := v.(type) {
	case string:
		return scalar{kind: jString, s: t}, true
	case json.Number:
		f, ok := comparable(string(t))
		return scalar{kind: jNumber, s: string(t), f: f, fOK: ok}, true
	case float64:
		text := strconv.FormatFloat(t, 'g', -1, 64)
		f, ok := comparable(text)
		return scalar{kind: jNumber, s: text, f: f, fOK: ok}, true
	case bool:
		return scalar{kind: jBool, b: t}, true
	case nil:
		return scalar{kind: jNull}, true
	}
	return scalar{}, false
}

func (sc *scalar) addr() (netip.Addr, bool) {
	if !sc.ipDone {
		sc.ipDone = true
		if sc.kind == jString {
			sc.ip, sc.ipOK = parseIP(sc.s)
		}
	}
	return sc.ip, sc.ipOK
}

// matchFields matches the object's fields and $or groups against one event
// object (nil when the event has no object here).
func (n *objNode) matchFields(m map[string]any) bool {
	for _, f := range n.fields {
		v, present := m[f.name]
		if f.leaf != nil && !f.leaf.match(v, present) {
			return false
		}
		if f.obj != nil && !f.obj.matchValue(v) {
			return false
		}
	}
	for _, alts := range n.ors {
		ok := false
		for _, a := range alts {
			if a.matchFields(m) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchValue matches an object of the pattern against the event's value at
// its field. An array matches when one of its elements does, so that the
// fields of one object in the pattern are all found in one element (the
// fields of different elements never combine). Anything but an object is
// an object without fields, which only {"exists": false} fields match.
func (n *objNode) matchValue(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return n.matchFields(t)
	case []any:
		matched, seen := n.matchElements(t)
		if !seen {
			return n.matchFields(nil)
		}
		return matched
	}
	return n.matchFields(nil)
}

func (n *objNode) matchElements(arr []any) (matched, seen bool) {
	for _, e := range arr {
		if inner, ok := e.([]any); ok {
			m, s := n.matchElements(inner)
			if m {
				return true, true
			}
			seen = seen || s
			continue
		}
		seen = true
		if n.matchValue(e) {
			return true, true
		}
	}
	return false, seen
}

// match matches a field's list against the event's value at the field:
// any listed value against any of the event's values (the elements of an
// array, at any depth). A field that is absent, an object, or an empty
// array has no value, which only {"exists": false} matches.
func (l *leafNode) match(v any, present bool) bool {
	if !present {
		return l.absentOK
	}
	matched, seen := l.matchAny(v)
	if !seen {
		return l.absentOK
	}
	return matched
}

func (l *leafNode) matchAny(v any) (matched, seen bool) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			m, s := l.matchAny(e)
			if m {
				return true, true
			}
			seen = seen || s
		}
		return false, seen
	case map[string]any:
		return false, false
	}
	sc, ok := toScalar(v)
	if !ok {
		return false, false
	}
	for i := range l.ms {
		if l.ms[i].match(&sc) {
			return true, true
		}
	}
	return false, true
}

func (m *matcher) match(v *scalar) bool {
	switch m.kind {
	case mExactString:
		if v.kind != jString {
			return false
		}
		if v.s == m.s {
			return true
		}
		if m.isIP {
			ip, ok := v.addr()
			return ok && ip == m.ip
		}
		return false
	case mExactNumber:
		if v.kind != jNumber {
			return false
		}
		return v.s == m.s || (m.isNum && v.fOK && v.f == m.lo)
	case mExactBool:
		return v.kind == jBool && v.b == m.b
	case mNull:
		return v.kind == jNull
	case mPrefix:
		return v.kind == jString && strings.HasPrefix(v.s, m.s)
	case mSuffix:
		return v.kind == jString && strings.HasSuffix(v.s, m.s)
	case mPrefixFold:
		return v.kind == jString && hasPrefixFold(v.s, m.s)
	case mSuffixFold:
		return v.kind == jString && hasSuffixFold(v.s, m.s)
	case mEqualsFold:
		return v.kind == jString && strings.EqualFold(v.s, m.s)
	case mWildcard:
		return v.kind == jString && m.wc[0].match(v.s)
	case mNumeric:
		if v.kind != jNumber || !v.fOK {
			return false
		}
		f := v.f
		if f < m.lo || (m.loOpen && f == m.lo) {
			return false
		}
		return f < m.hi || (!m.hiOpen && f == m.hi)
	case mCIDR:
		ip, ok := v.addr()
		return ok && m.prefix.Contains(ip)
	case mExists:
		return true
	// anything-but matches every value, of any type, that it does not
	// exclude; string forms exclude only strings, numbers only numbers.
	case mButStrings:
		if v.kind != jString {
			return true
		}
		for _, s := range m.strs {
			if v.s == s {
				return false
			}
		}
		return true
	case mButNumbers:
		if v.kind != jNumber || !v.fOK {
			return true
		}
		for _, f := range m.nums {
			if v.f == f {
				return false
			}
		}
		return true
	case mButFold:
		if v.kind != jString {
			return true
		}
		for _, s := range m.strs {
			if strings.EqualFold(v.s, s) {
				return false
			}
		}
		return true
	case mButPrefix:
		if v.kind != jString {
			return true
		}
		for _, s := range m.strs {
			if strings.HasPrefix(v.s, s) {
				return false
			}
		}
		return true
	case mButSuffix:
		if v.kind != jString {
			return true
		}
		for _, s := range m.strs {
			if strings.HasSuffix(v.s, s) {
				return false
			}
		}
		return true
	case mButWildcard:
		if v.kind != jString {
			return true
		}
		for i := range m.wc {
			if m.wc[i].match(v.s) {
				return false
			}
		}
		return true
	}
	return false
}

// match reports whether s matches the wildcard: the first part as a
// prefix, the last as a suffix, and the parts between in order, each at
// its leftmost place (which finds a match whenever one exists).
func (w *wildcard) match(s string) bool {
	if !w.star {
		return s == w.parts[0]
	}
	first, last := w.parts[0], w.parts[len(w.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range w.parts[1 : len(w.parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}

func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		a, n := utf8.DecodeRuneInString(s)
		b, m := utf8.DecodeRuneInString(prefix)
		if !foldEqual(a, b) {
			return false
		}
		s, prefix = s[n:], prefix[m:]
	}
	return true
}

func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		a, n := utf8.DecodeLastRuneInString(s)
		b, m := utf8.DecodeLastRuneInString(suffix)
		if !foldEqual(a, b) {
			return false
		}
		s, suffix = s[:len(s)-n], suffix[:len(suffix)-m]
	}
	return true
}
