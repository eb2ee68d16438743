// Package lease gives background jobs (garbage collection, lifecycle
// runs, continuous scanning's rematch, outbox pruning) leases in the
// metadata store, so that processes sharing a database, and runs of one
// process (the schedule and an on-demand run), never run the same job at
// once.
//
// What a lease guarantees. A job's lease is a row of the metadata store
// naming the job, its holder and when it expires. Acquire takes it in a
// write transaction if it is free or expired, and fails with ErrBusy
// otherwise. Lease.Update runs a job's writes in a transaction that first
// renews the lease, and fails with ErrLost, writing nothing, if another
// holder took it meanwhile: what a job writes through Update is written
// only while it holds the lease. Writes are what the lease orders; work
// outside the store (deleting blob files) is guarded by Keep, which
// renews a lease last renewed more than TTL/4 ago, so a holder that
// checks Keep before each step always has most of TTL left, and one that
// lost its lease stops at its next step. A process paused for longer
// than TTL between Keep and its step is the window leases cannot close;
// a job whose steps are idempotent, or re-checked inside Update, is safe
// in it all the same (see internal/registry/gc).
//
// Holders. Each run gets a holder name of its own, the process's name
// (Leases' holder, Options.Holder of the registry) followed by "/" and a
// random suffix, so that two runs in one process exclude each other as
// two processes do.
//
// Expiry. A lease lasts TTL (two minutes) from its last renewal. A
// process that dies holding one leaves the job to any other process once
// it expires; Release gives it up at once when a run ends.
//
// Restart by name. A process that keeps its name across restarts takes
// its previous run's leases back at start-up (ReleasePrevious: every
// lease whose holder starts with its name and "/"), instead of waiting
// for them to expire. Two processes sharing a database must have
// different names; with the default, a random one, a restarted process
// waits out its old leases.
//
// Image scan jobs are leased the same way, per job, in their own table
// (internal/registry/scanjob): they use TTL, and a holder name derived
// from the process's.
package lease
