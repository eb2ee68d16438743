package eventpattern

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// objNode is an object of the pattern: every field must match (AND), and
// for each $or of the object one of its alternatives must match.
type objNode struct {
	fields []*fieldNode
	ors    [][]*objNode
}

// fieldNode is one field of an object. A field given twice in one object
// (as a list and as an object) must satisfy both, as EventBridge flattens
// each to its own path.
type fieldNode struct {
	name string
	obj  *objNode
	leaf *leafNode
}

// leafNode is a field's list of values and operators: it matches when any
// of them matches any of the event's values at that field.
type leafNode struct {
	ms       []matcher
	absentOK bool // {"exists": false} is in the list
}

const orKeyword = "$or"

// reservedInOr are names that may not be field names inside a $or, so that
// a misplaced operator is reported rather than read as a field.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true,
	"anything-but": true, "exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
	"regex": true, "not-wildcard": true, "not-equals-ignore-case": true,
	"date-after": true, "date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

func compileObject(v *jval, insideOr bool) (*objNode, error) {
	if len(v.keys) == 0 {
		return nil, fail("Empty objects are not allowed")
	}
	n := &objNode{}
	for i, name := range v.keys {
		val := v.elems[i]
		if name == orKeyword {
			alts, err := compileOr(val)
			if err != nil {
				return nil, err
			}
			n.ors = append(n.ors, alts)
			continue
		}
		if insideOr && reservedInOr[name] {
			return nil, fail(name + " is Ruler reserved fieldName which cannot be used inside $or.")
		}
		switch val.kind {
		case jObject:
			sub, err := compileObject(val, insideOr)
			if err != nil {
				return nil, err
			}
			n.addObject(name, sub)
		case jArray:
			leaf, err := compileLeaf(val)
			if err != nil {
				return nil, err
			}
			// A later list for the same field replaces the earlier one,
			// as EventBridge keeps the last value of a repeated path.
			n.field(name).leaf = leaf
		default:
			return nil, fail(`"` + name + `" must be an object or an array`)
		}
	}
	return n, nil
}

func (n *objNode) field(name string) *fieldNode {
	for _, f := range n.fields {
		if f.name == name {
			return f
		}
	}
	f := &fieldNode{name: name}
	n.fields = append(n.fields, f)
	return f
}

// addObject merges a repeated object field into the first, as their paths
// are distinct fields of one flattened pattern.
func (n *objNode) addObject(name string, sub *objNode) {
	f := n.field(name)
	if f.obj == nil {
		f.obj = sub
		return
	}
	for _, sf := range sub.fields {
		if sf.obj != nil {
			f.obj.addObject(sf.name, sf.obj)
		}
		if sf.leaf != nil {
			f.obj.field(sf.name).leaf = sf.leaf
		}
	}
	f.obj.ors = append(f.obj.ors, sub.ors...)
}

func compileOr(v *jval) ([]*objNode, error) {
	if v.kind != jArray {
		return nil, fail("It must be an Array followed with $or.")
	}
	var alts []*objNode
	for _, e := range v.elems {
		if e.kind != jObject {
			return nil, fail("Only JSON object is allowed in array of $or relationship.")
		}
		alt, err := compileObject(e, true)
		if err != nil {
			return nil, err
		}
		alts = append(alts, alt)
	}
	if len(alts) < 2 {
		return nil, fail("There must have at least 2 Objects in $or relationship.")
	}
	return alts, nil
}

func compileLeaf(v *jval) (*leafNode, error) {
	if len(v.elems) == 0 {
		return nil, fail("Empty arrays are not allowed")
	}
	l := &leafNode{}
	for _, e := range v.elems {
		switch e.kind {
		case jObject:
			m, err := compileExpression(e)
			if err != nil {
				return nil, err
			}
			if m.kind == mAbsent {
				l.absentOK = true
				continue
			}
			l.ms = append(l.ms, m)
		case jString:
			m := matcher{kind: mExactString, s: e.text}
			if ip, ok := parseIP(e.text); ok {
				m.ip, m.isIP = ip, true
			}
			l.ms = append(l.ms, m)
		case jNumber:
			f, ok := comparable(e.text)
			l.ms = append(l.ms, matcher{kind: mExactNumber, s: e.text, lo: f, isNum: ok})
		case jBool:
			l.ms = append(l.ms, matcher{kind: mExactBool, b: e.b})
		case jNull:
			l.ms = append(l.ms, matcher{kind: mNull})
		default:
			return nil, fail("Match value must be String, number, true, false, or null")
		}
	}
	return l, nil
}

