package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestSynchronousPerTransaction checks that UpdateNoSync commits with
// synchronous=NORMAL and leaves the connection at FULL for Update.
func TestSynchronousPerTransaction(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	level := func(tx metadata.Tx) int {
		var n int
		if err := tx.(*writeTx).tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const normal, full = 1, 2
	for range 3 {
		s.UpdateNoSync(ctx, func(tx metadata.Tx) error {
			if got := level(tx); got != normal {
				t.Errorf("synchronous inside UpdateNoSync = %d, want %d", got, normal)
			}
			return nil
		})
		s.Update(ctx, func(tx metadata.Tx) error {
			if got := level(tx); got != full {
				t.Errorf("synchronous inside Update = %d, want %d", got, full)
			}
			return nil
		})
	}
}
