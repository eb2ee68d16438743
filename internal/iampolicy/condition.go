package iampolicy

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// family is a group of condition operators that read values alike.
type family int

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

// cmp is the comparison within a family.
type cmp int

const (
	cmpEq cmp = iota
	cmpEqFold
	cmpLike
	cmpLT
	cmpLE
	cmpGT
	cmpGE
)

type opInfo struct {
	fam    family
	cmp    cmp
	negate bool
}

// operators are the condition operators of the IAM user guide
// ("IAM JSON policy elements: Condition operators").
var operators = map[string]opInfo{
	"stringequals":              {famString, cmpEq, false},
	"stringnotequals":           {famString, cmpEq, true},
	"stringequalsignorecase":    {famString, cmpEqFold, false},
	"stringnotequalsignorecase": {famString, cmpEqFold, true},
	"stringlike":                {famString, cmpLike, false},
	"stringnotlike":             {famString, cmpLike, true},
	"numericequals":             {famNumeric, cmpEq, false},
	"numericnotequals":          {famNumeric, cmpEq, true},
	"numericlessthan":           {famNumeric, cmpLT, false},
	"numericlessthanequals":     {famNumeric, cmpLE, false},
	"numericgreaterthan":        {famNumeric, cmpGT, false},
	"numericgreaterthanequals":  {famNumeric, cmpGE, false},
	"dateequals":                {famDate, cmpEq, false},
	"datenotequals":             {famDate, cmpEq, true},
	"datelessthan":              {famDate, cmpLT, false},
	"datelessthanequals":        {famDate, cmpLE, false},
	"dategreaterthan":           {famDate, cmpGT, false},
	"dategreaterthanequals":     {famDate, cmpGE, false},
	"bool":                      {famBool, cmpEq, false},
	"binaryequals":              {famBinary, cmpEq, false},
	"ipaddress":                 {famIP, cmpEq, false},
	"notipaddress":              {famIP, cmpEq, true},
	"arnequals":                 {famARN, cmpLike, false},
	"arnlike":                   {famARN, cmpLike, false},
	"arnnotequals":              {famARN, cmpLike, true},
	"arnnotlike":                {famARN, cmpLike, true},
	"null":                      {famNull, cmpEq, false},
}

type setMode int

const (
	setNone setMode = iota
	setAny          // ForAnyValue:
	setAll          // ForAllValues:
)

// condition is one key under one operator.
type condition struct {
	opInfo
	set      setMode
	ifExists bool
	key      string // as written in the policy
	lkey     string
	values   []condValue
}

// condValue is one policy value, pre-parsed for its family.
type condValue struct {
	tmpl   template // string and ARN families
	glob   glob     // compiled pattern when tmpl has no variables
	num    float64
	when   int64 // Unix nanoseconds
	prefix netip.Prefix
	bin    []byte
	b      bool
	ok     bool // the value parsed for its family; if not it never matches
}

// parseOperator splits "ForAllValues:StringLikeIfExists" into its parts.
func parseOperator(name string) (opInfo, setMode, bool, bool) {
	l := strings.ToLower(name)
	set := setNone
	if rest, ok := strings.CutPrefix(l, "foranyvalue:"); ok {
		l, set = rest, setAny
	} else if rest, ok := strings.CutPrefix(l, "forallvalues:"); ok {
		l, set = rest, setAll
	}
	if info, ok := operators[l]; ok {
		return info, set, false, true
	}
	if base, ok := strings.CutSuffix(l, "ifexists"); ok {
		if info, ok := operators[base]; ok && info.fam != famNull {
			return info, set, true, true
		}
	}
	return opInfo{}, 0, false, false
}

func compileValue(info opInfo, s string, vars bool) condValue {
	v := condValue{ok: true}
	switch info.fam {
	case famString, famARN:
		v.tmpl = parseTemplate(s, vars)
		if !v.tmpl.hasVars() {
			if info.cmp == cmpLike {
				v.glob = newGlob(escapeBackslash(s))
			}
		}
	case famNumeric:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		v.num, v.ok = f, err == nil
	case famDate:
		v.when, v.ok = parseDate(s)
	case famBool:
		switch strings.ToLower(s) {
		case "true":
			v.b = true
		case "false":
		default:
			v.ok = false
		}
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(s)
		v.bin, v.ok = b, err == nil
	case famIP:
		v.prefix, v.ok = parseCIDR(s)
	case famNull:
		v.tmpl.text = strings.ToLower(s)
	}
	return v
}

