package console

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/lifecycle"
)

// form writes the fields of rules as a submitted form, rule by rule: a
// list of field, value pairs each.
func form(rules ...[]string) url.Values {
	v := url.Values{}
	for i, r := range rules {
		for j := 0; j+1 < len(r); j += 2 {
			v.Set(ruleField(i, r[j]), r[j+1])
		}
	}
	return v
}

func TestPolicyFromForm(t *testing.T) {
	expireUntagged := []string{"priority", "1", "description", "old untagged", "tagStatus", "untagged", "listType", "prefix", "tags", "",
		"storageClass", "standard", "countType", "sinceImagePushed", "countUnit", "days", "countNumber", "14", "action", "expire", "target", ""}
	blank := formValues([]formRule{blankRule(0)})
	for _, c := range []struct {
		name string
		form url.Values
		want string // the policy text; "" when err is wanted
		err  string
	}{
		{"one rule", form(expireUntagged), `{
  "rules": [
    {
      "rulePriority": 1,
      "description": "old untagged",
      "selection": {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 14
      },
      "action": {
        "type": "expire"
      }
    }
  ]
}`, ""},
		{"patterns, archive, a blank rule left out", form(
			[]string{"priority", " 2 ", "tagStatus", "tagged", "listType", "pattern", "tags", "prod-*, release-*-<rc>\n  v?", "storageClass", "standard",
				"countType", "sinceImagePulled", "countUnit", "days", "countNumber", "30", "action", "transition", "target", "archive"},
			[]string{"priority", "", "tagStatus", "any", "countType", "sinceImagePushed", "countUnit", "days", "countNumber", " ", "action", "expire"},
			[]string{"priority", "3", "tagStatus", "any", "storageClass", "archive", "countType", "sinceImageTransitioned", "countUnit", "days",
				"countNumber", "365", "action", "expire"}),
			`{"rules":[{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPatternList":["prod-*","release-*-<rc>","v?"],"countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},` +
				`{"rulePriority":3,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},"action":{"type":"expire"}}]}`, ""},
		{"prefixes", form([]string{"priority", "1", "tagStatus", "tagged", "listType", "prefix", "tags", "v1,v2", "countType", "imageCountMoreThan", "countNumber", "3", "action", "expire"}),
			`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v1","v2"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`, ""},
		// The form writes what it is given; the core refuses it, with
		// ECR's message.
		{"a rule ECR refuses", form([]string{"priority", "1", "tagStatus", "any", "tags", "v1", "countType", "imageCountMoreThan", "countUnit", "days", "countNumber", "0", "action", "expire", "target", "archive"}),
			`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","tagPrefixList":["v1"],"countType":"imageCountMoreThan","countUnit":"days","countNumber":0},"action":{"type":"expire","targetStorageClass":"archive"}}]}`, ""},
		{"rules in the order of their fields' numbers", func() url.Values {
			v := url.Values{}
			for _, i := range []string{"10", "2"} {
				v.Set("rules."+i+".priority", i)
				v.Set("rules."+i+".tagStatus", "untagged")
				v.Set("rules."+i+".countType", "imageCountMoreThan")
				v.Set("rules."+i+".countNumber", "1")
				v.Set("rules."+i+".action", "expire")
			}
			v.Set("rules.x.priority", "7") // not a rule's field
			return v
		}(), `{"rules":[{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},` +
			`{"rulePriority":10,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`, ""},
		{"only the blank rule", blank, "", "the form has no rule"},
		{"no form", url.Values{}, "", "the form has no rule"},
		{"a priority that is no number", form([]string{"priority", "first", "countNumber", "1"}), "", `rule 1: the rule priority "first" is not a whole number`},
		{"a fraction", form(expireUntagged, []string{"priority", "2", "countNumber", "1.5"}), "", `rule 2: the count number "1.5" is not a whole number`},
		{"a number too large", form([]string{"priority", "4294967296", "countNumber", "1"}), "", "not a whole number"},
		{"too many rules", func() url.Values {
			v := url.Values{}
			for i := range maxFormRules + 1 {
				v.Set(ruleField(i, "priority"), "1")
			}
			return v
		}(), "", "more than 200 rules"},
	} {
		got, err := policyFromForm(c.form)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %q, %v; want the error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if compact(t, got) != compact(t, c.want) {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

// compact removes the indentation of policy text.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			in = !in
		case !in && (c == ' ' || c == '\n'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func TestFormFromPolicy(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []formRule
		err        string
	}{
		{"no policy", "", nil, ""},
		{"prefixes", `{"rules":[{"rulePriority":1,"description":"keep <5>","selection":{"tagStatus":"tagged","tagPrefixList":["v1","v2"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}`,
			[]formRule{{Index: 0, Priority: "1", Description: "keep <5>", TagStatus: "tagged", ListType: "prefix", Tags: "v1, v2", StorageClass: "standard",
				CountType: "imageCountMoreThan", CountNumber: "5", Action: "expire"}}, ""},
		{"patterns and archive", `{"rules":[
			{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"storageClass":"standard","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},
			{"rulePriority":9,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}}]}`,
			[]formRule{
				{Index: 0, Priority: "1", TagStatus: "tagged", ListType: "pattern", Tags: "prod*", StorageClass: "standard", CountType: "sinceImagePulled",
					CountUnit: "days", CountNumber: "30", Action: "transition", Target: "archive"},
				{Index: 1, Priority: "9", TagStatus: "any", ListType: "prefix", StorageClass: "archive", CountType: "sinceImageTransitioned",
					CountUnit: "days", CountNumber: "90", Action: "expire"}}, ""},
		// A policy ECR refuses shows as far as it goes.
		{"refused, shown", `{"rules":[{"rulePriority":0,"selection":{"tagStatus":"maybe"},"extra":true}]}`,
			[]formRule{{Index: 0, Priority: "0", TagStatus: "maybe", ListType: "prefix", StorageClass: "standard"}}, ""},
		{"not JSON", `{"rules":`, nil, "cannot be shown as a form"},
		{"a text where a number belongs", `{"rules":[{"rulePriority":"one"}]}`, nil, "cannot be shown as a form"},
	} {
		got, err := formFromPolicy(c.text)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %+v, %v; want the error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, %v\nwant %+v", c.name, got, err, c.want)
		}
	}
}

// roundTrip checks that a policy ECR accepts comes back from the form
// (JSON, then the form's rules, then JSON) as the same policy.
func roundTrip(t *testing.T, text string) {
	t.Helper()
	want, err := lifecycle.Parse(text, lifecycle.Options{AllowExpireSincePulled: true})
	if err != nil {
		return
	}
	rules, err := formFromPolicy(text)
	if err != nil {
		t.Fatalf("a valid policy cannot be shown as a form: %v\n%s", err, text)
	}
	for _, r := range want.Rules {
		for _, tag := range slices.Concat(r.Selection.TagPatternList, r.Selection.TagPrefixList) {
			if tag == "" || strings.ContainsAny(tag, ", \t\n\r") {
				return // a list the form writes as text cannot hold these
			}
		}
	}
	again, err := policyFromForm(formValues(rules))
	if err != nil {
		t.Fatalf("the form of a valid policy does not make one: %v\n%s", err, text)
	}
	got, err := lifecycle.Parse(again, lifecycle.Options{AllowExpireSincePulled: true})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("the form changed the policy:\n%s\nbecame\n%s\n(%v)", text, again, err)
	}
}

var roundTripSeeds = []string{
	`{"rules":[{"rulePriority":1,"description":"Expire images older than 14 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["alpha*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},` +
		`{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},` +
		`{"rulePriority":3,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod","release"],"storageClass":"standard","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},` +
		`{"rulePriority":2,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":120},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":5,"description":"\u003c\"quoted\"\u003e","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":2147483647},"action":{"type":"expire"}}]}`,
}

func TestFormRoundTrip(t *testing.T) {
	for _, text := range roundTripSeeds {
		if _, err := lifecycle.Parse(text, lifecycle.Options{AllowExpireSincePulled: true}); err != nil {
			t.Fatalf("seed not valid: %v", err)
		}
		roundTrip(t, text)
	}
}

// FuzzLifecycleForm: any text shows as a form or an error, never a
// panic, and a valid policy survives the form.
func FuzzLifecycleForm(f *testing.F) {
	for _, s := range roundTripSeeds {
		f.Add(s)
	}
	f.Add(`{"rules":[{"rulePriority":1e0}]}`)
	f.Add(`{"rules":null}`)
	f.Add(`[]`)
	// A repeated property: its last value counts, as for the core.
	f.Add(`{"rules":[{"rulePriority":1,"selection":0,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100},"action":{"type":"expire"}}]}`)
	f.Fuzz(func(t *testing.T, text string) {
		roundTrip(t, text)
		if rules, err := formFromPolicy(text); err == nil {
			policyFromForm(formValues(rules))
		}
	})
}

func TestParsePreviewAt(t *testing.T) {
	now := time.Date(2026, 12, 5, 15, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"2026-12-05", time.Time{}, false}, // today: now
		{"2027-01-01", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), false}, // in the past: the core refuses it
		{"2027-01-01T09:30", time.Date(2027, 1, 1, 9, 30, 0, 0, time.UTC), false},
		{"2027-01-01T09:30:15", time.Date(2027, 1, 1, 9, 30, 15, 0, time.UTC), false},
		{"2027-01-01T09:30:00+02:00", time.Date(2027, 1, 1, 7, 30, 0, 0, time.UTC), false},
		{"tomorrow", time.Time{}, true},
		{"2027-13-01", time.Time{}, true},
	} {
		got, err := parsePreviewAt(c.in, now)
		if (err != nil) != c.err || !got.Equal(c.want) {
			t.Errorf("parsePreviewAt(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestCheckPolicyLength(t *testing.T) {
	for n, want := range map[int]string{
		99:    "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have length greater than or equal to 100'",
		100:   "",
		30720: "",
		30721: "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have length less than or equal to 30720'",
	} {
		err := checkPolicyLength(strings.Repeat("é", n)) // characters, not bytes
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("%d characters: %q, want %q", n, got, want)
			}
		} else if want != "" {
			t.Errorf("%d characters: accepted", n)
		}
	}
}
