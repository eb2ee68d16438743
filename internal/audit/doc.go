// Package audit keeps the audit trail: CloudTrail's record of every AWS
// API call and every /v2 request, looked up with CloudTrail's
// LookupEvents (internal/api/cloudtrail) and exported as JSON lines.
//
// A record reaches the trail (metadata's audit_events) one of two ways,
// so that each call is in it exactly once:
//
//   - A change's record is written in the change's own transaction, to
//     the outbox (internal/outbox, "AWS API Call via CloudTrail"). The
//     feed (one process at a time, under the "audit-feed" lease) copies
//     those records into the trail in outbox order, moving its cursor in
//     the same transaction. Track marks a request whose change recorded
//     itself so (reqinfo.Info.Recorded), once its transaction committed.
//   - Every other request (reads, and failed writes: denials included)
//     is seen by Trail.Observe once answered, and handed to a bounded
//     queue that one goroutine writes in batches, one transaction per
//     batch. A request never waits for it: when the queue is full, or a
//     batch cannot be written, the records are counted (Stats) and a
//     warning says how many, never dropped silently.
//
// Records older than the retention period are pruned under the
// "audit-prune" lease.
package audit