// The documented range of numeric matching.
const maxNumeric = 5.0e9

var errRange = fail("Value must be between -5.0E9 and 5.0E9, inclusive")

// comparable parses a JSON number for numeric matching: only finite numbers
// within the documented range take part in it.
func comparable(text string) (float64, bool) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || f < -maxNumeric || f > maxNumeric {
		return 0, false
	}
	return f, true
}

// compileExpression compiles one {"operator": ...} object of a list.
func compileExpression(e *jval) (matcher, error) {
	if len(e.keys) == 0 {
		return matcher{}, fail("Match expression name not found")
	}
	op, arg := e.keys[0], e.elems[0]
	oneKey := func(m matcher) (matcher, error) {
		if len(e.keys) > 1 {
			return matcher{}, fail("Only one key allowed in match expression")
		}
		return m, nil
	}
	switch op {
	case "exactly":
		if arg.kind != jString {
			return matcher{}, fail("exact match pattern must be a string")
		}
		return oneKey(matcher{kind: mExactString, s: arg.text})
	case "prefix", "suffix":
		kind, foldKind := mPrefix, mPrefixFold
		if op == "suffix" {
			kind, foldKind = mSuffix, mSuffixFold
		}
		if arg.kind == jObject {
			s, err := foldOperand(arg, op)
			if err != nil {
				return matcher{}, err
			}
			return oneKey(matcher{kind: foldKind, s: s})
		}
		if arg.kind != jString {
			return matcher{}, fail(op + " match pattern must be a string")
		}
		return oneKey(matcher{kind: kind, s: arg.text})
	case "equals-ignore-case":
		if arg.kind != jString {
			return matcher{}, fail("equals-ignore-case match pattern must be a string")
		}
		return oneKey(matcher{kind: mEqualsFold, s: arg.text})
	case "wildcard":
		if arg.kind != jString {
			return matcher{}, fail("wildcard match pattern must be a string")
		}
		wc, err := compileWildcard(arg.text)
		if err != nil {
			return matcher{}, err
		}
		return oneKey(matcher{kind: mWildcard, wc: []wildcard{wc}})
	case "numeric":
		if arg.kind != jArray {
			return matcher{}, fail("Value of numeric must be an array.")
		}
		m, err := compileNumeric(arg.elems)
		if err != nil {
			return matcher{}, err
		}
		if len(e.keys) > 1 {
			return matcher{}, fail("Too many elements in numeric expression")
		}
		return m, nil
	case "anything-but":
		m, err := compileAnythingBut(arg)
		if err != nil {
			return matcher{}, err
		}
		// EventBridge words an extra key here as it does for numeric.
		if len(e.keys) > 1 {
			return matcher{}, fail("Too many elements in numeric expression")
		}
		return m, nil
	case "exists":
		if arg.kind != jBool {
			return matcher{}, fail("exists match pattern must be either true or false.")
		}
		kind := mExists
		if !arg.b {
			kind = mAbsent
		}
		return oneKey(matcher{kind: kind})
	case "cidr":
		if arg.kind != jString {
			// EventBridge's own wording for a cidr that is not a string.
			return matcher{}, fail("prefix match pattern must be a string")
		}
		p, err := parseCIDR(arg.text)
		if err != nil {
			return matcher{}, err
		}
		return oneKey(matcher{kind: mCIDR, prefix: p})
	}
	return matcher{}, fail("Unrecognized match type " + op)
}

// foldOperand reads {"equals-ignore-case": "..."} under prefix or suffix.
func foldOperand(arg *jval, op string) (string, error) {
	name := "Prefix"
	if op == "suffix" {
		name = "Suffix"
	}
	if len(arg.keys) == 0 {
		return "", fail(name + " expression name not found")
	}
	if arg.keys[0] != "equals-ignore-case" {
		return "", fail("Unsupported " + op + " pattern: " + arg.keys[0])
	}
	if arg.elems[0].kind != jString {
		return "", fail("equals-ignore-case match pattern must be a string")
	}
	if len(arg.keys) > 1 {
		return "", fail("Only one key allowed in match expression")
	}
	return arg.elems[0].text, nil
}

