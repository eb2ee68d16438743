package delivery_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// An EC2-like event, as the input transformer's documentation uses.
const sampleEvent = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification",` +
	`"source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1",` +
	`"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],` +
	`"detail":{"instance-id":"i-0123456789","state":"RUNNING","count":3,"ok":true,"tags":{"a":"x"},"list":[1,"two"],"big":12345678901234567890}}`

func sample() metadata.Event {
	return metadata.Event{ID: 9, Scope: metadata.Scope{Account: "123456789012", Region: "us-east-1"},
		Time: time.Date(2015, 11, 11, 21, 29, 54, 0, time.UTC), Document: []byte(sampleEvent)}
}

func TestPayload(t *testing.T) {
	rule := delivery.Rule{ARN: "arn:aws:events:us-east-1:123456789012:rule/my-rule"}
	constant := `{"fixed":true}`
	paths := map[string]string{"instance": "$.detail.instance-id", "state": "$.detail.state", "count": "$.detail.count",
		"tags": "$.detail.tags", "list": "$.detail.list", "second": "$.detail.list[1]", "missing": "$.detail.nope",
		"big": "$.detail.big", "res": "$.resources[0]"}
	for _, c := range []struct {
		name   string
		target delivery.Target
		want   string
	}{
		{"envelope", delivery.Target{}, sampleEvent},
		{"constant", delivery.Target{Input: &constant}, constant},
		{"input path", delivery.Target{InputPath: "$.detail.tags"}, `{"a":"x"}`},
		{"input path of a string", delivery.Target{InputPath: "$.detail.state"}, `"RUNNING"`},
		{"input path to nothing", delivery.Target{InputPath: "$.detail.none"}, `null`},
		{"input path of the whole event", delivery.Target{InputPath: "$"}, "" /* checked below */},
		{"wildcard", delivery.Target{InputPath: "$.detail.list[*]"}, `[1,"two"]`},
		{"string template", delivery.Target{InputPathsMap: paths, InputTemplate: `"instance <instance> is in <state>"`},
			`"instance i-0123456789 is in RUNNING"`},
		{"plain text template", delivery.Target{InputPathsMap: paths, InputTemplate: `<instance> is in state <state>`},
			`"i-0123456789" is in state "RUNNING"`},
		{"JSON template", delivery.Target{InputPathsMap: paths, InputTemplate: `{"instance": <instance>, "state": <state>, "count": <count>, "tags": <tags>, "big": <big>}`},
			`{"instance": "i-0123456789", "state": "RUNNING", "count": 3, "tags": {"a":"x"}, "big": 12345678901234567890}`},
		{"mixed", delivery.Target{InputPathsMap: paths, InputTemplate: `{"s": "<state>", "msg": "instance \"<instance>\" is in <state>", "n": "<count>"}`},
			`{"s": "RUNNING", "msg": "instance \"i-0123456789\" is in RUNNING", "n": "3"}`},
		{"object in a string", delivery.Target{InputPathsMap: paths, InputTemplate: `"Detail is <tags> and <list>"`},
			`"Detail is {a:x} and [1,two]"`},
		{"missing values", delivery.Target{InputPathsMap: paths, InputTemplate: `{"a": <missing>, "b": "[<missing>]"}`},
			`{"a": null, "b": "[]"}`},
		{"not a variable", delivery.Target{InputPathsMap: paths, InputTemplate: `"a <b c> <html> 1<2 <res>"`},
			`"a <b c> <html> 1<2 arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"`},
		{"predefined", delivery.Target{InputPathsMap: paths, InputTemplate: `{"rule": <aws.events.rule-arn>, "name": "<aws.events.rule-name>", "at": <aws.events.event.ingestion-time>}`},
			`{"rule": "arn:aws:events:us-east-1:123456789012:rule/my-rule", "name": "my-rule", "at": "2015-11-11T21:29:54Z"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := delivery.Payload(rule, c.target, sample())
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if !json.Valid(got) {
					t.Fatalf("not JSON: %s", got)
				}
				return
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestPayloadWholeEvent(t *testing.T) {
	rule := delivery.Rule{ARN: "arn:aws:events:us-east-1:123456789012:rule/bus-1/r"}
	got, err := delivery.Payload(rule, delivery.Target{InputPathsMap: map[string]string{}, InputTemplate: `{"e": <aws.events.event.json>, "noDetail": <aws.events.event>, "n": "<aws.events.rule-name>"}`}, sample())
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		E        map[string]any `json:"e"`
		NoDetail map[string]any `json:"noDetail"`
		N        string         `json:"n"`
	}
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if out.E["detail"] == nil || out.NoDetail["detail"] != nil || out.NoDetail["id"] != "7bf73129-1428-4cd3-a780-95db273d1602" || out.N != "bus-1/r" {
		t.Errorf("%s", got)
	}
}

func TestPayloadErrors(t *testing.T) {
	for _, p := range []string{"detail", "$.", "$.a[", "$.a[x]", "$.a[-1]", "$a"} {
		if _, err := delivery.ParsePath(p); err == nil {
			t.Errorf("ParsePath(%q) is valid", p)
		}
	}
	_, err := delivery.Payload(delivery.Rule{}, delivery.Target{InputPath: "detail"}, sample())
	if err == nil {
		t.Error("a bad input path makes a payload")
	}
}

// TestTransformedDelivery: the engine sends the transformer's output.
func TestTransformedDelivery(t *testing.T) {
	s := newStore(t, "")
	hook := newWebhook(t)
	tg := target("t", hook.URL)
	tg.InputPathsMap = map[string]string{"n": "$.detail.seq"}
	tg.InputTemplate = `{"number": <n>, "rule": "<aws.events.rule-name>"}`
	arn := ruleARN(scopeA, "transform")
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{tg}})
	e := start(t, fastConfig(s, src, "p1"))
	waitStarted(t, s, arn)
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{42})
	e.Wake()
	waitFor(t, "the delivery", func() bool { return len(hook.requests()) == 1 })
	if got := string(hook.requests()[0].Body); got != `{"number": 42, "rule": "transform"}` {
		t.Errorf("body %s", got)
	}
	if m := hook.requests()[0].Method; m != http.MethodPost {
		t.Errorf("method %s", m)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"$", "$.detail", "$.detail.list[0]", "$.a['b c']", "$.a[*].b", "$.*", "$[", "$.a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := delivery.ParsePath(s)
		if err != nil {
			return
		}
		var doc any
		json.Unmarshal([]byte(sampleEvent), &doc)
		p.Eval(doc)
	})
}

func FuzzFill(f *testing.F) {
	for _, s := range []string{`"<a> is <b>"`, `{"x": <a>, "y": "<b>\"<a>\""}`, `<<a>>`, `"\`, `<aws.events.event.json>`, `<`} {
		f.Add(s)
	}
	vars := map[string]any{"a": "A", "b": map[string]any{"k": []any{1.0, "v"}}}
	f.Fuzz(func(t *testing.T, tmpl string) {
		out := delivery.Fill(tmpl, vars)
		if tmpl != "" && out == "" {
			t.Errorf("Fill(%q) is empty", tmpl)
		}
	})
}
