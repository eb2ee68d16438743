package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Predefined input transformer variables.
const (
	varRuleARN       = "aws.events.rule-arn"
	varRuleName      = "aws.events.rule-name"
	varIngestionTime = "aws.events.event.ingestion-time"
	varEvent         = "aws.events.event"
	varEventJSON     = "aws.events.event.json"
)

// Payload is what t receives for ev: the event's envelope, t's constant
// Input, the part of the event its InputPath selects, or its input
// template filled in with the values its InputPathsMap selects.
func Payload(rule Rule, t Target, ev metadata.Event) ([]byte, error) {
	switch {
	case t.Input != nil:
		return []byte(*t.Input), nil
	case t.InputPath != "":
		doc, err := decodeEvent(ev.Document)
		if err != nil {
			return nil, err
		}
		path, err := ParsePath(t.InputPath)
		if err != nil {
			return nil, err
		}
		v, ok := path.Eval(doc)
		if !ok {
			return []byte("null"), nil
		}
		return marshal(v), nil
	case t.InputTemplate != "":
		vars, err := transformerVars(rule, t, ev)
		if err != nil {
			return nil, err
		}
		return []byte(Fill(t.InputTemplate, vars)), nil
	}
	return ev.Document, nil
}

func decodeEvent(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber() // numbers pass through as they were written
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("the event is not JSON: %w", err)
	}
	return v, nil
}

// absent is the value of a variable whose path selected nothing.
type absent struct{}

// transformerVars are the template's variables: InputPathsMap's (absent{}
// for those whose path selects nothing) and the predefined ones.
func transformerVars(rule Rule, t Target, ev metadata.Event) (map[string]any, error) {
	doc, err := decodeEvent(ev.Document)
	if err != nil {
		return nil, err
	}
	vars := map[string]any{}
	for name, p := range t.InputPathsMap {
		path, err := ParsePath(p)
		if err != nil {
			return nil, fmt.Errorf("input path %q of %q: %w", p, name, err)
		}
		v, ok := path.Eval(doc)
		if !ok {
			v = absent{}
		}
		vars[name] = v
	}
	vars[varRuleARN] = rule.ARN
	vars[varRuleName] = RuleName(rule.ARN)
	vars[varIngestionTime] = ev.Time.UTC().Format(time.RFC3339)
	vars[varEventJSON] = doc
	if m, ok := doc.(map[string]any); ok {
		noDetail := make(map[string]any, len(m))
		for k, v := range m {
			if k != "detail" {
				noDetail[k] = v
			}
		}
		vars[varEvent] = noDetail
	}
	return vars, nil
}

// RuleName is the name in a rule's ARN (after "rule/", with its event
// bus's name before it when the bus is not the default).
func RuleName(arn string) string {
	if _, after, ok := strings.Cut(arn, ":rule/"); ok {
		return after
	}
	return arn
}

// Fill substitutes each <name> of a template that names a variable,
// as EventBridge's input transformer does: outside a JSON string a value
// is written as JSON (a string quoted); inside one, a string is written
// as it is, unescaped, and an object or array as JSON without its quotes.
// A variable whose path selected nothing is null outside a string and
// nothing inside one.
func Fill(template string, vars map[string]any) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(template); i++ {
		c := template[i]
		switch {
		case inString && c == '\\' && i+1 < len(template):
			b.WriteByte(c)
			i++
			b.WriteByte(template[i])
			continue
		case c == '"':
			inString = !inString
		case c == '<':
			end := strings.IndexByte(template[i+1:], '>')
			if end > 0 {
				name := template[i+1 : i+1+end]
				if v, ok := vars[name]; ok {
					_, missing := v.(absent)
					b.WriteString(render(v, !missing, inString))
					i += end + 1
					continue
				}
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func render(v any, found, inString bool) string {
	if !inString {
		if !found {
			return "null"
		}
		return string(marshal(v))
	}
	if !found {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case map[string]any, []any:
		return strings.ReplaceAll(string(marshal(v)), `"`, "")
	}
	return string(marshal(v))
}

// marshal writes v as compact JSON, without HTML escaping.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Path is a parsed JSONPath of the kind EventBridge accepts: $ then
// .name, ['name'], [index], [*] or .* steps.
type Path struct {
	steps []step
}

type step struct {
	name  string
	index int
	kind  byte // 'n' name, 'i' index, '*' wildcard
}

// ParsePath parses a JSONPath.
func ParsePath(s string) (Path, error) {
	if !strings.HasPrefix(s, "$") {
		return Path{}, fmt.Errorf("a JSON path starts with $")
	}
	var p Path
	rest := s[1:]
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, ".*"):
			p.steps = append(p.steps, step{kind: '*'})
			rest = rest[2:]
		case rest[0] == '.':
			n := strings.IndexAny(rest[1:], ".[")
			if n < 0 {
				n = len(rest) - 1
			}
			name := rest[1 : 1+n]
			if name == "" {
				return Path{}, fmt.Errorf("an empty name in the JSON path %q", s)
			}
			p.steps = append(p.steps, step{kind: 'n', name: name})
			rest = rest[1+n:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return Path{}, fmt.Errorf("an unclosed [ in the JSON path %q", s)
			}
			in := rest[1:end]
			switch {
			case in == "*":
				p.steps = append(p.steps, step{kind: '*'})
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				p.steps = append(p.steps, step{kind: 'n', name: in[1 : len(in)-1]})
			default:
				i, err := strconv.Atoi(in)
				if err != nil || i < 0 {
					return Path{}, fmt.Errorf("%q is not an array index in the JSON path %q", in, s)
				}
				p.steps = append(p.steps, step{kind: 'i', index: i})
			}
			rest = rest[end+1:]
		default:
			return Path{}, fmt.Errorf("unexpected %q in the JSON path %q", rest[0], s)
		}
	}
	return p, nil
}

// Eval returns what the path selects in v: one value, or the list of
// values a wildcard selects; ok is false when it selects nothing.
func (p Path) Eval(v any) (any, bool) {
	vals, wild := []any{v}, false
	for _, s := range p.steps {
		var next []any
		for _, v := range vals {
			switch s.kind {
			case 'n':
				if m, ok := v.(map[string]any); ok {
					if x, ok := m[s.name]; ok {
						next = append(next, x)
					}
				}
			case 'i':
				if a, ok := v.([]any); ok && s.index < len(a) {
					next = append(next, a[s.index])
				}
			case '*':
				wild = true
				switch v := v.(type) {
				case []any:
					next = append(next, v...)
				case map[string]any:
					for _, k := range sortedKeys(v) {
						next = append(next, v[k])
					}
				}
			}
		}
		vals = next
	}
	switch {
	case wild:
		if len(vals) == 0 {
			return nil, false
		}
		return vals, true
	case len(vals) == 1:
		return vals[0], true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}
