package ecr

import (
	"strings"
	"testing"
)

// TestDeadLetterShapes: ecrd's dead-letter operations check their input
// as ECR's operations do, with ECR's wording.
func TestDeadLetterShapes(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	ids := func(k int) []string { return strings.Split(strings.Repeat("us-east-1/r/1/t,", k)[:16*k-1], ",") }
	for _, c := range []struct {
		in     interface{ validate() error }
		member string // "" when valid
	}{
		{&ListDeadLettersInput{}, ""},
		{&ListDeadLettersInput{MaxResults: n(100)}, ""},
		{&ListDeadLettersInput{MaxResults: n(0)}, "maxResults"},
		{&ListDeadLettersInput{MaxResults: n(101)}, "maxResults"},
		{&RedriveDeadLettersInput{DeadLetterIds: ids(100)}, ""},
		{&RedriveDeadLettersInput{}, "deadLetterIds"},
		{&RedriveDeadLettersInput{DeadLetterIds: []string{}}, "deadLetterIds"},
		{&RedriveDeadLettersInput{DeadLetterIds: ids(101)}, "deadLetterIds"},
		{&RedriveDeadLettersInput{DeadLetterIds: []string{"a", ""}}, "deadLetterIds.2.member"},
	} {
		err := c.in.validate()
		switch {
		case c.member == "" && err != nil:
			t.Errorf("%+v: %v", c.in, err)
		case c.member != "" && (err == nil || !strings.Contains(err.Error(), "'"+c.member+"'")):
			t.Errorf("%+v: got %v, want a failure at %s", c.in, err, c.member)
		}
	}
}
