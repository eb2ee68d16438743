package iampolicy

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// node is a decoded JSON value that keeps object keys in order and lets
// the parser reject duplicate keys, which encoding/json would silently
// resolve to the last one.
type node struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	str  string
	b    bool
	keys []string // object keys, parallel to elems
	elem []*node  // object values or array elements
}

// maxDepth bounds nesting; a valid policy needs five levels.
const maxDepth = 16

var errSyntax = errors.New("syntax")

func decodeJSON(doc string) (*node, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	n, err := decodeNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errSyntax // trailing data
	}
	return n, nil
}

func decodeNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errSyntax
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, errSyntax
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, errSyntax
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errSyntax
				}
				for _, seen := range n.keys {
					if seen == k {
						return nil, errSyntax
					}
				}
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.elem = append(n.elem, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, errSyntax
			}
			return n, nil
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elem = append(n.elem, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, errSyntax
			}
			return n, nil
		}
		return nil, errSyntax
	case string:
		return &node{kind: 's', str: t}, nil
	case json.Number:
		return &node{kind: 'n', str: t.String()}, nil
	case bool:
		return &node{kind: 'b', b: t}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, errSyntax
}

// get returns the value of key in an object, or nil.
func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.elem[i]
		}
	}
	return nil
}

// strings reads a string-or-array-of-strings element.
func (n *node) strings() ([]string, bool) {
	switch n.kind {
	case 's':
		return []string{n.str}, true
	case 'a':
		out := make([]string, 0, len(n.elem))
		for _, e := range n.elem {
			if e.kind != 's' {
				return nil, false
			}
			out = append(out, e.str)
		}
		return out, true
	}
	return nil, false
}

// scalars reads a condition value: a string, bool or number, or an array
// of them, each as its text.
func (n *node) scalars() ([]string, bool) {
	scalar := func(e *node) (string, bool) {
		switch e.kind {
		case 's', 'n':
			return e.str, true
		case 'b':
			if e.b {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if n.kind == 'a' {
		out := make([]string, 0, len(n.elem))
		for _, e := range n.elem {
			s, ok := scalar(e)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	s, ok := scalar(n)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}
