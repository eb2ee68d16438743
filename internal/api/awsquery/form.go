package awsquery

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/identity"
)

// Form is a request's parameters. A list is name.member.1, name.member.2
// ... up to the first gap; a member of a structure is name.member.N.Field.
// Errors are what IAM and STS answer, in the words of AWS's validation
// (members named with a lower-case first letter).
type Form struct{ url.Values }

// Required returns a parameter that must be present (and not empty).
func (f Form) Required(name string) (string, error) {
	v := f.Get(name)
	if v == "" {
		return "", validation("Value null at '" + lowerFirst(name) + "' failed to satisfy constraint: Member must not be null")
	}
	return v, nil
}

// Int reads an optional integer parameter: 0 and false when it is absent.
func (f Form) Int(name string) (int, bool, error) {
	s := f.Get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, validation("Value '" + s + "' at '" + lowerFirst(name) + "' failed to satisfy constraint: Member must be an integer")
	}
	return n, true, nil
}

// Members returns the values of list parameter name, in order.
func (f Form) Members(name string) []string { return f.MemberFields(name, "") }

// MemberFields returns one field of each member of a list of structures
// (name.member.N.field), in order; field "" reads a list of values.
func (f Form) MemberFields(name, field string) []string {
	if field != "" {
		field = "." + field
	}
	var out []string
	for i := 1; ; i++ {
		v, ok := f.Values[name+".member."+strconv.Itoa(i)+field]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// Tags reads a list of tags (name.member.N.Key and .Value).
func (f Form) Tags(name string) []identity.Tag {
	keys := f.MemberFields(name, "Key")
	if keys == nil {
		return nil
	}
	out := make([]identity.Tag, len(keys))
	for i, k := range keys {
		out[i] = identity.Tag{Key: k, Value: f.Get(name + ".member." + strconv.Itoa(i+1) + ".Value")}
	}
	return out
}

func validation(msg string) error {
	return &awserr.Error{Code: identity.CodeValidation, Message: "1 validation error detected: " + msg}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