func compileNumeric(el []*jval) (matcher, error) {
	m := matcher{kind: mNumeric, lo: math.Inf(-1), hi: math.Inf(1)}
	if len(el) == 0 || el[0].kind != jString {
		text := "]"
		if len(el) > 0 {
			text = el[0].tokenText()
		}
		return matcher{}, fail("Invalid member in numeric match: " + text)
	}
	op := el[0].text
	operand := func(i int, name string) (float64, error) {
		if i >= len(el) || el[i].kind != jNumber {
			return 0, fail("Value of " + name + " must be numeric")
		}
		f, ok := comparable(el[i].text)
		if !ok {
			return 0, errRange
		}
		return f, nil
	}
	switch op {
	case "=":
		f, err := operand(1, "equals")
		if err != nil {
			return matcher{}, err
		}
		if len(el) > 2 {
			return matcher{}, fail("Too many elements in numeric expression")
		}
		m.lo, m.hi = f, f
		return m, nil
	case "<", "<=":
		f, err := operand(1, op)
		if err != nil {
			return matcher{}, err
		}
		if len(el) > 2 {
			return matcher{}, fail("Too many elements in numeric expression")
		}
		m.hi, m.hiOpen = f, op == "<"
		return m, nil
	case ">", ">=":
		f, err := operand(1, op)
		if err != nil {
			return matcher{}, err
		}
		m.lo, m.loOpen = f, op == ">"
		if len(el) == 2 {
			return m, nil
		}
		if el[2].kind != jString {
			return matcher{}, fail("Bad value in numeric range: " + el[2].tokenText())
		}
		top := el[2].text
		if top != "<" && top != "<=" {
			return matcher{}, fail("Bad numeric range operator: " + top)
		}
		g, err := operand(3, top)
		if err != nil {
			return matcher{}, err
		}
		if len(el) > 4 {
			return matcher{}, fail("Too many terms in numeric range expression")
		}
		if m.lo >= g {
			return matcher{}, fail("Bottom must be less than top")
		}
		m.hi, m.hiOpen = g, top == "<"
		return m, nil
	}
	return matcher{}, fail("Unrecognized numeric range operator: " + op)
}

func compileAnythingBut(arg *jval) (matcher, error) {
	if arg.kind == jObject {
		if len(arg.keys) == 0 {
			return matcher{}, fail("Anything-But expression name not found")
		}
		var kind mkind
		switch arg.keys[0] {
		case "equals-ignore-case":
			kind = mButFold
		case "prefix":
			kind = mButPrefix
		case "suffix":
			kind = mButSuffix
		case "wildcard":
			kind = mButWildcard
		default:
			return matcher{}, fail("Unsupported anything-but pattern: " + arg.keys[0])
		}
		m, err := compileButSet(kind, arg.elems[0])
		if err != nil {
			return matcher{}, err
		}
		if len(arg.keys) > 1 {
			return matcher{}, fail("Too many elements in numeric expression")
		}
		return m, nil
	}
	switch arg.kind {
	case jString:
		return matcher{kind: mButStrings, strs: []string{arg.text}}, nil
	case jNumber:
		f, ok := comparable(arg.text)
		if !ok {
			return matcher{}, errRange
		}
		return matcher{kind: mButNumbers, nums: []float64{f}}, nil
	case jArray:
		var m matcher
		hasString, hasNumber := false, false
		for _, e := range arg.elems {
			switch e.kind {
			case jString:
				hasString = true
				m.strs = append(m.strs, e.text)
			case jNumber:
				hasNumber = true
				f, ok := comparable(e.text)
				if !ok {
					return matcher{}, errRange
				}
				m.nums = append(m.nums, f)
			default:
				return matcher{}, fail("Inside anything but list, start|null|boolean is not supported.")
			}
		}
		if hasString == hasNumber {
			return matcher{}, fail("Inside anything but list, either all values are number or string, mixed type is not supported")
		}
		m.kind = mButStrings
		if hasNumber {
			m.kind = mButNumbers
		}
		return m, nil
	}
	return matcher{}, fail("Value of anything-but must be an array or single string/number value.")
}

