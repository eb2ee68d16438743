package delivery_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil"
)

type seq struct {
	Seq int `json:"seq"`
}

func TestDeliversMatchingEventsOfTheRulesRegistry(t *testing.T) {
	s := newStore(t, "")
	hook := newWebhook(t)
	arn := ruleARN(scopeA, "pushes")
	tg := target("hook", hook.URL+"/in?fixed=1")
	tg.Method = http.MethodPut
	tg.Headers = map[string]string{"X-Team": "platform"}
	tg.Query = map[string]string{"source": "ecrd"}
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Pattern: outbox.TypeImageAction, Targets: []delivery.Target{tg}})
	e := start(t, fastConfig(s, src, "p1"))
	waitStarted(t, s, arn)

	appendEvent(t, s, scopeA, outbox.TypeImageScan, seq{1})   // another pattern
	appendEvent(t, s, scopeB, outbox.TypeImageAction, seq{2}) // another account
	appendEvent(t, s, metadata.Scope{Account: scopeA.Account, Region: "eu-west-1"}, outbox.TypeImageAction, seq{3})
	id := appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{4})
	e.Wake()
	waitFor(t, "the delivery", func() bool { return len(hook.requests()) == 1 })
	waitFor(t, "the cursor", func() bool { c, _ := s.Cursor(ctx, delivery.CursorName(arn)); return c == id })

	got := hook.requests()[0]
	if got.Seq != 4 || got.Method != http.MethodPut || got.Path != "/in" {
		t.Errorf("got %+v", got)
	}
	if got.Query.Get("fixed") != "1" || got.Query.Get("source") != "ecrd" {
		t.Errorf("query %v", got.Query)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if got.Header.Get("X-Team") != "platform" || got.Header.Get("User-Agent") != "Amazon/EventBridge/ApiDestinations" {
		t.Errorf("headers %v", got.Header)
	}
	var env outbox.Envelope
	if err := json.Unmarshal(got.Body, &env); err != nil || env.DetailType != outbox.TypeImageAction || env.Account != scopeA.Account {
		t.Errorf("body %s: %v", got.Body, err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(hook.requests()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	if st := e.stats(arn); st.Delivered != 1 || st.Failed != 0 || st.Backlog != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestANewRuleGetsOnlyLaterEvents(t *testing.T) {
	s := newStore(t, "")
	hook := newWebhook(t)
	src := &rules{}
	e := start(t, fastConfig(s, src, "p1"))
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{1})
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{2})

	arn := ruleARN(scopeA, "late")
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{target("t", hook.URL)}})
	e.Wake()
	waitStarted(t, s, arn)
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{3})
	e.Wake()
	waitFor(t, "the delivery", func() bool { return len(hook.requests()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if got := hook.seqs(); !slices.Equal(got, []int{3}) {
		t.Fatalf("delivered %v, want [3]", got)
	}

	// Removed, the rule forgets its place; back, it starts at the end.
	src.set()
	e.Wake()
	waitFor(t, "the cursor reset", func() bool { c, _ := s.Cursor(ctx, delivery.CursorName(arn)); return c == 0 })
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{4})
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{target("t", hook.URL)}})
	e.Wake()
	waitStarted(t, s, arn)
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{5})
	e.Wake()
	waitFor(t, "the delivery", func() bool { return len(hook.requests()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if got := hook.seqs(); !slices.Equal(got, []int{3, 5}) {
		t.Fatalf("delivered %v, want [3 5]", got)
	}
}

func TestRetriesKeepTheRulesOrderAndOtherRulesGoOn(t *testing.T) {
	s := newStore(t, "")
	slow, healthy := newWebhook(t), newWebhook(t)
	// The first event fails three times; the webhook must see it retried
	// before any later event.
	slow.setRespond(func(r received, n int) int {
		if r.Seq == 1 && n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	release := make(chan struct{})
	var held atomic.Bool
	healthy.setRespond(func(received, int) int { return http.StatusOK })
	stuckHook := newWebhook(t)
	stuckHook.setRespond(func(received, int) int {
		held.Store(true)
		<-release
		return http.StatusOK
	})
	defer close(release)

	a, b, c := ruleARN(scopeA, "a"), ruleARN(scopeA, "b"), ruleARN(scopeA, "stuck")
	src := &rules{}
	src.set(
		delivery.Rule{ARN: a, Scope: scopeA, Targets: []delivery.Target{target("slow", slow.URL)}},
		delivery.Rule{ARN: b, Scope: scopeA, Targets: []delivery.Target{target("healthy", healthy.URL)}},
		delivery.Rule{ARN: c, Scope: scopeA, Targets: []delivery.Target{target("stuck", stuckHook.URL)}},
	)
	cfg := fastConfig(s, src, "p1")
	cfg.Timeout = time.Minute // the stuck webhook holds its request
	e := start(t, cfg)
	for _, arn := range []string{a, b, c} {
		waitStarted(t, s, arn)
	}
	for i := 1; i <= 3; i++ {
		appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{i})
	}
	e.Wake()
	waitFor(t, "the healthy rule's deliveries", func() bool { return len(healthy.requests()) == 3 })
	waitFor(t, "the retried rule's deliveries", func() bool { return len(slow.requests()) == 6 })
	if got := slow.seqs(); !slices.Equal(got, []int{1, 1, 1, 1, 2, 3}) {
		t.Errorf("the retried rule got %v, want [1 1 1 1 2 3]", got)
	}
	if got := healthy.seqs(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("the healthy rule got %v", got)
	}
	if !held.Load() || len(stuckHook.requests()) != 1 {
		t.Errorf("the stuck rule got %d requests", len(stuckHook.requests()))
	}
	if st := e.stats(a); st.Delivered != 3 || st.Failed != 3 || st.Retried != 3 || st.DeadLettered != 0 {
		t.Errorf("stats %+v", st)
	}
	if st := e.stats(c); st.Backlog != 3 {
		t.Errorf("the stuck rule's backlog is %d, want 3", st.Backlog)
	}
}

func TestGivingUpMakesDeadLetters(t *testing.T) {
	s := newStore(t, "")
	statuses := map[int]bool{ // status: retried
		400: false, 403: false, 404: false, 301: false, 401: true, 407: true, 408: true, 409: true, 429: true, 500: true, 503: true,
	}
	src := &rules{}
	var rs []delivery.Rule
	hooks := map[int]*webhook{}
	for status := range statuses {
		h := newWebhook(t)
		h.setRespond(func(received, int) int { return status })
		hooks[status] = h
		tg := target("t", h.URL)
		tg.MaxAttempts = 2
		rs = append(rs, delivery.Rule{ARN: ruleARN(scopeA, http.StatusText(status)[:3]+"-"+itoa(status)), Scope: scopeA, Targets: []delivery.Target{tg}})
	}
	src.set(rs...)
	e := start(t, fastConfig(s, src, "p1"))
	for _, r := range rs {
		waitStarted(t, s, r.ARN)
	}
	id := appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{7})
	e.Wake()
	for _, r := range rs {
		waitFor(t, "the cursor of "+r.ARN, func() bool { c, _ := s.Cursor(ctx, delivery.CursorName(r.ARN)); return c == id })
	}
	dead, next, err := e.DeadLetters(ctx, scopeA, "", "", 100)
	if err != nil || next != "" || len(dead) != len(statuses) {
		t.Fatalf("%d dead letters (%q, %v), want %d", len(dead), next, err, len(statuses))
	}
	for _, r := range rs {
		status := 0
		for st, h := range hooks {
			if strings.HasPrefix(r.Targets[0].Endpoint, h.URL) {
				status = st
			}
		}
		want := 1
		if statuses[status] {
			want = 3 // the first try and two retries
		}
		if n := len(hooks[status].requests()); n != want {
			t.Errorf("%d: %d invocations, want %d", status, n, want)
		}
		list, _, err := e.DeadLetters(ctx, scopeA, r.ARN, "", 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: %v %v", r.ARN, list, err)
		}
		d := list[0]
		if d.Attempts != want || d.EventID != id || d.Target != "t" || !strings.Contains(d.LastError, itoa(status)) ||
			d.ID != delivery.DeadLetterID("us-east-1", r.ARN, id, "t") {
			t.Errorf("dead letter %+v", d)
		}
		var env outbox.Envelope
		if json.Unmarshal(d.Event, &env) != nil || env.DetailType != outbox.TypeImageAction {
			t.Errorf("dead letter event %s", d.Event)
		}
	}
	// Paging.
	first, next, err := e.DeadLetters(ctx, scopeA, "", "", 4)
	if err != nil || len(first) != 4 || next != first[3].ID {
		t.Fatalf("first page: %d, %q, %v", len(first), next, err)
	}
	rest, next, err := e.DeadLetters(ctx, scopeA, "", next, 100)
	if err != nil || len(rest) != len(statuses)-4 || next != "" || rest[0].ID <= first[3].ID {
		t.Fatalf("second page: %d, %q, %v", len(rest), next, err)
	}
	if other, _, _ := e.DeadLetters(ctx, scopeB, "", "", 100); len(other) != 0 {
		t.Errorf("another account sees %d dead letters", len(other))
	}
	// The counters move just after the cursor's commit, which the test
	// waited for above: they are waited for too.
	var total uint64
	waitFor(t, "the dead letters in the stats", func() bool {
		total = 0
		for _, r := range e.Stats().Rules {
			total += r.DeadLettered
		}
		return total >= uint64(len(statuses))
	})
	if total != uint64(len(statuses)) {
		t.Errorf("stats count %d dead letters", total)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestMaxAgeEndsRetries runs in a synctest bubble: the backoff's pauses
// are on its clock, and so is the event's age.
func TestMaxAgeEndsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, "")
		hook, client := newBubbleWebhook(t)
		hook.setRespond(func(received, int) int { return http.StatusBadGateway })
		arn := ruleARN(scopeA, "aged")
		tg := target("t", hook.URL)
		tg.MaxAge = 2 * time.Minute
		src := &rules{}
		src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{tg}})
		log := testutil.Logger()
		cfg := delivery.Config{Store: s, Source: src, Leases: lease.New(s, "p1", time.Now, log), Compile: compile,
			HTTPClient: client, Log: log, RetryMax: 20 * time.Second}
		e := start(t, cfg)
		waitStartedBubble(t, s, arn)
		started := time.Now()
		id := appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{1})
		e.Wake()
		for {
			time.Sleep(time.Second)
			synctest.Wait()
			if c, _ := s.Cursor(ctx, delivery.CursorName(arn)); c == id {
				break
			}
			if time.Since(started) > time.Hour {
				t.Fatal("never gave up")
			}
		}
		took := time.Since(started)
		if took < 2*time.Minute || took > 2*time.Minute+25*time.Second {
			t.Errorf("gave up after %v, want soon after the 2m MaxAge", took)
		}
		// 1s, 2s, 4s, 8s, 16s, then 10-20s pauses: 10 to 15 tries in 2m.
		n := len(hook.requests())
		if n < 8 || n > 16 {
			t.Errorf("%d invocations", n)
		}
		dead, _, err := e.DeadLetters(ctx, scopeA, arn, "", 10)
		if err != nil || len(dead) != 1 || dead[0].Attempts != n {
			t.Fatalf("dead letters %+v (%v), want one of %d attempts", dead, err, n)
		}
		e.stop()
	})
}

