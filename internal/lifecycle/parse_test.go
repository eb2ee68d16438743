package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// rule renders a rule from a selection and an action body, each given as
// the inside of its JSON object.
func rule(priority int, selection, action string) string {
	return fmt.Sprintf(`{"rulePriority":%d,"selection":{%s},"action":{%s}}`, priority, selection, action)
}

const (
	expire     = `"type":"expire"`
	transition = `"type":"transition","targetStorageClass":"archive"`
	anyCount   = `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5`
	untagged7  = `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7`
)

func tagged(list string, items ...string) string {
	b, _ := json.Marshal(append([]string{}, items...))
	return fmt.Sprintf(`"tagStatus":"tagged","%s":%s,"countType":"imageCountMoreThan","countNumber":3`, list, b)
}

func TestParseInvalid(t *testing.T) {
	const notMappable = "Could not map policyString into LifecyclePolicy."
	tests := []struct {
		name, text, detail string
		opts               Options
	}{
		// JSON shape and types.
		{"not JSON", `rules`, notMappable, Options{}},
		{"empty", ``, notMappable, Options{}},
		{"array", `[{"rules":[]}]`, notMappable, Options{}},
		{"null", `null`, notMappable, Options{}},
		{"string", `"{}"`, notMappable, Options{}},
		{"trailing garbage", policy(rule(1, anyCount, expire)) + `x`, notMappable, Options{}},
		{"two objects", policy(rule(1, anyCount, expire)) + `{}`, notMappable, Options{}},
		{"rules not an array", `{"rules":{}}`, notMappable, Options{}},
		{"rules null", `{"rules":null}`, notMappable, Options{}},
		{"rule not an object", `{"rules":[1]}`, notMappable, Options{}},
		{"rulePriority string", `{"rules":[{"rulePriority":"1","selection":{` + anyCount + `},"action":{` + expire + `}}]}`, notMappable, Options{}},
		{"rulePriority fraction", `{"rules":[{"rulePriority":1.5,"selection":{` + anyCount + `},"action":{` + expire + `}}]}`, notMappable, Options{}},
		{"rulePriority beyond int32", `{"rules":[{"rulePriority":2147483648,"selection":{` + anyCount + `},"action":{` + expire + `}}]}`, notMappable, Options{}},
		{"description number", `{"rules":[{"rulePriority":1,"description":1,"selection":{` + anyCount + `},"action":{` + expire + `}}]}`, notMappable, Options{}},
		{"selection string", `{"rules":[{"rulePriority":1,"selection":"any","action":{` + expire + `}}]}`, notMappable, Options{}},
		{"action null", `{"rules":[{"rulePriority":1,"selection":{` + anyCount + `},"action":null}]}`, notMappable, Options{}},
		{"countNumber string", policy(rule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":"5"`, expire)), notMappable, Options{}},
		{"tagPrefixList string", policy(rule(1, `"tagStatus":"tagged","tagPrefixList":"prod","countType":"imageCountMoreThan","countNumber":5`, expire)), notMappable, Options{}},
		{"tagPatternList of numbers", policy(rule(1, `"tagStatus":"tagged","tagPatternList":[1],"countType":"imageCountMoreThan","countNumber":5`, expire)), notMappable, Options{}},
		{"type error in a later rule beats schema error in the first", policy(rule(0, anyCount, expire), rule(2, `"tagStatus":true,"countType":"imageCountMoreThan","countNumber":5`, expire)), notMappable, Options{}},

		// Unknown and missing properties.
		{"unknown top-level", `{"rules":[` + rule(1, anyCount, expire) + `],"foo":1}`, `object instance has properties which are not allowed by the schema: (["foo"])`, Options{}},
		{"unknown in rule, sorted", `{"rules":[{"rulePriority":1,"zeta":1,"alpha":null,"selection":{` + anyCount + `},"action":{` + expire + `}}]}`, `object instance has properties which are not allowed by the schema: (["alpha","zeta"])`, Options{}},
		{"unknown in selection", policy(rule(1, anyCount+`,"tagprefixlist":["a"]`, expire)), `object instance has properties which are not allowed by the schema: (["tagprefixlist"])`, Options{}},
		{"unknown in action", policy(rule(1, anyCount, expire+`,"foo":"bar"`)), `object instance has properties which are not allowed by the schema: (["foo"])`, Options{}},
		{"unknown before missing", `{"rules":[{"foo":1}]}`, `object instance has properties which are not allowed by the schema: (["foo"])`, Options{}},
		{"missing rules", `{}`, `object has missing required properties (["rules"])`, Options{}},
		{"empty rules", `{"rules":[]}`, `array is too short: must have at least 1 elements but instance has 0 elements`, Options{}},
		{"missing in rule", `{"rules":[{"selection":{` + anyCount + `}}]}`, `object has missing required properties (["action","rulePriority"])`, Options{}},
		{"missing in selection", policy(rule(1, `"countUnit":"days"`, expire)), `object has missing required properties (["countNumber","countType","tagStatus"])`, Options{}},
		{"missing in action", policy(rule(1, anyCount, `"targetStorageClass":"archive"`)), `object has missing required properties (["type"])`, Options{}},

		// Enums and minimums.
		{"action type enum", policy(rule(1, anyCount, `"type":"delete"`)), `instance value (delete) not found in enum (possible values: ["expire","transition"])`, Options{}},
		{"tagStatus enum", policy(rule(1, `"tagStatus":"TAGGED","countType":"imageCountMoreThan","countNumber":5`, expire)), `instance value (TAGGED) not found in enum (possible values: ["tagged","untagged","any"])`, Options{}},
		{"countType enum", policy(rule(1, `"tagStatus":"any","countType":"sinceImageCreated","countUnit":"days","countNumber":5`, expire)), `instance value (sinceImageCreated) not found in enum (possible values: ["imageCountMoreThan","sinceImagePushed","sinceImagePulled","sinceImageTransitioned"])`, Options{}},
		{"countUnit enum", policy(rule(1, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"hours","countNumber":5`, expire)), `instance value (hours) not found in enum (possible values: ["days"])`, Options{}},
		{"storageClass enum", policy(rule(1, `"tagStatus":"any","storageClass":"glacier","countType":"imageCountMoreThan","countNumber":5`, expire)), `instance value (glacier) not found in enum (possible values: ["standard","archive"])`, Options{}},
		{"targetStorageClass enum", policy(rule(1, anyCount, `"type":"transition","targetStorageClass":"standard"`)), `instance value (standard) not found in enum (possible values: ["archive"])`, Options{}},
		{"countNumber zero", policy(rule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0`, expire)), `numeric instance is lower than the required minimum (minimum: 1, found: 0)`, Options{}},
		{"rulePriority negative", policy(rule(-3, anyCount, expire)), `numeric instance is lower than the required minimum (minimum: 1, found: -3)`, Options{}},
		{"empty tag list", policy(rule(1, tagged("tagPrefixList"), expire)), `array is too short: must have at least 1 elements but instance has 0 elements`, Options{}},
		{"first rule's problem first", policy(rule(1, anyCount, `"type":"delete"`), rule(0, anyCount, expire)), `instance value (delete) not found in enum (possible values: ["expire","transition"])`, Options{}},
		{"rule before its selection", policy(rule(0, `"tagStatus":"x","countType":"imageCountMoreThan","countNumber":5`, expire)), `numeric instance is lower than the required minimum (minimum: 1, found: 0)`, Options{}},

		// One rule's properties together.
		{"countUnit with count", policy(rule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":5`, expire)), `countUnit is not allowed when countType is imageCountMoreThan`, Options{}},
		{"countUnit missing", policy(rule(1, `"tagStatus":"any","countType":"sinceImagePushed","countNumber":5`, expire)), `countUnit is required when countType is sinceImagePushed`, Options{}},
		{"countUnit missing pulled", policy(rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countNumber":5`, transition)), `countUnit is required when countType is sinceImagePulled`, Options{}},
		{"tagged without list", policy(rule(1, `"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":5`, expire)), `tagPrefixList or tagPatternList is required when tagStatus is tagged`, Options{}},
		{"both lists", policy(rule(1, `"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["b*"],"countType":"imageCountMoreThan","countNumber":5`, expire)), `tagPrefixList and tagPatternList cannot both be specified`, Options{}},
		{"list with untagged", policy(rule(1, `"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":5`, expire)), `tagPrefixList and tagPatternList are only allowed when tagStatus is tagged`, Options{}},
		{"list with any", policy(rule(1, `"tagStatus":"any","tagPatternList":["a*"],"countType":"imageCountMoreThan","countNumber":5`, expire)), `tagPrefixList and tagPatternList are only allowed when tagStatus is tagged`, Options{}},
		{"five wildcards", policy(rule(1, tagged("tagPatternList", "ok*", "test*1*2*3*4*5*6"), expire)), `tagPatternList can have a maximum of four wildcards per pattern: test*1*2*3*4*5*6`, Options{}},
		{"archive with count", policy(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"imageCountMoreThan","countNumber":5`, expire)), `storageClass archive is only allowed with countType sinceImageTransitioned`, Options{}},
		{"transitioned without archive", policy(rule(1, `"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365`, expire)), `countType sinceImageTransitioned requires storageClass archive`, Options{}},
		{"transitioned with transition", policy(rule(1, `"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365`, transition)), `countType sinceImageTransitioned requires action type expire`, Options{}},
		{"transitioned under 90 days", policy(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":89`, expire)), `countNumber must be at least 90 for countType sinceImageTransitioned`, Options{}},
		{"pulled with expire", policy(rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, expire)), `countType sinceImagePulled cannot be used with action type expire`, Options{}},
		{"transition without target", policy(rule(1, anyCount, `"type":"transition"`)), `targetStorageClass is required when action type is transition`, Options{}},
		{"expire with target", policy(rule(1, anyCount, `"type":"expire","targetStorageClass":"archive"`)), `targetStorageClass is only allowed when action type is transition`, Options{}},
		{"transition from archive", policy(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365`, transition)), `action type transition requires storageClass standard`, Options{}},
		{"transition from archive by count", policy(rule(1, `"tagStatus":"any","storageClass":"archive","countType":"imageCountMoreThan","countNumber":5`, transition)), `action type transition requires storageClass standard`, Options{}},
		{"rule problems before cross-rule problems", policy(rule(1, anyCount, expire), rule(1, anyCount, `"type":"transition"`)), `targetStorageClass is required when action type is transition`, Options{}},

		// Across rules.
		{"duplicate priority", policy(rule(1, tagged("tagPrefixList", "a"), expire), rule(2, tagged("tagPrefixList", "b"), expire), rule(1, anyCount, expire)), `rulePriority must be unique: 1`, Options{}},
		{"any not last", policy(rule(1, anyCount, expire), rule(2, untagged7, expire)), `Rule with tagStatus 'any' must have the highest rulePriority for its storage class`, Options{}},
		{"two any rules", policy(rule(1, anyCount, expire), rule(2, anyCount, expire)), `Rule with tagStatus 'any' must have the highest rulePriority for its storage class`, Options{}},
		{"two untagged rules", policy(rule(1, untagged7, expire), rule(2, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`, expire)), `Only one rule selecting storage class standard may select untagged images`, Options{}},
		{"same prefixes", policy(rule(1, tagged("tagPrefixList", "prod", "x"), expire), rule(2, tagged("tagPrefixList", "x", "prod", "x"), expire)), `The rules selecting storage class standard must have unique tag prefixes`, Options{}},
		{"same patterns", policy(rule(1, tagged("tagPatternList", "prod*"), expire), rule(2, tagged("tagPatternList", "prod*"), transition)), `The rules selecting storage class standard must have unique tag prefixes`, Options{}},
		{"any not last in archive", policy(
			rule(1, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365`, expire),
			rule(2, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)),
			`Rule with tagStatus 'any' must have the highest rulePriority for its storage class`, Options{}},
		{"two untagged rules in archive", policy(
			rule(1, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365`, expire),
			rule(2, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)),
			`Only one rule selecting storage class archive may select untagged images`, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.text, tt.opts)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse(%s) = %+v, %v; want a *ValidationError", tt.text, p, err)
			}
			if ve.Detail != tt.detail {
				t.Errorf("Parse(%s):\n got detail %q\nwant detail %q", tt.text, ve.Detail, tt.detail)
			}
			if want := "Lifecycle policy validation failure: " + tt.detail; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		text string
		opts Options
	}{
		{"E1", policy(ruleE1), Options{}},
		{"E2", policy(ruleE2), Options{}},
		{"E3", policy(ruleE3), Options{}},
		{"E4", policy(ruleE4), Options{}},
		{"E5", policy(prodBetaRules(1, 2, "tagPatternList")...), Options{}},
		{"E6 prefixes", policy(prodBetaRules(2, 1, "tagPrefixList")...), Options{}},
		{"four wildcards", policy(rule(1, tagged("tagPatternList", "*test*1*2*3", "test*1*2*3*"), expire)), Options{}},
		{"priorities need not be sequential", policy(rule(10, tagged("tagPrefixList", "a"), expire), rule(3, untagged7, expire), rule(99, anyCount, expire)), Options{}},
		{"same prefix in other storage class is fine", policy(
			rule(1, tagged("tagPrefixList", "prod"), expire),
			rule(2, `"tagStatus":"tagged","tagPrefixList":["prod"],"storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)), Options{}},
		{"prefix list and pattern list with the same text", policy(rule(1, tagged("tagPrefixList", "prod"), expire), rule(2, tagged("tagPatternList", "prod"), expire)), Options{}},
		{"subset of prefixes", policy(rule(1, tagged("tagPrefixList", "a", "b"), expire), rule(2, tagged("tagPrefixList", "a"), expire)), Options{}},
		{"untagged in each storage class", policy(
			rule(1, untagged7, expire),
			rule(2, `"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire)), Options{}},
		{"explicit standard", policy(rule(1, `"tagStatus":"any","storageClass":"standard","countType":"imageCountMoreThan","countNumber":5`, transition)), Options{}},
		{"pulled with expire, extension", policy(rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, expire)), Options{AllowExpireSincePulled: true}},
		{"whitespace around", " \n\t" + policy(ruleE4) + "\n ", Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.text, tt.opts)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.text, err)
			}
			checkRoundTrip(t, p, tt.opts)
		})
	}
}

// checkRoundTrip checks that p's canonical text parses back to p.
func checkRoundTrip(t testing.TB, p Policy, opts Options) {
	t.Helper()
	for i := 1; i < len(p.Rules); i++ {
		if p.Rules[i-1].Priority >= p.Rules[i].Priority {
			t.Fatalf("rules not sorted by priority: %+v", p.Rules)
		}
	}
	text, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	again, err := Parse(string(text), opts)
	if err != nil {
		t.Fatalf("Parse(Marshal(p)) of %s: %v", text, err)
	}
	if !reflect.DeepEqual(again, p) {
		t.Fatalf("round trip through %s:\n got %+v\nwant %+v", text, again, p)
	}
}

func TestParseResult(t *testing.T) {
	text := policy(
		`{"rulePriority":3,"description":"everything else","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}}`,
		`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}`,
	)
	got := mustParse(t, text)
	want := Policy{Rules: []Rule{{
		Priority: 1,
		Selection: Selection{TagStatus: TagStatusTagged, TagPatternList: []string{"prod*"}, StorageClass: StorageStandard,
			CountType: SinceImagePushed, CountUnit: UnitDays, CountNumber: 30},
		Action: Action{Type: ActionTransition, TargetStorageClass: StorageArchive},
	}, {
		Priority:    3,
		Description: "everything else",
		Selection:   Selection{TagStatus: TagStatusAny, StorageClass: StorageStandard, CountType: ImageCountMoreThan, CountNumber: 100},
		Action:      Action{Type: ActionExpire},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", got, want)
	}
	const canonical = `{"rules":[` +
		`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"storageClass":"standard","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},` +
		`{"rulePriority":3,"description":"everything else","selection":{"tagStatus":"any","storageClass":"standard","countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}}]}`
	if s := got.String(); s != canonical {
		t.Errorf("String:\n got %s\nwant %s", s, canonical)
	}
}

func TestQuoteList(t *testing.T) {
	if got, want := quoteList([]string{`a"b`, "<x>"}), `["a\"b","<x>"]`; got != want {
		t.Errorf("quoteList = %s, want %s", got, want)
	}
	if err := notMappable(); err.Error() != "Lifecycle policy validation failure: Could not map policyString into LifecyclePolicy." {
		t.Errorf("notMappable() = %q", err)
	}
}
