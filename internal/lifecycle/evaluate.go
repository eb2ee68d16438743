package lifecycle

import (
	"cmp"
	"slices"
	"time"
)

// Image is what the evaluator knows of one image.
type Image struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
	// LastPulledAt is zero if the image was never pulled.
	LastPulledAt time.Time
	// LastActivatedAt is zero if the image was never restored from archive.
	LastActivatedAt time.Time
	// StorageClass is standard or archive; "" reads as standard.
	StorageClass StorageClass
	// ArchivedAt is when the image last moved to archive (zero if never).
	ArchivedAt time.Time
	// Children are the digests this image, an index, lists as manifests.
	Children []string
	// Subject is the digest of the image this one refers to (OCI
	// referrer), or "".
	Subject string
}

// Decision is one action the policy takes on one image.
type Decision struct {
	Digest string
	// Image is the image's position in the slice given to Evaluate (its
	// first, for a digest given twice), so that a caller holding more
	// about each image finds it without a map of its own.
	Image        int
	Action       Action
	RulePriority int
	// FollowedSubject is set when the image is a referrer that goes with
	// its subject: it is the subject's digest.
	FollowedSubject string
}

const secondsPerDay = 24 * 60 * 60

// Evaluate applies p to the images of one repository at time now and
// returns at most one decision per image, ordered by rule priority, then
// push time (oldest first), then digest.
//
// Images should be given in push order: ties in time count the later image
// as the newer. A digest given twice is only considered the first time.
func Evaluate(p Policy, images []Image, now time.Time) []Decision {
	e := newEvaluation(images)
	rules := slices.Clone(p.Rules)
	slices.SortStableFunc(rules, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	e.applyRules(rules, now)
	e.followSubjects()
	e.protectIndexChildren()
	return e.decisions()
}

// fate is the action an image goes with in this evaluation, whether or not
// it applies to the image itself (an archived referrer of an image being
// archived stays as it is, but its own referrers follow).
type fate struct {
	action   Action
	priority int
	set      bool
}

// evaluation holds one Evaluate call's state. Images are known by their
// position in the slice given.
type evaluation struct {
	images []Image
	class  []StorageClass
	// at is when each image counts as pushed (see orderTime).
	at []time.Time
	// order lists the images rules apply to (neither referrers nor
	// repeated digests), oldest first.
	order []int
	// subject is the position of an image's subject, or -1: none, or not
	// in the repository (dangling).
	subject   []int
	dangling  []bool
	referrers map[int][]int
	children  map[int][]int
	parents   map[int][]int
	fate      []fate
	// acts says the image's fate applies to it: it gets a decision.
	acts []bool
}

func newEvaluation(images []Image) *evaluation {
	n := len(images)
	e := &evaluation{
		images:    images,
		class:     make([]StorageClass, n),
		at:        make([]time.Time, n),
		subject:   make([]int, n),
		dangling:  make([]bool, n),
		referrers: make(map[int][]int),
		children:  make(map[int][]int),
		parents:   make(map[int][]int),
		fate:      make([]fate, n),
		acts:      make([]bool, n),
	}
	pos := make(map[string]int, n)
	live := make([]bool, n)
	for i, img := range images {
		if _, dup := pos[img.Digest]; !dup {
			pos[img.Digest] = i
			live[i] = true
		}
	}
	for i, img := range images {
		e.subject[i] = -1
		if !live[i] {
			continue
		}
		e.class[i] = normalClass(img.StorageClass)
		e.at[i] = orderTime(&images[i])
		for _, c := range img.Children {
			if ci, ok := pos[c]; ok {
				e.children[i] = append(e.children[i], ci)
				e.parents[ci] = append(e.parents[ci], i)
			}
		}
		switch s, ok := pos[img.Subject]; {
		case img.Subject == "":
			e.order = append(e.order, i)
		case ok:
			e.subject[i] = s
			e.referrers[s] = append(e.referrers[s], i)
		default:
			e.dangling[i] = true
		}
	}
	slices.SortFunc(e.order, func(a, b int) int {
		if c := e.at[a].Compare(e.at[b]); c != 0 {
			return c
		}
		return a - b
	})
	return e
}

// orderTime is when an image counts as pushed: a restored image counts
// from its restoration.
func orderTime(img *Image) time.Time {
	if !img.LastActivatedAt.IsZero() {
		return img.LastActivatedAt
	}
	return img.PushedAt
}

// pullTime is when an image was last used: pulled, or else pushed, or
// restored if that came later.
func pullTime(img *Image) time.Time {
	t := img.PushedAt
	if !img.LastPulledAt.IsZero() {
		t = img.LastPulledAt
	}
	if img.LastActivatedAt.After(t) {
		t = img.LastActivatedAt
	}
	return t
}

// daysBefore is now minus n days, without the overflow of time.Duration
// past 292 years.
func daysBefore(now time.Time, n int) time.Time {
	return time.Unix(now.Unix()-int64(n)*secondsPerDay, int64(now.Nanosecond()))
}

// applies reports whether an action can be taken on an image of the given
// storage class: only standard images move to archive.
func applies(class StorageClass, a Action) bool {
	switch a.Type {
	case ActionExpire:
		return true
	case ActionTransition:
		return class == StorageStandard
	}
	return false
}

// applyRules gives images their fate from the rules, given in priority
// order, and expires dangling referrers.
func (e *evaluation) applyRules(rules []Rule, now time.Time) {
	// claimed marks the images a higher-priority rule identified: later
	// rules still count them but may not mark them.
	claimed := make([]bool, len(e.images))
	for _, r := range rules {
		sel := newSelector(r.Selection)
		count := r.Selection.CountNumber
		cutoff := daysBefore(now, count)
		seen := 0
		for k := len(e.order) - 1; k >= 0; k-- { // newest first
			i := e.order[k]
			img := &e.images[i]
			if !sel.selects(e.class[i], img.Tags) {
				continue
			}
			var candidate bool
			switch r.Selection.CountType {
			case ImageCountMoreThan:
				seen++
				candidate = seen > count
			case SinceImagePushed:
				candidate = e.at[i].Before(cutoff)
			case SinceImagePulled:
				candidate = pullTime(img).Before(cutoff)
			case SinceImageTransitioned:
				// An archived image of unknown archive time is kept:
				// deleting is not undone.
				candidate = e.class[i] == StorageArchive && !img.ArchivedAt.IsZero() && img.ArchivedAt.Before(cutoff)
			}
			if candidate && !claimed[i] && applies(e.class[i], r.Action) {
				e.fate[i] = fate{action: r.Action, priority: r.Priority, set: true}
			}
			claimed[i] = true
		}
	}
	for i, d := range e.dangling {
		if d {
			e.fate[i] = fate{action: Action{Type: ActionExpire}, set: true}
		}
	}
}

// followSubjects gives referrers the fate of their subjects, down chains
// of referrers. Referrers in a cycle (impossible with content-addressed
// digests) reach no image rules apply to and keep no fate.
func (e *evaluation) followSubjects() {
	var work []int
	for i, f := range e.fate {
		if f.set && e.subject[i] < 0 {
			work = append(work, i)
		}
	}
	for len(work) > 0 {
		s := work[len(work)-1]
		work = work[:len(work)-1]
		for _, r := range e.referrers[s] {
			e.fate[r] = e.fate[s]
			work = append(work, r)
		}
	}
	for i, f := range e.fate {
		e.acts[i] = f.set && applies(e.class[i], f.action)
	}
}

// holds reports whether index p, as it will be after this evaluation,
// keeps a child it lists from action a: a child may be expired once the
// index is, and archived once the index is expired or archived.
func (e *evaluation) holds(p int, a ActionType) bool {
	switch a {
	case ActionExpire:
		return !e.acts[p] || e.fate[p].action.Type != ActionExpire
	case ActionTransition:
		return !e.acts[p] && e.class[p] == StorageStandard
	}
	return true
}

// protectIndexChildren drops the decisions on images an index keeps. An
// image kept so is no longer followed by its referrers, and no longer
// releases the images it lists itself, so dropping spreads; decisions are
// only ever dropped, so a worklist reaches the fixpoint in linear time.
func (e *evaluation) protectIndexChildren() {
	var work []int
	// keep drops image i's fate; it stays as it is.
	keep := func(i int) {
		e.fate[i].set = false
		e.acts[i] = false
		work = append(work, i)
	}
	for c, parents := range e.parents {
		if !e.acts[c] {
			continue
		}
		for _, p := range parents {
			if e.holds(p, e.fate[c].action.Type) {
				keep(c)
				break
			}
		}
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		for _, c := range e.children[i] {
			if e.acts[c] && e.holds(i, e.fate[c].action.Type) {
				keep(c)
			}
		}
		for _, r := range e.referrers[i] {
			if e.fate[r].set {
				keep(r)
			}
		}
	}
}

// decisions lists the images that act, in the documented order.
func (e *evaluation) decisions() []Decision {
	var acting []int
	for i, acts := range e.acts {
		if acts {
			acting = append(acting, i)
		}
	}
	slices.SortFunc(acting, func(a, b int) int {
		if c := cmp.Compare(e.fate[a].priority, e.fate[b].priority); c != 0 {
			return c
		}
		if c := e.images[a].PushedAt.Compare(e.images[b].PushedAt); c != 0 {
			return c
		}
		return cmp.Compare(e.images[a].Digest, e.images[b].Digest)
	})
	if len(acting) == 0 {
		return nil
	}
	out := make([]Decision, 0, len(acting))
	for _, i := range acting {
		d := Decision{Digest: e.images[i].Digest, Image: i, Action: e.fate[i].action, RulePriority: e.fate[i].priority}
		if e.subject[i] >= 0 || e.dangling[i] {
			d.FollowedSubject = e.images[i].Subject
		}
		out = append(out, d)
	}
	return out
}
