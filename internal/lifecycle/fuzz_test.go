package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzSource hands out fuzz bytes as small choices; past the end it
// hands out zeros.
type fuzzSource []byte

func (s *fuzzSource) byte() byte {
	if len(*s) == 0 {
		return 0
	}
	b := (*s)[0]
	*s = (*s)[1:]
	return b
}

func (s *fuzzSource) intn(n int) int { return int(s.byte()) % n }

func pick[T any](s *fuzzSource, from []T) T { return from[s.intn(len(from))] }

var (
	fuzzTags     = []string{"prod-1", "prod-2", "beta-1", "beta-2", "release-1", "latest", "prodx", "x-1"}
	fuzzPrefixes = []string{"prod", "beta", "release", "prod-", "x", "l"}
	fuzzPatterns = []string{"prod*", "*-1", "beta*", "*", "release-*", "prod-1", "*a*", "*e*t*", "x*1"}
	fuzzDays     = []int{1, 2, 7, 14, 30, 60, 89, 90, 120, 365}
)

// fuzzRepository builds up to 24 images: tags from a small alphabet, push
// times on a few days (so that ties happen), some pulled, restored or
// archived, some indexes, some referrers, dangling ones included.
func fuzzRepository(s *fuzzSource) []Image {
	n := 1 + s.intn(24)
	digest := func(i int) string { return fmt.Sprintf("sha256:%02d", i) }
	images := make([]Image, n)
	for i := range images {
		img := Image{Digest: digest(i), PushedAt: daysAgo(s.intn(150)), StorageClass: StorageStandard}
		if s.intn(8) == 0 {
			img.Digest = digest(s.intn(n)) // a repeated digest
		}
		for range s.intn(4) {
			img.Tags = append(img.Tags, pick(s, fuzzTags))
		}
		if s.intn(2) == 0 {
			img.LastPulledAt = daysAgo(s.intn(150))
		}
		if s.intn(6) == 0 {
			img.LastActivatedAt = daysAgo(s.intn(100))
		}
		if s.intn(4) == 0 {
			img.StorageClass = StorageArchive
			if s.intn(8) != 0 {
				img.ArchivedAt = daysAgo(s.intn(400))
			}
		}
		if s.intn(4) == 0 {
			for range 1 + s.intn(3) {
				img.Children = append(img.Children, digest(s.intn(n+2)))
			}
		}
		if s.intn(5) == 0 {
			img.Subject = digest(s.intn(n + 2)) // past n: dangling
		}
		images[i] = img
	}
	return images
}

// fuzzRuleJSON builds one rule, valid or not: Parse decides.
func fuzzRuleJSON(s *fuzzSource) map[string]any {
	sel := map[string]any{}
	switch s.intn(4) {
	case 0, 1:
		sel["tagStatus"] = "tagged"
		key, from := "tagPrefixList", fuzzPrefixes
		if s.intn(2) == 0 {
			key, from = "tagPatternList", fuzzPatterns
		}
		var list []string
		for range 1 + s.intn(2) {
			list = append(list, pick(s, from))
		}
		sel[key] = list
	case 2:
		sel["tagStatus"] = "untagged"
	default:
		sel["tagStatus"] = "any"
	}
	countType := pick(s, countTypes)
	sel["countType"] = countType
	if countType == string(ImageCountMoreThan) {
		sel["countNumber"] = 1 + s.intn(5)
	} else {
		sel["countUnit"] = UnitDays
		sel["countNumber"] = pick(s, fuzzDays)
	}
	if countType == string(SinceImageTransitioned) || s.intn(8) == 0 {
		sel["storageClass"] = "archive"
	}
	action := map[string]any{"type": "expire"}
	if s.intn(2) == 0 {
		action = map[string]any{"type": "transition", "targetStorageClass": "archive"}
	}
	return map[string]any{"rulePriority": 1 + s.intn(20), "selection": sel, "action": action}
}

