package events

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
)

// checks collects a request's model constraint failures, answered
// together as EventBridge does: "2 validation errors detected: Value 'x'
// at 'name' failed to satisfy constraint: ...; Value ...".
type checks struct{ msgs []string }

// fail records a failure of member (the model's camelCase path); a nil
// value (a secret) is not echoed.
func (c *checks) fail(value *string, member, constraint string) {
	msg := "Value "
	if value != nil {
		msg += "'" + *value + "' "
	}
	c.msgs = append(c.msgs, msg+"at '"+member+"' failed to satisfy constraint: "+constraint)
}

func (c *checks) length(value, member string, min, max int) {
	c.lengthOf(&value, len([]rune(value)), member, min, max)
}

// secret checks a secret's length without echoing it.
func (c *checks) secret(value, member string, min, max int) {
	c.lengthOf(nil, len([]rune(value)), member, min, max)
}

func (c *checks) lengthOf(value *string, n int, member string, min, max int) {
	switch {
	case n < min:
		c.fail(value, member, "Member must have length greater than or equal to "+strconv.Itoa(min))
	case n > max:
		c.fail(value, member, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

func (c *checks) number(value int, member string, min, max int) {
	s := strconv.Itoa(value)
	switch {
	case value < min:
		c.fail(&s, member, "Member must have value greater than or equal to "+strconv.Itoa(min))
	case value > max:
		c.fail(&s, member, "Member must have value less than or equal to "+strconv.Itoa(max))
	}
}

func (c *checks) enum(value, member string, allowed ...string) {
	for _, a := range allowed {
		if a == value {
			return
		}
	}
	c.fail(&value, member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

func (c *checks) pattern(value, member string, re *regexp.Regexp) {
	if !re.MatchString(value) {
		c.fail(&value, member, "Member must satisfy regular expression pattern: "+strings.TrimSuffix(strings.TrimPrefix(re.String(), "^(?:"), ")$"))
	}
}

func (c *checks) err() error {
	switch len(c.msgs) {
	case 0:
		return nil
	case 1:
		return validation(c.msgs[0])
	}
	return awserr.Errorf(CodeValidation, "%d validation errors detected: %s", len(c.msgs), strings.Join(c.msgs, "; "))
}

func validation(msg string) error {
	return awserr.Errorf(CodeValidation, "1 validation error detected: %s", msg)
}

// whole anchors a model pattern, which must match a whole value.
func whole(p string) *regexp.Regexp { return regexp.MustCompile("^(?:" + p + ")$") }

// The model's patterns.
var (
	namePattern     = whole(`[\.\-_A-Za-z0-9]+`)
	targetIDPattern = whole(`[\.\-_A-Za-z0-9]+`)
	pathKeyPattern  = whole(`[A-Za-z0-9\_\-]+`)
	endpointPattern = whole(`((%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@\x26=+$,A-Za-z0-9])+)([).!';/?:,])?`)
)

// Lengths and counts from the model and EventBridge's quotas.
const (
	maxNameLength        = 64
	maxDescriptionLength = 512
	maxPatternLength     = 4096
	maxTags              = 50
	maxRulesPerBus       = 300
	maxTargetsPerRule    = 5
	maxConnections       = 3000
	maxAPIDestinations   = 3000
	defaultRateLimit     = 300
	defaultMaxAttempts   = 185
	defaultMaxAgeSeconds = 86400
)

func limitExceeded() error {
	return awserr.Errorf(CodeLimitExceeded, "The requested resource exceeds the maximum number allowed.")
}

func (c *checks) name(value, member string) {
	c.length(value, member, 1, maxNameLength)
	if value != "" {
		c.pattern(value, member, namePattern)
	}
}

func (c *checks) tags(tags []Tag, member string) {
	if len(tags) > maxTags {
		c.fail(nil, member, "Member must have length less than or equal to "+strconv.Itoa(maxTags))
	}
	for i, t := range tags {
		c.length(t.Key, fmt.Sprintf("%s.%d.member.key", member, i+1), 1, 128)
		c.length(t.Value, fmt.Sprintf("%s.%d.member.value", member, i+1), 0, 256)
	}
}

func encodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ecrd:" + last))
}

func decodeToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), "ecrd:")
}
