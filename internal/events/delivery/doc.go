// Package delivery delivers outbox events to the API-destination targets
// (webhooks) of EventBridge rules, as EventBridge does: at least once, in
// order per rule, retried with backoff, and kept as dead letters when a
// target gives up on an event.
//
// One process at a time delivers: the engine holds the lease
// "events-delivery" (internal/lease) while it runs, and every other
// process's engine waits for it. The rules come from a Source (the
// EventBridge API's store); each rule runs in a goroutine of its own, so a
// slow or failing webhook holds up only its rule.
//
// Each rule keeps its position in the outbox in the database (a cursor
// named "events-rule/<rule ARN>"). A rule the engine has not seen before
// starts at the outbox's end: EventBridge delivers only events recorded
// after a rule exists. The rule's worker reads the events after its
// cursor, keeps those of its registry (account and region) that its
// pattern matches, and hands each to every target, in order; the cursor
// moves past an event only in the transaction that records the event's
// dead letters, once every target has accepted it (2xx) or given up on
// it. A process killed during a delivery therefore loses nothing, and the
// next holder repeats at most the event that was in flight. A rule that
// disappears from the Source (deleted or disabled) has its cursor reset,
// so that when it comes back it starts again at the outbox's end.
//
// A failed invocation (a network error, a timeout, 5xx, 429, 408, and
// 401, 407 and 409 as EventBridge retries them) is tried again after an
// exponential backoff with jitter, from a second up to a few minutes,
// until the target's MaxAttempts retries or its MaxAge since the event's
// time are used up; any other status (another 4xx, 3xx) gives up at once.
// A dead letter is kept as a metadata IAMEntity of kind
// "events-dead-letter" in the rule's account (no table of its own), named
// "<region>/<rule name>/<event ID>/<target ID>", and may be listed and
// redriven (DeadLetters, Redrive), which the ECR adapter serves as ecrd's
// ListDeadLetters and RedriveDeadLetters operations.
//
// What a target receives is the event's envelope, or its Input, the part
// InputPath selects, or its InputTransformer's template filled in
// (input.go). Its connection's authorization is applied on each request:
// an API key header, Basic, or an OAuth client-credentials token that is
// cached until shortly before it expires and refreshed once on a 401 or
// 407. Secrets are never logged, nor written into dead letters.
package delivery