func waitStartedBubble(t *testing.T, s metadata.Store, arn string) {
	t.Helper()
	for range 1000 {
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		if c, _ := s.Cursor(ctx, delivery.CursorName(arn)); c != 0 {
			return
		}
	}
	t.Fatal("the rule never started")
}

// TestRateLimit: a destination's invocations per second hold across its
// targets, on the bubble's clock.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, "")
		hook, client := newBubbleWebhook(t)
		src := &rules{}
		var rs []delivery.Rule
		for _, name := range []string{"r1", "r2"} {
			tg := target("t", hook.URL)
			tg.RateLimit = 2
			rs = append(rs, delivery.Rule{ARN: ruleARN(scopeA, name), Scope: scopeA, Targets: []delivery.Target{tg}})
		}
		src.set(rs...)
		log := testutil.Logger()
		e := start(t, delivery.Config{Store: s, Source: src, Leases: lease.New(s, "p1", time.Now, log), Compile: compile,
			HTTPClient: client, Log: log})
		for _, r := range rs {
			waitStartedBubble(t, s, r.ARN)
		}
		begin := time.Now()
		for i := 1; i <= 5; i++ {
			appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{i})
		}
		e.Wake()
		for len(hook.requests()) < 10 {
			time.Sleep(100 * time.Millisecond)
			if time.Since(begin) > time.Minute {
				t.Fatalf("%d deliveries in a minute", len(hook.requests()))
			}
		}
		// Two a second, evenly: the tenth 4.5s after the first.
		got := hook.requests()
		span := got[9].At.Sub(got[0].At)
		if span < 4400*time.Millisecond || span > 4600*time.Millisecond {
			t.Errorf("10 invocations took %v, want 4.5s", span)
		}
		for i := 2; i < len(got); i++ {
			if d := got[i].At.Sub(got[i-2].At); d < 990*time.Millisecond {
				t.Errorf("invocations %d and %d %v apart", i-2, i, d)
			}
		}
		e.stop()
	})
}