func policyText(rules []map[string]any) string {
	b, err := json.Marshal(map[string]any{"rules": rules})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// fuzzPolicy builds a valid policy of up to six rules, keeping each random
// rule that Parse accepts alongside the ones kept so far. It returns the
// rules as JSON too, for reordering.
func fuzzPolicy(s *fuzzSource, opts Options) (Policy, []map[string]any, bool) {
	var kept []map[string]any
	for range 1 + s.intn(6) {
		r := fuzzRuleJSON(s)
		if _, err := Parse(policyText(append(slices.Clone(kept), r)), opts); err == nil {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return Policy{}, nil, false
	}
	p, err := Parse(policyText(kept), opts)
	if err != nil {
		panic(err)
	}
	return p, kept, true
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice over"))
	// Long random seeds give the fuzzer rich repositories and policies
	// to start from; short inputs run out of bytes early.
	r := rand.New(rand.NewPCG(1, 2))
	for range 32 {
		seed := make([]byte, 400)
		for i := range seed {
			seed[i] = byte(r.Uint32())
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzSource(data)
		opts := Options{AllowExpireSincePulled: s.intn(2) == 0}
		images := fuzzRepository(&s)
		p, rules, ok := fuzzPolicy(&s, opts)
		if !ok {
			return
		}
		got := Evaluate(p, images, now)

		if again := Evaluate(p, images, now); !reflect.DeepEqual(again, got) {
			t.Fatalf("second evaluation differs:\n%v\n%v", again, got)
		}
		shuffled := slices.Clone(rules)
		for i := len(shuffled) - 1; i > 0; i-- {
			j := s.intn(i + 1)
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		}
		q, err := Parse(policyText(shuffled), opts)
		if err != nil {
			t.Fatalf("reordered policy refused: %v", err)
		}
		if !reflect.DeepEqual(q, p) {
			t.Fatalf("reordered policy parses differently:\n%+v\n%+v", q, p)
		}
		if again := Evaluate(q, images, now); !reflect.DeepEqual(again, got) {
			t.Fatalf("reordered policy decides differently:\n%v\n%v", again, got)
		}
		checkInvariants(t, p, images, got)
		if want := referenceEvaluate(p, images, now); !reflect.DeepEqual(got, want) {
			t.Fatalf("Evaluate differs from the reference model:\n got %v\nwant %v\npolicy %s\nimages %+v", got, want, p, images)
		}
	})
}

// checkInvariants checks what must hold of any outcome, whatever the
// policy.
func checkInvariants(t *testing.T, p Policy, images []Image, ds []Decision) {
	t.Helper()
	first := map[string]Image{}
	for _, img := range images {
		if _, ok := first[img.Digest]; !ok {
			first[img.Digest] = img
		}
	}
	byDigest := map[string]Decision{}
	for _, d := range ds {
		if _, dup := byDigest[d.Digest]; dup {
			t.Fatalf("two decisions for %s: %v", d.Digest, ds)
		}
		byDigest[d.Digest] = d
	}
	for _, d := range ds {
		img, ok := first[d.Digest]
		if !ok {
			t.Fatalf("decision for an unknown image: %+v", d)
		}
		if d.Image < 0 || d.Image >= len(images) || images[d.Image].Digest != d.Digest {
			t.Fatalf("decision %+v names the wrong position", d)
		}
		if d.Action.Type == ActionTransition && normalClass(img.StorageClass) != StorageStandard {
			t.Errorf("transition of an archived image: %+v", d)
		}
		if d.FollowedSubject != "" {
			if d.FollowedSubject != img.Subject {
				t.Errorf("%s follows %s, its subject is %s", d.Digest, d.FollowedSubject, img.Subject)
			}
			subject, present := first[img.Subject]
			sd, decided := byDigest[img.Subject]
			switch {
			case !present:
				if d.RulePriority != 0 || d.Action.Type != ActionExpire {
					t.Errorf("dangling referrer not expired by rule 0: %+v", d)
				}
			case decided:
				if sd.Action != d.Action || sd.RulePriority != d.RulePriority {
					t.Errorf("referrer %+v does not go with its subject %+v", d, sd)
				}
			case d.Action.Type != ActionTransition || normalClass(subject.StorageClass) != StorageArchive:
				t.Errorf("referrer %+v acts while its subject stays", d)
			}
			continue
		}
		if img.Subject != "" {
			t.Errorf("referrer %s decided by a rule: %+v", d.Digest, d)
		}
		// The rule exists, identifies the image, and no higher rule does.
		i := slices.IndexFunc(p.Rules, func(r Rule) bool { return r.Priority == d.RulePriority })
		if i < 0 {
			t.Fatalf("decision by a rule not in the policy: %+v", d)
		}
		if !referenceSelects(p.Rules[i].Selection, img) {
			t.Errorf("%+v: rule %d does not identify %s", d, d.RulePriority, d.Digest)
		}
		for _, r := range p.Rules[:i] {
			if referenceSelects(r.Selection, img) {
				t.Errorf("%+v: higher rule %d identified %s", d, r.Priority, d.Digest)
			}
		}
	}
	// No child of an index that stays is acted on.
	for digest, idx := range first {
		d, decided := byDigest[digest]
		for _, c := range idx.Children {
			cd, ok := byDigest[c]
			if !ok || c == digest {
				continue
			}
			switch cd.Action.Type {
			case ActionExpire:
				if !decided || d.Action.Type != ActionExpire {
					t.Errorf("%s expired, its index %s stays", c, digest)
				}
			case ActionTransition:
				if !decided && normalClass(idx.StorageClass) == StorageStandard {
					t.Errorf("%s archived, its index %s stays in standard storage", c, digest)
				}
			}
		}
	}
}

// referenceSelects is the documented tag selection, patterns done with
// regular expressions.
func referenceSelects(s Selection, img Image) bool {
	if normalClass(img.StorageClass) != s.StorageClass {
		return false
	}
	switch s.TagStatus {
	case TagStatusAny:
		return true
	case TagStatusUntagged:
		return len(img.Tags) == 0
	}
	if len(img.Tags) == 0 {
		return false
	}
	for _, prefix := range s.TagPrefixList {
		if !slices.ContainsFunc(img.Tags, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
			return false
		}
	}
	for _, p := range s.TagPatternList {
		parts := strings.Split(p, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
		if !slices.ContainsFunc(img.Tags, re.MatchString) {
			return false
		}
	}
	return true
}

// referenceEvaluate is a slow, literal reading of the package comment: the
// documented identified/marked steps, then the follow and protection rules
// iterated until nothing changes.
func referenceEvaluate(p Policy, images []Image, now time.Time) []Decision {
	var imgs []Image // first of each digest
	at := map[string]int{}
	given := map[string]int{} // position in images
	for i, img := range images {
		if _, ok := at[img.Digest]; !ok {
			at[img.Digest] = len(imgs)
			given[img.Digest] = i
			imgs = append(imgs, img)
		}
	}
	isReferrer := func(i int) bool { return imgs[i].Subject != "" }
	orderOf := func(img Image) time.Time {
		if !img.LastActivatedAt.IsZero() {
			return img.LastActivatedAt
		}
		return img.PushedAt
	}
	type fateOf struct {
		action   Action
		priority int
	}
	ruled := map[int]fateOf{}
	claimed := map[int]bool{}
	for _, r := range p.Rules {
		var identified []int
		for i := range imgs {
			if !isReferrer(i) && referenceSelects(r.Selection, imgs[i]) {
				identified = append(identified, i)
			}
		}
		cutoff := now.Add(-time.Duration(r.Selection.CountNumber) * 24 * time.Hour)
		candidates := map[int]bool{}
		switch r.Selection.CountType {
		case ImageCountMoreThan:
			newestFirst := slices.Clone(identified)
			slices.SortStableFunc(newestFirst, func(a, b int) int {
				if c := orderOf(imgs[b]).Compare(orderOf(imgs[a])); c != 0 {
					return c
				}
				return b - a // later in the slice is newer
			})
			for k, i := range newestFirst {
				candidates[i] = k >= r.Selection.CountNumber
			}
		case SinceImagePushed:
			for _, i := range identified {
				candidates[i] = orderOf(imgs[i]).Before(cutoff)
			}
		case SinceImagePulled:
			for _, i := range identified {
				t := imgs[i].PushedAt
				if !imgs[i].LastPulledAt.IsZero() {
					t = imgs[i].LastPulledAt
				}
				if imgs[i].LastActivatedAt.After(t) {
					t = imgs[i].LastActivatedAt
				}
				candidates[i] = t.Before(cutoff)
			}
		case SinceImageTransitioned:
			for _, i := range identified {
				a := imgs[i].ArchivedAt
				candidates[i] = !a.IsZero() && a.Before(cutoff)
			}
		}
		for _, i := range identified {
			if candidates[i] && !claimed[i] && applies(normalClass(imgs[i].StorageClass), r.Action) {
				ruled[i] = fateOf{r.Action, r.Priority}
			}
		}
		for _, i := range identified {
			claimed[i] = true
		}
	}
	for i := range imgs {
		if _, ok := at[imgs[i].Subject]; isReferrer(i) && !ok {
			ruled[i] = fateOf{Action{Type: ActionExpire}, 0}
		}
	}
	kept := map[int]bool{}
	// fate follows subjects; a chain longer than the repository is a
	// cycle.
	fate := func(i int) (fateOf, bool) {
		for range len(imgs) + 1 {
			if kept[i] {
				return fateOf{}, false
			}
			s, ok := at[imgs[i].Subject]
			if !isReferrer(i) || !ok {
				f, ok := ruled[i]
				return f, ok
			}
			i = s
		}
		return fateOf{}, false
	}
	acts := func(i int) (fateOf, bool) {
		f, ok := fate(i)
		return f, ok && applies(normalClass(imgs[i].StorageClass), f.action)
	}
	for changed := true; changed; {
		changed = false
		for pi, idx := range imgs {
			pf, pActs := acts(pi)
			for _, c := range idx.Children {
				ci, ok := at[c]
				if !ok {
					continue
				}
				cf, cActs := acts(ci)
				if !cActs {
					continue
				}
				var holds bool
				if cf.action.Type == ActionExpire {
					holds = !pActs || pf.action.Type != ActionExpire
				} else {
					holds = !pActs && normalClass(idx.StorageClass) == StorageStandard
				}
				if holds {
					kept[ci] = true
					changed = true
				}
			}
		}
	}
	var out []Decision
	for i, img := range imgs {
		f, ok := acts(i)
		if !ok {
			continue
		}
		d := Decision{Digest: img.Digest, Image: given[img.Digest], Action: f.action, RulePriority: f.priority}
		if isReferrer(i) {
			d.FollowedSubject = img.Subject
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Decision) int {
		if a.RulePriority != b.RulePriority {
			return a.RulePriority - b.RulePriority
		}
		if c := imgs[at[a.Digest]].PushedAt.Compare(imgs[at[b.Digest]].PushedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Digest, b.Digest)
	})
	return out
}

func FuzzParse(f *testing.F) {
	for _, r := range []string{ruleE1, ruleE2, ruleE3, ruleE4} {
		f.Add(policy(r), false)
	}
	f.Add(policy(prodBetaRules(1, 2, "tagPrefixList")...), false)
	f.Add(policy(rule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30`, expire)), true)
	f.Add(policy(rule(1, untagged7, expire), rule(2, tagged("tagPatternList", "a*b*c", "<&>"), transition), rule(3, anyCount, expire)), false)
	f.Add(`{"rules":[{"rulePriority":1,"description":"\u00e9\ufffd","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}],"rules":[]}`, false)
	f.Add(`{"rules":[{"foo":1}]}`, false)
	f.Add(`[]`, false)
	f.Add(`null`, false)
	f.Fuzz(func(t *testing.T, text string, allowExpireSincePulled bool) {
		opts := Options{AllowExpireSincePulled: allowExpireSincePulled}
		p, err := Parse(text, opts)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Detail == "" {
				t.Fatalf("Parse error %v is not a ValidationError with a detail", err)
			}
			return
		}
		if len(p.Rules) == 0 {
			t.Fatalf("policy without rules accepted: %s", text)
		}
		checkRoundTrip(t, p, opts)
	})
}
