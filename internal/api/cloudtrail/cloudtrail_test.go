package cloudtrail

import (
	"errors"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/metadata"
)

var scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}

func parse(body string) (metadata.AuditQuery, error) {
	in := new(lookupEventsInput)
	if err := awsjson.Decode([]byte(body), in); err != nil {
		return metadata.AuditQuery{}, err
	}
	return Parse(in, scope)
}

func TestParse(t *testing.T) {
	q, err := parse(`{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"dev"}],"StartTime":1700000000,"EndTime":1700000060.5,"MaxResults":7}`)
	if err != nil {
		t.Fatal(err)
	}
	if q.Attribute != metadata.AuditByUsername || q.Value != "dev" || q.Limit != 7 ||
		!q.Start.Equal(time.Unix(1700000000, 0)) || !q.End.Equal(time.Unix(1700000060, 5e8)) {
		t.Errorf("query %+v", q)
	}
	if q, _ := parse(`{}`); q.Limit != 50 || q.Attribute != "" {
		t.Errorf("defaults %+v", q)
	}
	for body, want := range map[string]string{
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"a"},{"AttributeKey":"Username","AttributeValue":"b"}]}`: "InvalidLookupAttributesException",
		`{"LookupAttributes":[{"AttributeKey":"EventName"}]}`:                                                                       "InvalidLookupAttributesException",
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":""}]}`:                                                   "InvalidLookupAttributesException",
		`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"yes"}]}`:                                                 "InvalidLookupAttributesException",
		`{"StartTime":1700000060,"EndTime":1700000000}`:                                                                             "InvalidTimeRangeException",
		`{"MaxResults":51}`:              "InvalidMaxResultsException",
		`{"NextToken":"AAAA"}`:           "InvalidNextTokenException",
		`{"EventCategory":"management"}`: "InvalidEventCategoryException",
	} {
		_, err := parse(body)
		var ie *invalid
		if !errors.As(err, &ie) || ie.typ != want {
			t.Errorf("%s: %v, want %s", body, err, want)
		}
	}
}

// A token continues the query that gave it, and no other.
func TestTokens(t *testing.T) {
	q := metadata.AuditQuery{Scope: scope, Attribute: metadata.AuditByEventName, Value: "PutImage", Start: time.Unix(1700000000, 0)}
	c := metadata.AuditCursor{Time: time.Unix(1700000100, 123456789).UTC(), Seq: 42}
	tok := encodeToken(c, q)
	got, err := decodeToken(tok, q)
	if err != nil || !got.Time.Equal(c.Time) || got.Seq != c.Seq {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	other := q
	other.Value = "BatchGetImage"
	if _, err := decodeToken(tok, other); err == nil {
		t.Error("a token of another query is accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"dev"}],"StartTime":1,"EndTime":2,"MaxResults":7}`)
	f.Add(`{"NextToken":"` + encodeToken(metadata.AuditCursor{Seq: 1}, metadata.AuditQuery{Scope: scope}) + `"}`)
	f.Add(`{"EventCategory":"insight","MaxResults":0}`)
	f.Fuzz(func(t *testing.T, body string) {
		q, err := parse(body)
		if err != nil {
			return
		}
		if q.Limit < 0 || q.Limit > 50 || len(q.Value) > 2000 {
			t.Errorf("query %+v from %q", q, body)
		}
		if q.Attribute != "" && !attributes[q.Attribute] {
			t.Errorf("attribute %q from %q", q.Attribute, body)
		}
	})
}
