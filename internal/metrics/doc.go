// Package metrics exports ecrd's Prometheus metrics on their own
// listener (the metrics-listen setting): request rates, latencies and
// bytes per service, operation and status class (a reqinfo.Observer);
// pulls and pushes per repository (a registry.Activity); scan outcomes
// and the critical findings of each repository's last scan (from the
// outbox's "ECR Image Scan" events); garbage collection and lifecycle
// runs (registry.Stats); the scan queue, replication backlog and lag,
// the outbox backlog of its followers, and image counts and storage
// bytes per repository, sampled periodically from the metadata store,
// never per scrape; event delivery's backlog (DeliverySource); and the
// Go runtime and process.
//
// Per-repository series are bounded by Options.Repositories: counters
// give their own series to the first repositories this process sees and
// count the rest under repository "other"; the sampled gauges keep the
// largest repositories and sum the rest under "other".
//
// Scan outcomes are read from the outbox, which every process follows:
// each process counts every scan of the cluster, so aggregate them with
// max, not sum, across processes. Requests, pulls and pushes are this
// process's own.
package metrics