func TestRestartContinuesFromTheCursor(t *testing.T) {
	dir := t.TempDir()
	s1 := newStore(t, dir)
	hook := newWebhook(t)
	arn := ruleARN(scopeA, "r")
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{target("t", hook.URL)}})
	e1 := start(t, fastConfig(s1, src, "p1"))
	waitStarted(t, s1, arn)
	for i := 1; i <= 3; i++ {
		appendEvent(t, s1, scopeA, outbox.TypeImageAction, seq{i})
	}
	e1.Wake()
	waitFor(t, "three deliveries", func() bool { return len(hook.requests()) == 3 })
	// The fourth is in flight when the engine stops: the webhook took it
	// and has not answered.
	inFlight := make(chan struct{})
	answer := make(chan int)
	hook.setRespond(func(r received, n int) int {
		if r.Seq == 4 && n == 4 {
			close(inFlight)
			return <-answer
		}
		return http.StatusOK
	})
	appendEvent(t, s1, scopeA, outbox.TypeImageAction, seq{4})
	appendEvent(t, s1, scopeA, outbox.TypeImageAction, seq{5})
	e1.Wake()
	<-inFlight
	stopped := make(chan struct{})
	go func() { e1.stop(); close(stopped) }()
	<-stopped // its request was cancelled
	go func() { answer <- http.StatusOK }()

	// Another process on the same database.
	s2 := newStore(t, dir)
	e2 := start(t, fastConfig(s2, src, "p2"))
	waitFor(t, "the rest", func() bool { return len(hook.requests()) == 6 })
	time.Sleep(50 * time.Millisecond)
	if got := hook.seqs(); !slices.Equal(got, []int{1, 2, 3, 4, 4, 5}) {
		t.Fatalf("delivered %v, want [1 2 3 4 4 5]: only the event in flight repeated", got)
	}
	if st := e2.stats(arn); st.Delivered != 2 {
		t.Errorf("the second engine's stats %+v", st)
	}
}