// compileButSet compiles the operand of anything-but's equals-ignore-case,
// prefix, suffix or wildcard: a string or a list of strings.
func compileButSet(kind mkind, v *jval) (matcher, error) {
	var vals []*jval
	switch v.kind {
	case jString:
		vals = []*jval{v}
	case jArray:
		vals = v.elems
	case jNumber:
		vals = []*jval{v} // reported below as not a string
	default:
		return matcher{}, fail("Value of anything-but must be an array or single string/number value.")
	}
	m := matcher{kind: kind}
	for _, e := range vals {
		if e.kind != jString {
			switch kind {
			case mButFold:
				return matcher{}, fail("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")
			case mButWildcard:
				return matcher{}, fail("wildcard match pattern must be a string")
			default:
				return matcher{}, fail("prefix/suffix match pattern must be a string")
			}
		}
		if (kind == mButPrefix || kind == mButSuffix) && e.text == "" {
			return matcher{}, fail("Null prefix/suffix not allowed")
		}
		if kind == mButWildcard {
			wc, err := compileWildcard(e.text)
			if err != nil {
				return matcher{}, err
			}
			m.wc = append(m.wc, wc)
			continue
		}
		m.strs = append(m.strs, e.text)
	}
	return m, nil
}

// wildcard is a compiled wildcard value: literal parts between unescaped
// '*'. With no star it is one part that must equal the value.
type wildcard struct {
	parts []string
	star  bool
}

// compileWildcard splits a wildcard value at its stars. Positions in the
// messages count from 1, as EventBridge counts them.
func compileWildcard(s string) (wildcard, error) {
	var wc wildcard
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				return wildcard{}, fail("Consecutive wildcard characters at pos " + strconv.Itoa(i+1))
			}
			wc.parts = append(wc.parts, cur.String())
			cur.Reset()
			wc.star = true
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\') {
				cur.WriteByte(s[i+1])
				i++
				continue
			}
			return wildcard{}, fail("Invalid escape character at pos " + strconv.Itoa(i+1))
		default:
			cur.WriteByte(s[i])
		}
	}
	wc.parts = append(wc.parts, cur.String())
	return wc, nil
}

// parseIP reads an IPv4 or IPv6 address literal; IPv4-mapped IPv6
// addresses are IPv4 addresses, and zones or other spellings are not
// addresses.
func parseIP(s string) (netip.Addr, bool) {
	if !looksLikeIP(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// looksLikeIP tells an address literal (digits and dots, or hex digits and
// colons) from other text before parsing it.
func looksLikeIP(s string) bool {
	if s == "" || len(s) > 45 {
		return false
	}
	v4, v6 := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		isHex := isDigit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
		if !isDigit && c != '.' {
			v4 = false
		}
		if !isHex && c != ':' {
			v6 = false
		}
	}
	return (v4 && strings.Count(s, ".") == 3) || (v6 && strings.Contains(s, ":"))
}

func parseCIDR(s string) (netip.Prefix, error) {
	parts := strings.Split(s, "/")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1] // a trailing "/" counts as none
	}
	if len(parts) != 2 {
		return netip.Prefix{}, fail("Malformed CIDR, one '/' required")
	}
	bits, err := strconv.Atoi(parts[1])
	if err != nil {
		return netip.Prefix{}, fail("Malformed CIDR, mask bits must be an integer")
	}
	if bits < 0 {
		return netip.Prefix{}, fail("Malformed CIDR, mask bits must not be negative")
	}
	if !looksLikeIP(parts[0]) {
		return netip.Prefix{}, fail("Nonstandard IP address: " + parts[0])
	}
	addr, ok := parseIP(parts[0])
	if !ok {
		return netip.Prefix{}, fail("Invalid IP address: " + parts[0])
	}
	if addr.Is4() && bits > 31 {
		return netip.Prefix{}, fail("IPv4 mask bits must be < 32")
	}
	if addr.Is6() && bits > 127 {
		return netip.Prefix{}, fail("IPv6 mask bits must be < 128")
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
}
