// Package outbox is the record of every change: the registry, IAM and
// KMS append an event to the metadata store's outbox in the same
// transaction as each change they make (a repository created, a policy
// set, an image pushed or deleted, a key disabled...), so the record and
// the change commit together or not at all. Events only grow in commit
// order (metadata.Event), so whoever follows the outbox from an event ID
// sees every later change once, in order, whichever process made it.
//
// What follows it:
//   - every per-process cache (repositories, manifests, policies,
//     templates, pull-time exclusions, IAM grants and access keys, KMS key
//     policies): a Follower in each process reads the outbox and hands
//     each event to the caches, which drop what it changed. A change made
//     through one process binds every other process within the poll
//     interval, instead of after a cache's lifetime.
//   - later, event delivery (EventBridge rules and targets), the audit
//     trail, metrics and replication: they read the same records.
//
// An event is kept in EventBridge's envelope (Envelope). ECR's own
// events (ECR Image Action, ECR Image Scan) have ECR's detail; every other
// change is an "AWS API Call via CloudTrail" event whose detail is
// CloudTrail's record of the call: who made it (userIdentity), the
// operation, its parameters and the resources it changed. Events are
// pruned once older than the retention period.
//
// Building a record is pure: it may run inside a transaction, which may
// run twice.
package outbox