func TestOneEngineDeliversAtATime(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := newStore(t, dir), newStore(t, dir)
	hook := newWebhook(t)
	arn := ruleARN(scopeA, "r")
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{target("t", hook.URL)}})
	e1 := start(t, fastConfig(s1, src, "p1"))
	e2 := start(t, fastConfig(s2, src, "p2"))
	waitStarted(t, s1, arn)
	for i := 1; i <= 20; i++ {
		appendEvent(t, s1, scopeA, outbox.TypeImageAction, seq{i})
		e1.Wake()
		e2.Wake()
	}
	waitFor(t, "20 deliveries", func() bool { return len(hook.requests()) >= 20 })
	time.Sleep(100 * time.Millisecond)
	want := make([]int, 20)
	for i := range want {
		want[i] = i + 1
	}
	if got := hook.seqs(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v", got)
	}
	holders := 0
	var holder, other *engine
	for _, e := range []*engine{e1, e2} {
		if len(e.Stats().Rules) > 0 {
			holders++
			holder = e
		} else {
			other = e
		}
	}
	if holders != 1 {
		t.Fatalf("%d engines deliver", holders)
	}
	// The holder stops; the other takes over where it stopped.
	holder.stop()
	appendEvent(t, s1, scopeA, outbox.TypeImageAction, seq{21})
	other.Wake()
	waitFor(t, "the 21st", func() bool { return len(hook.requests()) == 21 })
	if got := hook.seqs(); got[20] != 21 {
		t.Fatalf("delivered %v", got)
	}
}

