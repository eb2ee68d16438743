package secrets

import (
	"strings"
	"unicode/utf8"

	"github.com/ecrd/ecrd/internal/awserr"
)

// Secrets Manager's limits.
const (
	maxNameLength        = 512
	maxSecretIDLength    = 2048
	maxDescriptionLength = 2048
	maxValueBytes        = 65536
	maxPolicyLength      = 20480
	maxTags              = 50
	maxVersions          = 100
	maxStagesPerVersion  = 20
	minTokenLength       = 32
	maxTokenLength       = 64
)

// validation collects the model's constraint violations in Coral's
// wording: "1 validation error detected: Value ... at '...' failed to
// satisfy constraint: ...".
type validation []string

func (v *validation) add(value, member, constraint string) {
	*v = append(*v, "Value "+value+" at '"+member+"' failed to satisfy constraint: "+constraint)
}

func (v *validation) length(s, member string, lo, hi int) {
	n := utf8.RuneCountInString(s)
	if n < lo {
		v.add("'"+s+"'", member, "Member must have length greater than or equal to "+itoa(lo))
	} else if n > hi {
		v.add("'"+s+"'", member, "Member must have length less than or equal to "+itoa(hi))
	}
}

func (v validation) err() error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return awserr.Errorf(CodeValidation, "1 validation error detected: %s", v[0])
	}
	return awserr.Errorf(CodeValidation, "%d validation errors detected: %s", len(v), strings.Join(v, "; "))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// validName reports whether a secret name has only the characters
// Secrets Manager allows: ASCII letters and digits and /_+=.@-.
func validName(name string) bool {
	if name == "" || len(name) > maxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("/_+=.@-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func checkName(name string) error {
	var v validation
	v.length(name, "name", 1, maxNameLength)
	if err := v.err(); err != nil {
		return err
	}
	if !validName(name) {
		return awserr.Errorf(CodeInvalidParameter, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	return nil
}

func checkSecretID(id string) error {
	var v validation
	v.length(id, "secretId", 1, maxSecretIDLength)
	return v.err()
}

func checkToken(token *string, member string, v *validation) {
	if token != nil {
		v.length(*token, member, minTokenLength, maxTokenLength)
	}
}

func checkTags(tags []Tag, v *validation) error {
	for i, t := range tags {
		v.length(t.Key, "tags."+itoa(i+1)+".member.key", 1, 128)
		v.length(t.Value, "tags."+itoa(i+1)+".member.value", 0, 256)
	}
	if err := v.err(); err != nil {
		return err
	}
	if len(tags) > maxTags {
		return awserr.Errorf(CodeInvalidParameter, "Number of tags exceeds the limit of %d tags per secret.", maxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return awserr.Errorf(CodeInvalidParameter, "You can't specify duplicate tag keys: %s.", t.Key)
		}
		seen[t.Key] = true
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return awserr.Errorf(CodeInvalidParameter, "Invalid tag key. The aws: prefix is reserved for AWS use.")
		}
	}
	return nil
}

// Value is a secret value a request gives: a string or binary data.
type Value struct {
	String *string
	Binary []byte
}

func (v Value) given() bool { return v.String != nil || v.Binary != nil }

func (v Value) bytes() []byte {
	if v.String != nil {
		return []byte(*v.String)
	}
	return v.Binary
}

func checkValue(val Value, v *validation) error {
	if val.String != nil && len(*val.String) > maxValueBytes {
		v.add("***", "secretString", "Member must have length less than or equal to 65536")
	}
	if len(val.Binary) > maxValueBytes {
		v.add("***", "secretBinary", "Member must have length less than or equal to 65536")
	}
	if err := v.err(); err != nil {
		return err
	}
	if val.String != nil && val.Binary != nil {
		return awserr.Errorf(CodeInvalidParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	return nil
}
