// Package identitytest makes the tests of the identity and KMS cores
// prove that their metadata transactions are pure. A write transaction's
// function may run more than once (see metadata.Store), so it must not
// log, authorize (Authorize reads the store and its caches outside the
// transaction) or read the store other than through its transaction. The
// tests run every write transaction twice (metadatatest.DoubleRun) and
// wrap the logger and the store with what this package gives, which fail
// the test when used inside a transaction; the identity tests do the same
// for Authorize, the KMS tests for its authorizer.
//
// It imports neither core, so that the tests inside package identity can
// use it.
package identitytest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// Store opens a SQLite store in the data folder dir (a new temporary one
// if empty) whose write transactions each run twice, and whose own reads
// fail the test when made inside a transaction (the transaction's reads,
// through its Tx, are what it may use).
func Store(tb testing.TB, dir string) metadata.Store {
	tb.Helper()
	return guardedStore{metadatatest.DoubleRun(testutil.SQLite(tb, dir)), tb}
}

// guardedStore checks the reads of the kinds the identity and KMS cores
// keep: accounts, access keys and IAM entities (their users, roles,
// policies, keys, aliases and grants).
type guardedStore struct {
	metadata.Store
	tb testing.TB
}

func (g guardedStore) check(op string) {
	metadatatest.OutsideTx(g.tb, "a read of the store outside the transaction ("+op+")")
}

func (g guardedStore) Account(ctx context.Context, id string) (metadata.Account, error) {
	g.check("Account")
	return g.Store.Account(ctx, id)
}

func (g guardedStore) Accounts(ctx context.Context) ([]metadata.Account, error) {
	g.check("Accounts")
	return g.Store.Accounts(ctx)
}

func (g guardedStore) AccessKey(ctx context.Context, id string) (metadata.AccessKey, error) {
	g.check("AccessKey")
	return g.Store.AccessKey(ctx, id)
}

func (g guardedStore) AccessKeys(ctx context.Context, account string) ([]metadata.AccessKey, error) {
	g.check("AccessKeys")
	return g.Store.AccessKeys(ctx, account)
}

func (g guardedStore) IAMEntity(ctx context.Context, account, kind, name string) (metadata.IAMEntity, error) {
	g.check("IAMEntity")
	return g.Store.IAMEntity(ctx, account, kind, name)
}

func (g guardedStore) IAMEntities(ctx context.Context, account, kind string) ([]metadata.IAMEntity, error) {
	g.check("IAMEntities")
	return g.Store.IAMEntities(ctx, account, kind)
}

// Logger returns a logger that discards, and fails the test on a record
// made inside a transaction.
func Logger(tb testing.TB) *slog.Logger {
	return metadatatest.Logger(tb, testutil.Logger())
}
