package identitytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// recorder is a testing.TB that keeps the failures reported to it.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// TestGuards: the logger and the store's reads pass outside a
// transaction and fail the test inside one (in each of its two runs).
func TestGuards(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{TB: t}
	meta, log := Store(t, ""), Logger(rec)
	guarded := guardedStore{meta.(guardedStore).Store, rec}
	use := func() {
		log.Debug("a debug record")
		guarded.Account(ctx, "123456789012")
		guarded.Accounts(ctx)
		guarded.AccessKey(ctx, "AKIAEXAMPLE")
		guarded.AccessKeys(ctx, "")
		guarded.IAMEntity(ctx, "123456789012", metadata.IAMUser, "alice")
		guarded.IAMEntities(ctx, "123456789012", metadata.IAMUser)
	}
	use()
	if len(rec.failures) != 0 {
		t.Fatalf("outside a transaction: %q", rec.failures)
	}
	err := guarded.Update(ctx, func(tx metadata.Tx) error {
		use()
		return tx.CreateAccount(ctx, metadata.Account{ID: "123456789012", CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.failures) != 2*7 {
		t.Fatalf("inside a transaction that ran twice, %d failures: %q", len(rec.failures), rec.failures)
	}
}
