package eventpattern

import (
	"errors"
	"testing"
)

// FuzzCompileMatch compiles any text as a pattern and matches any text as
// an event: neither may panic, a pattern that does not compile fails with
// *Error, and matching is deterministic (Match and MatchValue agree, twice).
func FuzzCompileMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.pattern, c.event)
	}
	for _, c := range errorCases {
		f.Add(c.pattern, ec2Event)
	}
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := Compile(pattern)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("Compile error %v is not an *Error with a reason", err)
			}
			if p != nil {
				t.Fatal("Compile returned a pattern with an error")
			}
			return
		}
		got, err := p.Match([]byte(event))
		m, derr := Decode([]byte(event))
		if (err == nil) != (derr == nil) {
			t.Fatalf("Match error %v, Decode error %v", err, derr)
		}
		if err != nil {
			if got || !errors.Is(err, ErrEventNotObject) {
				t.Fatalf("Match = %v, %v", got, err)
			}
			return
		}
		again, _ := p.Match([]byte(event))
		if again != got || p.MatchValue(m) != got {
			t.Fatalf("matching %q against %q is not deterministic", event, pattern)
		}
	})
}
