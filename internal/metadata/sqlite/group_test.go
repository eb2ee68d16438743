package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestGroupCommit runs many Updates at once, as concurrent pushes do, so
// that the committer runs them in batches: each batch shares one commit,
// a failing transaction's writes are undone without touching the others
// of its batch, a panic reaches its own caller, an Update whose context
// ended before its turn does nothing, and everything acknowledged is
// there after a reopen.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	scope := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	errFail := errors.New("refused")
	const n = 200
	var wg sync.WaitGroup
	results := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			results[i] = s.Update(ctx, func(tx metadata.Tx) error {
				if err := tx.PutAccountSetting(ctx, scope, fmt.Sprintf("k%03d", i), "v"); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errFail // written, then refused: rolled back
				case 7:
					panic(fmt.Sprintf("panic %d", i))
				}
				return nil
			})
		})
	}
	wg.Wait()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Update(cancelled, func(tx metadata.Tx) error { return tx.PutAccountSetting(ctx, scope, "cancelled", "v") }); !errors.Is(err, context.Canceled) {
		t.Errorf("an Update with an ended context: %v", err)
	}
	for i := range n {
		switch i % 10 {
		case 3:
			if !errors.Is(results[i], errFail) {
				t.Errorf("update %d: %v, want its own error", i, results[i])
			}
		case 7:
			if panics[i] != fmt.Sprintf("panic %d", i) {
				t.Errorf("update %d: panic %v", i, panics[i])
			}
		default:
			if results[i] != nil || panics[i] != nil {
				t.Errorf("update %d: %v %v", i, results[i], panics[i])
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		_, err := s.AccountSetting(ctx, scope, fmt.Sprintf("k%03d", i))
		if want := i%10 != 3 && i%10 != 7; want != (err == nil) {
			t.Errorf("setting of update %d after reopening: %v", i, err)
		}
	}
	if _, err := s.AccountSetting(ctx, scope, "cancelled"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("the cancelled update's setting: %v", err)
	}
	if err := s.Update(ctx, func(metadata.Tx) error { return nil }); err != nil {
		t.Errorf("an Update after reopening: %v", err)
	}
}
