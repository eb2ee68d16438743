// Package postgres is the metadata backend for running several ecrd
// processes on one database: PostgreSQL through pgx. It implements
// metadata.Store with the semantics, ordering and errors of the embedded
// SQLite backend, and passes the same suite (metadatatest), with every
// transaction run twice too.
//
// # Schema
//
// Open runs the migrations (schema.go) holding a session advisory lock,
// so that replicas started together migrate once: the first migrates in
// one transaction, the others wait and find the schema current. A
// database with a newer schema than the binary knows is refused. Text a
// listing orders by is COLLATE "C" (byte order, as in Go and SQLite,
// whatever the database's locale), and every ordered listing and every
// scan of the garbage collector is an index range scan: a page of images
// costs the same in a repository of ten images as of a hundred thousand.
// The test explains every statement the suite runs and fails on a table
// read whole or a sort. Times are timestamptz: UTC, to the microsecond.
//
// # Transactions
//
// Update runs its function in a SERIALIZABLE transaction. PostgreSQL
// commits only what some serial order of the transactions would have
// given and fails the others with a serialization failure (SQLSTATE
// 40001); Update runs such a transaction again, and one chosen as a
// deadlock's victim (40P01), after a random pause that doubles per attempt
// (up to 100 ms), at most 30 times. That is what metadata.Store.Update
// promises (write transactions behave as if serialized) and what the
// garbage collector's safety argument rests on (internal/registry/gc): a
// mark and a link of one blob, or a manifest and the removal of a link
// it needs, are ordered one way or the other. The function may run more
// than once, which the contract allows and metadatatest.DoubleRun checks
// callers for. A failure the contract names (ErrExists, ErrNotFound,
// ErrBlobDeleting) never comes from a failed statement, which would abort
// the transaction: conflicts and missing references are found by the
// statements themselves (ON CONFLICT DO NOTHING, WHERE EXISTS), so the
// caller may go on in the same transaction, as on SQLite. A text key
// PostgreSQL cannot hold (invalid UTF-8, a NUL byte) is not sent: it
// matches nothing.
//
// UpdateNoSync is Update with synchronous_commit off for its transaction:
// ordered with every other write and visible at once, it does not wait
// for the log to reach the disk; the next synchronous commit flushes the
// log up to itself, that transaction included.
//
// Reads outside a transaction run on a pool of their own (as SQLite's
// reader pool is apart from its writer), so that they never wait for
// connections that transactions hold; a read of several statements
// (ImageGraph) runs in one read-only repeatable read snapshot.
//
// # The outbox
//
// Followers of the outbox (internal/outbox) remember the last event ID
// they read, so an event must never become visible after one with a
// larger ID. A sequence alone does not give that with concurrent
// transactions (one draws 7, another 8 and commits first), so AppendEvent
// first takes a transaction-scoped advisory lock, then draws its ID: the
// transactions that append events commit one at a time from their first
// append on, in ID order. Most append their events last.
//
// The same statement notifies the channel ecrd_events with the event's
// ID, which PostgreSQL delivers at commit. Each Store keeps one
// connection that LISTENs on it (listen.go) and implements
// metadata.EventWaiter, so an outbox follower reads a change made
// through any replica within milliseconds, and polls all the same in
// case the connection is down. (LISTEN needs a session: behind a pooler,
// use session pooling.)
//
// # Leases and jobs
//
// Leases (AcquireLease) are one upsert that takes a free or expired lease
// or renews the holder's; serializable isolation makes two replicas
// racing for a lease see each other, and the loser runs again and finds
// it held. ClaimImageScans takes the oldest due jobs with FOR UPDATE SKIP
// LOCKED, so replicas claiming at once pass over each other's jobs
// instead of queueing behind them. RecordPulls is one statement per
// batch, outside Update: each image's time goes to its latest pull if
// later, rechecked on the row's newest version, so it is never lowered.
//
// # Connections
//
// A Store holds two pools (reads; transactions and pull times), sized by
// the URL's pool settings (pool_max_conns, default the larger of 4 and
// the number of CPUs), and the listening connection.
package postgres
