// Package eventpattern compiles and matches EventBridge event patterns.
//
// This is a minimal implementation of the package's API: a pattern is a
// JSON object whose leaves are arrays of exact values (strings, numbers,
// booleans, null), nested objects match nested fields, and an array in
// the event matches when any of its elements does. Content filters
// (prefix, anything-but, numeric, ...) are accepted and match nothing.
package eventpattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Error is a pattern that is not valid, with EventBridge's wording.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "Event pattern is not valid. Reason: " + e.Reason }

// Pattern is a compiled event pattern.
type Pattern struct {
	root map[string]any
}

// Decode reads a JSON object, numbers kept as json.Number.
func Decode(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON object")
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// Compile checks a pattern's text and compiles it.
func Compile(pattern string) (*Pattern, error) {
	m, err := Decode([]byte(pattern))
	if err != nil {
		return nil, &Error{Reason: "Filter is not an object"}
	}
	if err := check(m); err != nil {
		return nil, err
	}
	return &Pattern{root: m}, nil
}

func check(m map[string]any) error {
	for _, v := range m {
		switch v := v.(type) {
		case map[string]any:
			if err := check(v); err != nil {
				return err
			}
		case []any:
			for _, x := range v {
				if _, ok := x.([]any); ok {
					return &Error{Reason: "Match value must be String, number, true, false, or null"}
				}
			}
		default:
			return &Error{Reason: "Match value must be String, number, true, false, or null"}
		}
	}
	return nil
}

// Match reports whether an event (a JSON object) matches.
func (p *Pattern) Match(event []byte) (bool, error) {
	m, err := Decode(event)
	if err != nil {
		return false, err
	}
	return p.MatchValue(m), nil
}

// MatchValue reports whether a decoded event matches.
func (p *Pattern) MatchValue(event map[string]any) bool {
	return matchObject(p.root, event)
}

func matchObject(pat, ev map[string]any) bool {
	for k, pv := range pat {
		v, ok := ev[k]
		if !ok {
			return false
		}
		switch pv := pv.(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !ok || !matchObject(pv, sub) {
				return false
			}
		case []any:
			if !matchLeaf(pv, v) {
				return false
			}
		}
	}
	return true
}

func matchLeaf(allowed []any, v any) bool {
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if matchLeaf(allowed, x) {
				return true
			}
		}
		return false
	}
	for _, a := range allowed {
		if fmt.Sprint(a) == fmt.Sprint(v) && sameKind(a, v) {
			return true
		}
	}
	return false
}

func sameKind(a, b any) bool {
	switch a.(type) {
	case string:
		_, ok := b.(string)
		return ok
	case json.Number:
		_, ok := b.(json.Number)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	case nil:
		return b == nil
	}
	return false
}
