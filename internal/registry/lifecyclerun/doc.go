// Package lifecyclerun runs repositories' lifecycle policies: it
// evaluates each policy (internal/lifecycle decides; Evaluate gives it
// the repository's images as the metadata store has them) and applies
// the decisions, expiring images through the registry's one delete path
// and archiving them, with their events, in transactions that hold the
// "lifecycle" lease (internal/lease), so that one process runs policies
// at a time and a run that lost its lease writes nothing.
//
// A run works from what it evaluated: a decision whose image changed
// since (tagged, untagged, pulled back from archive, pushed again) is
// skipped, and the next run decides again. An index goes before the
// images it lists, since a child cannot be deleted while an index holds
// it; a child that still cannot is tried again after the others (nested
// indexes). Each batch of decisions is one transaction, which records
// the run's actions as ECR's PolicyExecutionEvent in the outbox.
//
// The schedule depends on what the database says, not on how long a
// process has been up: a policy is due once its last run (or, for one
// that never ran, its setting) is an interval ago.
//
// The runner sees the registry through Core (policy validation with the
// registry's settings, the delete path, archiving and the records it
// appends) and the metadata store through Store.
package lifecyclerun