func TestRedrive(t *testing.T) {
	s := newStore(t, "")
	hook := newWebhook(t)
	hook.setRespond(func(received, int) int { return http.StatusBadRequest })
	arn := ruleARN(scopeA, "r")
	tg := target("t", hook.URL)
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{tg}})
	e := start(t, fastConfig(s, src, "p1"))
	waitStarted(t, s, arn)
	var ids []int64
	for i := 1; i <= 3; i++ {
		ids = append(ids, appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{i}))
	}
	e.Wake()
	waitFor(t, "the dead letters", func() bool { c, _ := s.Cursor(ctx, delivery.CursorName(arn)); return c == ids[2] })
	dead, _, err := e.DeadLetters(ctx, scopeA, arn, "", 10)
	if err != nil || len(dead) != 3 {
		t.Fatalf("%d dead letters, %v", len(dead), err)
	}
	// The receiver fails the first again: the later ones wait, in order.
	hook.setRespond(func(r received, _ int) int {
		if r.Seq == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	idList := []string{dead[2].ID, dead[0].ID, dead[1].ID, "us-east-1/r/00000000000000000099/t"}
	res, err := e.Redrive(ctx, scopeA, idList)
	if err != nil {
		t.Fatal(err)
	}
	if res[1].Delivered || !strings.Contains(res[1].Error, "500") || res[0].Delivered || res[2].Delivered || res[3].Error != "no such dead letter" {
		t.Fatalf("results %+v", res)
	}
	if n := len(hook.requests()); n != 4 {
		t.Fatalf("%d requests, want 4 (three dead letters, one redrive)", n)
	}
	after, _, _ := e.DeadLetters(ctx, scopeA, arn, "", 10)
	if len(after) != 3 || after[0].Attempts != 2 || !strings.Contains(after[0].LastError, "500") {
		t.Fatalf("after a failed redrive: %+v", after)
	}

	hook.setRespond(nil)
	res, err = e.Redrive(ctx, scopeA, idList[:3])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Delivered {
			t.Errorf("%+v", r)
		}
	}
	if got := hook.seqs()[4:]; !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("redriven in the order %v", got)
	}
	if after, _, _ := e.DeadLetters(ctx, scopeA, arn, "", 10); len(after) != 0 {
		t.Errorf("%d dead letters left", len(after))
	}
	// Another account cannot redrive them.
	if res, _ := e.Redrive(ctx, scopeB, []string{dead[0].ID}); res[0].Delivered {
		t.Error("redriven by another account")
	}
}
