package registry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

type oneRule []delivery.Rule

func (r oneRule) DeliveryRules(context.Context) ([]delivery.Rule, error) { return r, nil }

type anyEvent struct{}

func (anyEvent) MatchValue(map[string]any) bool { return true }

// TestDeadLetterOperations: the registry serves event delivery's dead
// letters to the registry's admins: listed in pages, redriven.
func TestDeadLetterOperations(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusBadRequest)
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer hook.Close()

	stores := registrytest.Open(t)
	meta := stores.Meta
	if err := meta.Update(ctx, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: registrytest.Scope.Account, CreatedAt: time.Now()})
	}); err != nil && !errors.Is(err, metadata.ErrExists) {
		t.Fatal(err)
	}
	arn := "arn:aws:events:us-east-1:" + registrytest.Scope.Account + ":rule/hook"
	rules := oneRule{{ARN: arn, Scope: registrytest.Scope, Targets: []delivery.Target{{ID: "t", Endpoint: hook.URL}}}}
	log := testutil.Logger()
	eng := delivery.New(delivery.Config{Store: meta, Source: rules, Leases: lease.New(meta, "p", time.Now, log),
		Compile: func(string) (delivery.Matcher, error) { return anyEvent{}, nil }, Poll: 10 * time.Millisecond, Log: log})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { eng.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	for c := int64(0); c == 0; c, _ = meta.Cursor(ctx, delivery.CursorName(arn)) {
		time.Sleep(5 * time.Millisecond)
	}
	var last int64
	for range 3 {
		ev, err := outbox.New(registrytest.Scope, time.Now(), outbox.SourceECR, outbox.TypeImageAction, nil, map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if err := meta.Update(ctx, func(tx metadata.Tx) error { return tx.AppendEvent(ctx, ev) }); err != nil {
			t.Fatal(err)
		}
		last, _ = meta.LastEventID(ctx)
	}
	eng.Wake()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, _ := meta.Cursor(ctx, delivery.CursorName(arn)); c == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the events were not given up on")
		}
		time.Sleep(5 * time.Millisecond)
	}

	reg := registry.New(meta, stores.Blobs, registry.Options{DeadLetters: eng, Logger: log})
	root := registrytest.Context()
	page, next, err := reg.ListDeadLetters(root, registrytest.Scope, "", "", 2)
	if err != nil || len(page) != 2 || next == "" {
		t.Fatalf("first page: %d, %q, %v", len(page), next, err)
	}
	rest, next2, err := reg.ListDeadLetters(root, registrytest.Scope, arn, next, 2)
	if err != nil || len(rest) != 1 || next2 != "" || rest[0].EventID != last {
		t.Fatalf("second page: %+v, %q, %v", rest, next2, err)
	}
	if _, _, err := reg.ListDeadLetters(root, registrytest.Scope, "", "not-a-token", 2); registry.CodeOf(err) == registry.CodeInternal || err == nil {
		t.Errorf("a bad token: %v", err)
	}
	// Only the registry's admins may list or redrive.
	for name, c := range map[string]context.Context{
		"an anonymous caller":    context.Background(),
		"another account's root": identity.NewContext(context.Background(), identity.Root("999988887777")),
	} {
		if _, _, err := reg.ListDeadLetters(c, registrytest.Scope, "", "", 10); registry.CodeOf(err) != registry.CodeAccessDenied && registry.CodeOf(err) != registry.CodeUnauthenticated {
			t.Errorf("%s lists dead letters: %v", name, err)
		}
		if _, err := reg.RedriveDeadLetters(c, registrytest.Scope, []string{page[0].ID}); err == nil {
			t.Errorf("%s redrives dead letters", name)
		}
	}

	status.Store(http.StatusOK)
	before := hits.Load()
	res, err := reg.RedriveDeadLetters(root, registrytest.Scope, []string{rest[0].ID, page[1].ID, page[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Delivered {
			t.Errorf("%+v", r)
		}
	}
	if n := hits.Load() - before; n != 3 {
		t.Errorf("%d invocations, want 3", n)
	}
	if left, _, _ := reg.ListDeadLetters(root, registrytest.Scope, "", "", 10); len(left) != 0 {
		t.Errorf("%d left", len(left))
	}

	// Without event delivery there are none.
	bare := registry.New(meta, stores.Blobs, registry.Options{Logger: log})
	if list, _, err := bare.ListDeadLetters(root, registrytest.Scope, "", "", 10); err != nil || len(list) != 0 {
		t.Errorf("%v %v", list, err)
	}
	if res, err := bare.RedriveDeadLetters(root, registrytest.Scope, []string{"x"}); err != nil || res[0].Delivered {
		t.Errorf("%v %v", res, err)
	}
}
