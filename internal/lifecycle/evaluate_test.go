package lifecycle

import (
	"slices"
	"testing"
	"time"
)

// index is an image that lists children.
func index(img Image, children ...string) Image {
	img.Children = children
	return img
}

// referrer is an image referring to subject.
func referrer(img Image, subject string) Image {
	img.Subject = subject
	return img
}

func TestEvaluateEdges(t *testing.T) {
	const (
		untaggedAfterDay = `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1`
		keepOneV         = `"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1`
		archiveAfter30   = `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30`
		keepOne          = `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1`
	)
	exactly := image("exactly", 0, "prod-1")
	exactly.PushedAt = daysAgo(14)
	justOver := image("just-over", 0, "prod-2")
	justOver.PushedAt = daysAgo(14).Add(-time.Nanosecond)

	restoredOld := image("restored-old", 100, "v1")
	restoredOld.LastActivatedAt = daysAgo(1)
	neverPulled := image("never-pulled", 40, "v1")
	neverPulledNew := image("never-pulled-new", 20, "v2")
	pulledBeforeRestore := image("pulled-before-restore", 300, "v3")
	pulledBeforeRestore.LastPulledAt = daysAgo(200)
	pulledBeforeRestore.LastActivatedAt = daysAgo(10)

	tests := []struct {
		name   string
		rules  []string
		opts   Options
		images []Image
		want   []string
	}{{
		name:   "exactly N days old is kept",
		rules:  []string{ruleE1},
		images: []Image{exactly, justOver},
		want:   []string{"just-over:expire/1"},
	}, {
		name:  "a tag may satisfy several patterns",
		rules: []string{rule(1, `"tagStatus":"tagged","tagPatternList":["prod*","*-1","prod*"],"countType":"imageCountMoreThan","countNumber":1`, expire)},
		images: []Image{
			image("one-tag", 3, "prod-1"),
			image("repeated-tag", 2, "prod-1", "prod-1"),
			image("not-1", 1, "prod-2"),
		},
		want: []string{"one-tag:expire/1"},
	}, {
		name:  "patterns match whole tags",
		rules: []string{rule(1, `"tagStatus":"tagged","tagPatternList":["*prod*-?"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1`, expire)},
		images: []Image{
			image("literal-question-mark", 5, "my-production-?"),
			image("no-match", 5, "my-production-1"),
		},
		want: []string{"literal-question-mark:expire/1"},
	}, {
		name:  "an index that stays keeps its children",
		rules: []string{rule(1, keepOneV, expire), rule(2, untaggedAfterDay, expire)},
		images: []Image{
			image("amd64", 10),
			image("arm64", 10),
			index(image("multi", 10, "v1"), "amd64", "arm64"),
			image("orphan", 10),
		},
		want: []string{"orphan:expire/2"},
	}, {
		name:  "an expired index releases its children",
		rules: []string{rule(1, keepOneV, expire), rule(2, untaggedAfterDay, expire)},
		images: []Image{
			image("old-amd64", 10),
			image("old-arm64", 10),
			index(image("old", 10, "v1"), "old-amd64", "old-arm64"),
			image("new-amd64", 5),
			image("new-arm64", 5),
			index(image("new", 5, "v2"), "new-amd64", "new-arm64"),
		},
		want: []string{"old:expire/1", "old-amd64:expire/2", "old-arm64:expire/2"},
	}, {
		name:  "a child shared with an index that stays stays",
		rules: []string{rule(1, keepOneV, expire), rule(2, untaggedAfterDay, expire)},
		images: []Image{
			image("shared", 10),
			image("own", 10),
			index(image("old", 10, "v1"), "shared", "own"),
			index(image("new", 5, "v2"), "shared"),
		},
		want: []string{"old:expire/1", "own:expire/2"},
	}, {
		name:  "nested indexes stay together",
		rules: []string{rule(1, keepOneV, expire), rule(2, untaggedAfterDay, expire)},
		images: []Image{
			image("leaf", 10),
			index(image("middle", 10), "leaf"),
			index(image("outer", 10, "v1"), "middle"),
			image("other", 10),
		},
		want: []string{"other:expire/2"},
	}, {
		name:  "nested indexes go together",
		rules: []string{rule(1, keepOneV, expire), rule(2, untaggedAfterDay, expire)},
		images: []Image{
			image("leaf", 10),
			index(image("middle", 10), "leaf"),
			index(image("outer", 10, "v1"), "middle"),
			image("newer", 5, "v2"),
		},
		want: []string{"outer:expire/1", "leaf:expire/2", "middle:expire/2"},
	}, {
		name:  "children are archived with their index",
		rules: []string{rule(1, archiveAfter30, transition)},
		images: []Image{
			image("amd64", 40),
			index(image("multi", 40, "v1"), "amd64"),
			image("new-amd64", 10),
			index(image("new", 10, "v2"), "new-amd64", "amd64"),
		},
		// amd64 is also listed by new, which stays in standard storage.
		want: []string{"multi:transition/1"},
	}, {
		name:  "an archived index lets its children be archived",
		rules: []string{rule(1, archiveAfter30, transition)},
		images: []Image{
			image("amd64", 40),
			index(archived("multi", 100, "v1"), "amd64"),
		},
		want: []string{"amd64:transition/1"},
	}, {
		name:  "an archived index that stays keeps its children from expiring",
		rules: []string{rule(1, untaggedAfterDay, expire)},
		images: []Image{
			image("amd64", 40),
			index(archived("multi", 100, "v1"), "amd64"),
		},
		want: nil,
	}, {
		name:  "referrers go with their expired subject",
		rules: []string{rule(1, keepOne, expire)},
		images: []Image{
			image("app-1", 10, "v1"),
			image("app-2", 5, "v2"),
			referrer(image("sig-1", 1), "app-1"),
			referrer(image("sbom-sig-1", 1), "sig-1"),
			referrer(image("sig-2", 1), "app-2"),
		},
		// Referrers are not counted: app-2 is the newest.
		want: []string{"app-1:expire/1", "sbom-sig-1:expire/1+sig-1", "sig-1:expire/1+app-1"},
	}, {
		name:  "referrers go with their archived subject",
		rules: []string{rule(1, archiveAfter30, transition)},
		images: []Image{
			image("app", 40, "v1"),
			referrer(image("sig", 1, "app.sig"), "app"),
			referrer(archived("old-sbom", 100), "app"),
			referrer(image("sbom-sig", 1), "old-sbom"),
		},
		// old-sbom is in archive already, but its signature follows.
		want: []string{"app:transition/1", "sbom-sig:transition/1+old-sbom", "sig:transition/1+app"},
	}, {
		name:  "a referrer of a subject an index keeps stays",
		rules: []string{rule(1, keepOneV, expire), rule(2, untaggedAfterDay, expire)},
		images: []Image{
			image("amd64", 10),
			referrer(image("amd64-sig", 10), "amd64"),
			index(image("multi", 10, "v1"), "amd64"),
		},
		want: nil,
	}, {
		name:  "dangling referrers are expired",
		rules: []string{rule(1, keepOne, expire)},
		images: []Image{
			image("app", 10, "v1"),
			referrer(image("orphan-sig", 9), "sha256:deleted"),
			referrer(image("orphan-sig-sig", 9), "orphan-sig"),
		},
		want: []string{"orphan-sig:expire/0+sha256:deleted", "orphan-sig-sig:expire/0+orphan-sig"},
	}, {
		name:  "restored images count from their restoration",
		rules: []string{rule(1, `"tagStatus":"tagged","tagPrefixList":["v"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30`, expire), rule(2, keepOne, expire)},
		images: []Image{
			restoredOld,
			image("pushed-5", 5),
		},
		// restored-old is the newest image for rule 2, and not 30 days
		// old for rule 1.
		want: []string{"pushed-5:expire/2"},
	}, {
		name:  "sinceImagePulled uses the push time of images never pulled, and restorations",
		rules: []string{rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, transition)},
		images: []Image{
			neverPulled,
			neverPulledNew,
			pulledBeforeRestore,
		},
		want: []string{"never-pulled:transition/1"},
	}, {
		name:  "sinceImagePulled with expire, extension",
		rules: []string{rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, expire)},
		opts:  Options{AllowExpireSincePulled: true},
		images: []Image{
			neverPulled,
			neverPulledNew,
		},
		want: []string{"never-pulled:expire/1"},
	}, {
		name: "one any rule per storage class",
		rules: []string{
			rule(1, keepOne, transition),
			rule(2, `"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90`, expire),
		},
		images: []Image{
			archived("archived-old", 120),
			archived("archived-new", 60),
			image("standard-old", 20),
			image("standard-new", 10),
		},
		// The archived images are not counted by rule 1.
		want: []string{"standard-old:transition/1", "archived-old:expire/2"},
	}, {
		name:  "an archived image with no archive time is kept",
		rules: []string{ruleE3},
		images: []Image{
			{Digest: "unknown", PushedAt: daysAgo(1000), StorageClass: StorageArchive},
		},
		want: nil,
	}, {
		name:  "a repeated digest counts once",
		rules: []string{rule(1, keepOne, expire)},
		images: []Image{
			image("a", 10),
			image("b", 5),
			image("a", 1),
		},
		want: []string{"a:expire/1"},
	}, {
		name:  "same push time: later in the slice is newer",
		rules: []string{rule(1, keepOne, expire)},
		images: []Image{
			image("second", 1),
			image("first", 1),
		},
		want: []string{"second:expire/1"},
	}, {
		name:  "a referrer cycle has no fate",
		rules: []string{rule(1, keepOne, expire)},
		images: []Image{
			referrer(image("x", 10), "y"),
			referrer(image("y", 10), "x"),
			referrer(image("self", 10), "self"),
		},
		want: nil,
	}, {
		name:   "no images",
		rules:  []string{ruleE4},
		images: nil,
		want:   nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(policy(tt.rules...), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkOutcome(t, p, tt.images, tt.want)
		})
	}
}