func parseCIDR(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// dateLayouts are the ISO 8601 forms IAM accepts in policies and that
// callers put in aws:CurrentTime.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseDate reads an ISO 8601 date or epoch seconds (aws:EpochTime).
func parseDate(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1<<33 || n < -(1<<33) {
			return 0, false
		}
		return n * int64(time.Second), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// eval reports whether the condition holds for the request.
func (c *condition) eval(e *env) bool {
	vals := e.lookup(c.key, c.lkey)
	present := vals.n > 0
	if c.fam == famNull {
		// "true": the key must be absent; "false": present.
		for i := range c.values {
			switch c.values[i].tmpl.text {
			case "true":
				if !present {
					return true
				}
			case "false":
				if present {
					return true
				}
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setAny:
			return false
		case c.set == setAll:
			// The classic pitfall: true for a missing or empty key.
			return true
		}
		return c.negate
	}
	// A bare operator on a multivalued key: positive operators need one
	// request value to match, negated ones need none to match (so every
	// value must pass the negated test).
	all := c.set == setAll || (c.set == setNone && c.negate)
	for i := 0; i < vals.n; i++ {
		ok := c.matchAny(vals.at(i), e) != c.negate
		if all && !ok {
			return false
		}
		if !all && ok {
			return true
		}
	}
	return all
}

// matchAny reports whether a request value matches any policy value,
// before negation.
func (c *condition) matchAny(rv string, e *env) bool {
	switch c.fam {
	case famNumeric:
		f, err := strconv.ParseFloat(strings.TrimSpace(rv), 64)
		if err != nil {
			return false
		}
		for i := range c.values {
			if v := &c.values[i]; v.ok && compare(c.cmp, cmp3(f, v.num)) {
				return true
			}
		}
		return false
	case famDate:
		t, ok := parseDate(rv)
		if !ok {
			return false
		}
		for i := range c.values {
			if v := &c.values[i]; v.ok && compare(c.cmp, cmp3(t, v.when)) {
				return true
			}
		}
		return false
	case famBool:
		var b bool
		switch strings.ToLower(rv) {
		case "true":
			b = true
		case "false":
		default:
			return false
		}
		for i := range c.values {
			if v := &c.values[i]; v.ok && v.b == b {
				return true
			}
		}
		return false
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(rv)
		if err != nil {
			return false
		}
		for i := range c.values {
			if v := &c.values[i]; v.ok && bytes.Equal(v.bin, b) {
				return true
			}
		}
		return false
	case famIP:
		a, err := netip.ParseAddr(strings.TrimSpace(rv))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for i := range c.values {
			if v := &c.values[i]; v.ok && v.prefix.Contains(a) {
				return true
			}
		}
		return false
	}
	for i := range c.values {
		if c.matchString(&c.values[i], rv, e) {
			return true
		}
	}
	return false
}

func (c *condition) matchString(v *condValue, rv string, e *env) bool {
	if c.fam == famARN {
		p, ok := v.glob.pat, true
		if v.tmpl.hasVars() {
			p, ok = v.tmpl.render(e, true)
		} else if p == "" {
			p = escapeBackslash(v.tmpl.text)
		}
		return ok && arnMatch(p, rv)
	}
	if c.cmp == cmpLike {
		if !v.tmpl.hasVars() {
			return v.glob.match(rv, false)
		}
		p, ok := v.tmpl.render(e, true)
		return ok && wildMatch(p, rv, false)
	}
	s, ok := v.tmpl.text, true
	if v.tmpl.hasVars() {
		s, ok = v.tmpl.render(e, false)
	}
	if !ok {
		return false
	}
	if c.cmp == cmpEqFold {
		return strings.EqualFold(s, rv)
	}
	return s == rv
}

func cmp3[T float64 | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(c cmp, r int) bool {
	switch c {
	case cmpLT:
		return r < 0
	case cmpLE:
		return r <= 0
	case cmpGT:
		return r > 0
	case cmpGE:
		return r >= 0
	}
	return r == 0
}
