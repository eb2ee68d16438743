package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

func TestConformance(t *testing.T) {
	metadatatest.Run(t, func(t *testing.T) metadata.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceDoubleRun runs the suite with every write transaction's
// function run twice, as a backend that retries transactions may run it.
func TestConformanceDoubleRun(t *testing.T) {
	metadatatest.Run(t, func(t *testing.T) metadata.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		return metadatatest.DoubleRun(s)
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	key := metadata.RepoKey{Scope: metadata.Scope{Account: "123456789012", Region: "us-east-1"}, Name: "kept"}
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.CreateRepository(ctx, metadata.Repository{Key: key, CreatedAt: timeNow()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Repository(ctx, key); err != nil {
		t.Fatalf("repository lost across reopen: %v", err)
	}
}

func timeNow() time.Time { return time.Now() }