func TestEvaluateUnsortedRules(t *testing.T) {
	p := mustParse(t, policy(prodBetaRules(1, 2, "tagPatternList")...))
	images := []Image{
		image("A", 10, "beta-1", "prod-1"),
		image("B", 9, "beta-2", "prod-2"),
		image("C", 8, "beta-3"),
	}
	want := outcome(Evaluate(p, images, now))
	slices.Reverse(p.Rules)
	if got := outcome(Evaluate(p, images, now)); !slices.Equal(got, want) {
		t.Errorf("rules out of order: got %q, want %q", got, want)
	}
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, tag string
		want         bool
	}{
		{"prod*", "prod", true},
		{"prod*", "prod1", true},
		{"prod*", "production-team1", true},
		{"prod*", "preprod", false},
		{"*prod*", "repo-production", true},
		{"*prod*", "prod-team", true},
		{"*prod*", "pro-d", false},
		{"prod", "prod", true},
		{"prod", "prod1", false},
		{"*", "", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
		{"ab*ba", "abba", true},
		{"*test*1*2*3", "my-test-1-2-3", true},
		{"test*1*2*3*", "test123", true},
		{"*a*a*", "a", false},
		{"*a*a*", "aa", true},
	}
	for _, tt := range tests {
		if got := compilePattern(tt.pattern).match(tt.tag); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.tag, got, tt.want)
		}
	}
}

func TestDaysBefore(t *testing.T) {
	if got, want := daysBefore(now, 14), now.Add(-14*24*time.Hour); !got.Equal(want) {
		t.Errorf("daysBefore(now, 14) = %v, want %v", got, want)
	}
	// Far beyond time.Duration's 292 years, still in the past.
	if got := daysBefore(now, 1<<31-1); !got.Before(time.Time{}.AddDate(100, 0, 0)) {
		t.Errorf("daysBefore(now, MaxInt32) = %v", got)
	}
}
