package eventpattern

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// Error is a pattern that does not compile. Its Reason is worded as
// EventBridge words the reason of an InvalidEventPatternException.
type Error struct{ Reason string }

func (e *Error) Error() string { return "Event pattern is not valid. Reason: " + e.Reason }

func fail(reason string) error { return &Error{Reason: reason} }

// ErrEventNotObject is returned by Match and Decode for an event that is
// not one JSON object.
var ErrEventNotObject = errors.New("event is not a JSON object")

// Pattern is a compiled event pattern. It is immutable, so one Pattern may
// match events from many goroutines at once.
type Pattern struct{ root *objNode }

// Compile parses and validates a pattern (a JSON object).
func Compile(pattern string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(pattern))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fail(syn.Error())
		}
		return nil, fail("Filter is not an object")
	}
	tree, err := parseObjectBody(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail("Unexpected content after the event pattern's closing '}'")
	}
	root, err := compileObject(tree, false)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// Decode decodes an event for MatchValue: a JSON object whose numbers stay
// json.Number, so that they are compared as written.
func Decode(event []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(event)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, ErrEventNotObject
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ErrEventNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrEventNotObject
	}
	return m, nil
}

// Match reports whether the event (a JSON object) matches. The error is
// ErrEventNotObject, for an event that is not a JSON object.
func (p *Pattern) Match(event []byte) (bool, error) {
	m, err := Decode(event)
	if err != nil {
		return false, err
	}
	return p.MatchValue(m), nil
}

// MatchValue is Match for an event decoded by Decode (or by encoding/json
// with UseNumber; float64 numbers are accepted too).
func (p *Pattern) MatchValue(event map[string]any) bool {
	if p == nil || p.root == nil {
		return false
	}
	return p.root.matchFields(event)
}

// jval is a JSON value of the pattern with its object keys in order, so
// that validation reports the first fault in the text, as EventBridge does.
type jval struct {
	kind  jkind
	text  string // a string's value, a number's text
	b     bool
	keys  []string
	elems []*jval // an object's values (beside keys) or an array's elements
}

type jkind uint8

const (
	jObject jkind = iota
	jArray
	jString
	jNumber
	jBool
	jNull
)

// tokenText is how the pattern language's messages quote a value: the
// text of a scalar, or the bracket that opens a container.
func (v *jval) tokenText() string {
	switch v.kind {
	case jObject:
		return "{"
	case jArray:
		return "["
	case jBool:
		if v.b {
			return "true"
		}
		return "false"
	case jNull:
		return "null"
	}
	return v.text
}

func syntaxErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fail("Unexpected end-of-input")
	}
	return fail(err.Error())
}

func parseValue(dec *json.Decoder) (*jval, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxErr(err)
	}
	return valueFromToken(dec, tok)
}

func valueFromToken(dec *json.Decoder, tok json.Token) (*jval, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return parseObjectBody(dec)
		case '[':
			arr := &jval{kind: jArray}
			for {
				tok, err := dec.Token()
				if err != nil {
					return nil, syntaxErr(err)
				}
				if tok == json.Delim(']') {
					return arr, nil
				}
				e, err := valueFromToken(dec, tok)
				if err != nil {
					return nil, err
				}
				arr.elems = append(arr.elems, e)
			}
		}
		return nil, fail("Unexpected close marker '" + t.String() + "'")
	case string:
		return &jval{kind: jString, text: t}, nil
	case json.Number:
		return &jval{kind: jNumber, text: string(t)}, nil
	case bool:
		return &jval{kind: jBool, b: t}, nil
	case nil:
		return &jval{kind: jNull}, nil
	}
	return nil, fail("Unexpected token")
}

// parseObjectBody reads an object whose '{' was read.
func parseObjectBody(dec *json.Decoder) (*jval, error) {
	obj := &jval{kind: jObject}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxErr(err)
		}
		if tok == json.Delim('}') {
			return obj, nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fail("Unexpected token in an object")
		}
		v, err := parseValue(dec)
		if err != nil {
			return nil, err
		}
		obj.keys = append(obj.keys, key)
		obj.elems = append(obj.elems, v)
	}
}
