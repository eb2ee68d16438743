package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// clock is a settable clock shared by the processes of a test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLeases(t *testing.T) {
	ctx := context.Background()
	meta := metadatatest.DoubleRun(testutil.SQLite(t, t.TempDir()))
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := lease.New(meta, "a", c.now, testutil.Logger())
	b := lease.New(meta, "b", c.now, testutil.Logger())

	la, err := a.Acquire(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "job"); !errors.Is(err, lease.ErrBusy) {
		t.Fatalf("second process acquired a held lease: %v, want ErrBusy", err)
	}
	// Two runs of one process exclude each other too.
	if _, err := a.Acquire(ctx, "job"); !errors.Is(err, lease.ErrBusy) {
		t.Fatalf("second run acquired a held lease: %v, want ErrBusy", err)
	}
	if _, err := b.Acquire(ctx, "other"); err != nil {
		t.Fatalf("another job's lease: %v", err)
	}

	// Past the TTL, another process takes it; the first one's writes
	// then fail and write nothing.
	c.t = c.t.Add(lease.TTL + time.Second)
	lb, err := b.Acquire(ctx, "job")
	if err != nil {
		t.Fatalf("expired lease: %v", err)
	}
	wrote := false
	err = la.Update(ctx, func(tx metadata.Tx) error { wrote = true; return nil })
	if !errors.Is(err, lease.ErrLost) || wrote {
		t.Fatalf("update under a lost lease: err %v, ran %v; want ErrLost, not run", err, wrote)
	}
	c.t = c.t.Add(lease.TTL / 4)
	if err := la.Keep(ctx); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("keep of a lost lease: %v, want ErrLost", err)
	}
	if err := lb.Keep(ctx); err != nil {
		t.Fatalf("keep of a held lease: %v", err)
	}

	// Release frees it at once.
	lb.Release()
	la2, err := a.Acquire(ctx, "job")
	if err != nil {
		t.Fatalf("released lease: %v", err)
	}

	// A restart under the same name takes its previous run's leases back.
	n, err := a.ReleasePrevious(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ReleasePrevious: %d, %v; want 1", n, err)
	}
	if _, err := b.Acquire(ctx, "job"); err != nil {
		t.Fatalf("lease of a restarted process: %v", err)
	}
	if err := la2.Update(ctx, func(metadata.Tx) error { return nil }); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("update after the restart released it: %v, want ErrLost", err)
	}
}
