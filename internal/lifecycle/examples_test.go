package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the evaluation time of every test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

// image is a standard image pushed the given number of days ago.
func image(digest string, days int, tags ...string) Image {
	return Image{Digest: digest, Tags: tags, PushedAt: daysAgo(days), StorageClass: StorageStandard}
}

// archived is an image pushed long ago and archived the given number of
// days ago.
func archived(digest string, archivedDays int, tags ...string) Image {
	return Image{Digest: digest, Tags: tags, PushedAt: daysAgo(archivedDays + 30), StorageClass: StorageArchive, ArchivedAt: daysAgo(archivedDays)}
}

func mustParse(t testing.TB, text string) Policy {
	t.Helper()
	p, err := Parse(text, Options{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", text, err)
	}
	return p
}

// policy builds policy text from rule texts.
func policy(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

// outcome renders decisions as "digest:action/priority" in their order,
// "+subject" added for followers.
func outcome(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		s := fmt.Sprintf("%s:%s/%d", d.Digest, d.Action.Type, d.RulePriority)
		if d.FollowedSubject != "" {
			s += "+" + d.FollowedSubject
		}
		out = append(out, s)
	}
	return out
}

func checkOutcome(t *testing.T, p Policy, images []Image, want []string) {
	t.Helper()
	got := outcome(Evaluate(p, images, now))
	if !slices.Equal(got, want) {
		t.Errorf("decisions:\n got %q\nwant %q", got, want)
	}
}

// The documented policies, in the current user guide's spelling, except
// where a test says otherwise.
const (
	ruleE1 = `{"rulePriority":1,"description":"Expire images older than 14 days","selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}`
	ruleE2 = `{"rulePriority":1,"description":"Archive images not pulled in 90 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"transition","targetStorageClass":"archive"}}`
	ruleE3 = `{"rulePriority":1,"description":"Delete images archived more than 365 days ago","selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},"action":{"type":"expire"}}`
	ruleE4 = `{"rulePriority":1,"description":"Keep only one untagged image, expire all others","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`
)

func prodBetaRules(prodPriority, betaPriority int, list string) []string {
	rule := func(priority int, tag string) string {
		return fmt.Sprintf(`{"rulePriority":%d,"description":"Rule %d","selection":{"tagStatus":"tagged","%s":[%q],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`,
			priority, priority, list, tag)
	}
	prod, beta := "prod*", "beta*"
	if list == "tagPrefixList" {
		prod, beta = "prod", "beta"
	}
	rules := []string{rule(prodPriority, prod), rule(betaPriority, beta)}
	slices.SortFunc(rules, strings.Compare) // "rulePriority":1 first, as documented
	return rules
}

func TestDocumentedExamples(t *testing.T) {
	repoE5 := []Image{
		image("A", 10, "beta-1", "prod-1"),
		image("B", 9, "beta-2", "prod-2"),
		image("C", 8, "beta-3"),
	}
	repoE7 := []Image{
		image("A", 12, "alpha-1"),
		image("B", 11, "beta-1"),
		image("C", 10, "alpha-2", "beta-2"),
		image("D", 4, "alpha-3"),
		image("E", 3, "beta-3"),
		image("F", 2, "alpha-4", "beta-4"),
	}
	ruleE7 := func(list string, a, b string) string {
		return fmt.Sprintf(`{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","%s":[%q,%q],"countType":"sinceImagePushed","countUnit":"days","countNumber":5},"action":{"type":"expire"}}`, list, a, b)
	}
	repoE8 := []Image{
		image("A", 10, "alpha-1", "beta-1", "gamma-1"),
		image("B", 9, "alpha-2", "beta-2"),
		image("C", 8, "alpha-3", "beta-3", "gamma-2"),
	}
	ruleE8 := `{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","tagPatternList":["alpha*","beta*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`
	repoE9 := []Image{
		image("A", 4, "alpha-1"),
		image("B", 3, "beta-1"),
		image("C", 2),
		image("D", 1, "alpha-2"),
	}
	ruleE9 := `{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`
	// E is pushed after D on the same day: E is the newer.
	repoE10 := []Image{
		image("A", 4, "alpha-1", "beta-1"),
		image("B", 3),
		image("C", 2, "alpha-2"),
		image("D", 1, "git hash"),
		image("E", 1),
	}
	rulesE10 := func(list, alpha string) []string {
		return []string{
			fmt.Sprintf(`{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","%s":[%q],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`, list, alpha),
			`{"rulePriority":2,"description":"Rule 2","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}`,
			`{"rulePriority":3,"description":"Rule 3","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`,
		}
	}
	pulled := func(img Image, days int) Image { img.LastPulledAt = daysAgo(days); return img }
	restored := func(img Image, days int) Image { img.LastActivatedAt = daysAgo(days); return img }
	ruleE11a := `{"rulePriority":1,"description":"Archive prod images older than 30 days","selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}`
	rulesE11c := []string{
		`{"rulePriority":1,"description":"Archive images older than 30 days","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}`,
		`{"rulePriority":2,"description":"Delete images archived for more than a year","selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},"action":{"type":"expire"}}`,
	}

	tests := []struct {
		name   string
		rules  []string
		images []Image
		want   []string
	}{{
		// No repository documented: prod* images pushed more than 14
		// days ago go; the pattern must match a whole tag.
		name:  "E1 filtering on image age",
		rules: []string{ruleE1},
		images: []Image{
			image("old-prod", 20, "prod-1"),
			image("exactly-14", 14, "prod-2"),
			image("old-production", 15, "production", "latest"),
			image("old-beta", 30, "beta-1"),
			image("old-untagged", 30),
			image("preprod", 30, "preprod"),
			image("new-prod", 3, "prod-3"),
		},
		want: []string{"old-prod:expire/1", "old-production:expire/1"},
	}, {
		// No repository documented: any standard image not pulled (or
		// pushed, or restored) in 90 days is archived.
		name:  "E2 filtering on last pulled time",
		rules: []string{ruleE2},
		images: []Image{
			pulled(image("pulled-100", 200, "v1"), 100),
			pulled(image("pulled-10", 200, "v2"), 10),
			image("never-pulled-old", 120),
			image("never-pulled-new", 30),
			restored(pulled(image("restored", 300, "v3"), 150), 10),
			archived("in-archive", 200, "v0"),
		},
		want: []string{"pulled-100:transition/1", "never-pulled-old:transition/1"},
	}, {
		// No repository documented: only archived images, archived more
		// than 365 days ago, are deleted.
		name:  "E3 filtering on archive transition time",
		rules: []string{ruleE3},
		images: []Image{
			archived("archived-400", 400, "v1"),
			archived("archived-365", 365),
			archived("archived-100", 100, "v2"),
			image("standard-old", 1000, "v3"),
		},
		want: []string{"archived-400:expire/1"},
	}, {
		// No repository documented: the newest untagged image stays.
		name:  "E4 filtering on image count",
		rules: []string{ruleE4},
		images: []Image{
			image("tagged-old", 10, "v1"),
			image("untagged-1", 5),
			image("untagged-2", 4),
			image("untagged-3", 3),
		},
		want: []string{"untagged-1:expire/1", "untagged-2:expire/1"},
	}, {
		name:   "E5 multiple rules example A",
		rules:  prodBetaRules(1, 2, "tagPatternList"),
		images: repoE5,
		want:   []string{"A:expire/1"},
	}, {
		name:   "E5 multiple rules example A, 2022 prefixes",
		rules:  prodBetaRules(1, 2, "tagPrefixList"),
		images: repoE5,
		want:   []string{"A:expire/1"},
	}, {
		name:   "E6 multiple rules example B",
		rules:  prodBetaRules(2, 1, "tagPatternList"),
		images: repoE5,
		want:   []string{"A:expire/1", "B:expire/1"},
	}, {
		name:   "E6 multiple rules example B, 2022 prefixes",
		rules:  prodBetaRules(2, 1, "tagPrefixList"),
		images: repoE5,
		want:   []string{"A:expire/1", "B:expire/1"},
	}, {
		name:   "E7 multiple tags example A",
		rules:  []string{ruleE7("tagPatternList", "alpha*", "beta*")},
		images: repoE7,
		want:   []string{"C:expire/1"},
	}, {
		name:   "E7 multiple tags example A, 2022 prefixes",
		rules:  []string{ruleE7("tagPrefixList", "alpha", "beta")},
		images: repoE7,
		want:   []string{"C:expire/1"},
	}, {
		name:   "E8 multiple tags example B",
		rules:  []string{ruleE8},
		images: repoE8,
		want:   []string{"A:expire/1", "B:expire/1"},
	}, {
		name:   "E9 all images example A",
		rules:  []string{ruleE9},
		images: repoE9,
		want:   []string{"A:expire/1", "B:expire/1", "C:expire/1"},
	}, {
		name:   "E10 all images example B",
		rules:  rulesE10("tagPatternList", "alpha*"),
		images: repoE10,
		want:   []string{"A:expire/1", "B:expire/2", "D:expire/3"},
	}, {
		name:   "E10 all images example B, 2022 prefix",
		rules:  rulesE10("tagPrefixList", "alpha"),
		images: repoE10,
		want:   []string{"A:expire/1", "B:expire/2", "D:expire/3"},
	}, {
		// No repository documented: prod* standard images pushed more
		// than 30 days ago move to archive; archived ones stay.
		name:  "E11a archive prod images",
		rules: []string{ruleE11a},
		images: []Image{
			image("prod-old", 40, "prod-1"),
			image("prod-new", 10, "prod-2"),
			image("dev-old", 40, "dev"),
			archived("prod-archived", 100, "prod-0"),
		},
		want: []string{"prod-old:transition/1"},
	}, {
		name:  "E11b archive images not pulled in 90 days",
		rules: []string{strings.Replace(ruleE2, "Archive images", "Archive", 1)},
		images: []Image{
			pulled(image("stale", 400, "v1"), 91),
			pulled(image("fresh", 400, "v2"), 89),
		},
		want: []string{"stale:transition/1"},
	}, {
		// Two "any" rules, one per storage class: each acts on its own
		// class only.
		name:  "E11c combining archive and expire rules",
		rules: rulesE11c,
		images: []Image{
			archived("archived-400", 400, "v0"),
			archived("archived-100", 100),
			image("standard-40", 40, "v1"),
			image("standard-10", 10),
		},
		want: []string{"standard-40:transition/1", "archived-400:expire/2"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutcome(t, mustParse(t, policy(tt.rules...)), tt.images, tt.want)
		})
	}
}
