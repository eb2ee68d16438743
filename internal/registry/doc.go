// Package registry is ecrd's domain core for images: repositories, blobs,
// uploads, manifests and tags, keyed by account and region. Both protocols,
// the OCI distribution API and the ECR API, reach images through this
// package, so each rule (what a push must reference, when a repository
// is created, which blobs a repository may read) is written once, here.
//
// # The facade
//
// Registry is the authorizing facade of the core: every public method
// that acts for a caller authorizes first (access.go: authorize and
// authorizeRepo, the one place where registry access is decided, over
// IAM policies, repository and registry policies), then does the work
// or delegates it. Methods without a caller (CollectGarbage,
// RematchScans, Recover, Run) are the server's own.
//
// # Errors
//
// The core is protocol-neutral: it says what went wrong, and each
// adapter (internal/api/oci, internal/api/ecr) says it in its protocol's
// words (errors.go). Its errors are typed: a parameter that breaks a
// rule (ParamError, with the field and the constraint), a thing that
// does not exist (NotFoundError, with its kind and what names it) or
// exists already (ExistsError), a state that refuses the request
// (ConflictError), a limit (LimitError), a denial with IAM's explanation
// (DeniedError), and the ECR layer upload's and resource tags' own rules
// (LayerError, TagError); *Error carries the rest, in the core's own
// words. CodeOf maps each to a Code, which each adapter maps to its wire
// error in one table; ECR's message texts live in internal/api/ecr
// only.
//
// # Where each rule lives
//
//   - Access: access.go (actions, authorization), policies.go
//     (repository and registry policies), account.go (account settings).
//   - Repositories and their settings: repositories.go, settings.go,
//     templates.go (creation templates, create-on-push).
//   - Pushes: push.go (push plans), ingest.go (how content enters),
//     uploads.go (upload sessions), blobs.go (blob checks, monolithic
//     PUT, mounts), layers.go (the ECR API's layer upload), space.go
//     (free space floors), manifests.go (manifest pushes and tags).
//   - Pulls and images: manifests.go, images.go (describe, delete: the one
//     delete path), archive.go (storage classes), pulls.go (pull times),
//     cache.go (the per-process cache the outbox keeps fresh).
//   - Encryption at rest: encryption.go (which key a repository gets,
//     and how key failures are answered); the spaces themselves are
//     internal/registry/blobspace's.
//   - Garbage collection: internal/registry/gc (the Collector and the
//     safety argument); gc.go is its facade.
//   - Lifecycle policies: lifecycle.go (policies, previews, the facade of
//     runs); runs are internal/registry/lifecyclerun's.
//   - Scanning: scanning.go (configuration), scans.go (requests and
//     findings); scan jobs are internal/registry/scanjob's.
//   - Events: events.go; every change appends its record to the outbox
//     (internal/outbox) inside its own transaction.
//   - Background jobs hold leases: internal/lease.
//
// # Transactions
//
// A function passed to metadata.Store's Update may run more than once
// (a backend may retry it): it only reads and writes the transaction. It
// does no I/O, logs nothing and calls no service; whatever needs those is
// computed before (a push plan) or done after the commit (a log line, a
// cache drop). The registry's tests run every transaction twice and fail
// one that logs, touches blob storage or calls the key service
// (registrytest).
//
// # Upload durability
//
// An upload session receives a blob in one or more requests (POST, then
// PATCHes, then a PUT with the digest). Its bytes live in the plaintext
// blob store's upload area; its record (repository, size acknowledged
// so far, and the running SHA-256 state, without the bytes of its
// pending block, which are content) lives in the metadata store, so any
// request can continue it, even after a restart. Chunks are hashed as
// they stream in (on a goroutine beside the copy: hashCopy), so
// finishing an upload does not read it again. A PATCH
// is not fsynced: a machine crash may lose acknowledged bytes, and the
// session then ends (the client starts again); only finished blobs are
// durable. Recover, at start-up, removes what a crash left half-done.
//
// A push is planned before its transactions (push.go): authorization,
// the repository's settings or, for a repository the push creates, its
// CREATE_ON_PUSH template's settings with the KMS key resolved, and the
// blob space, are worked out once; the push's transactions then only
// read and write the metadata store. A repository that changed since the
// plan (deleted, or created again) is planned again, once.
//
// Content enters one way (ingest.go), whatever brings it: a finished
// upload, a blob sent in one request, a mount that copies a blob into
// another blob space (and replication and the pull-through cache, which
// fetch it). Ingest records the blob (gc.Collector.Record), makes its
// bytes durable in the push's blob space (the store's Commit, or an
// encryption into a key's namespace), then links it into the repository
// in a transaction (gc.Link) that creates the repository on first push.
// That order is what keeps online garbage collection safe (see
// internal/registry/gc); once the bytes are durable, the link is made
// even if the client has gone. A finished upload session (embedded
// stores, plaintext) syncs the metadata store beside the bytes instead
// of after the link: the session's finishing mark, durable before the
// client is answered, lets Recover make a link a crash lost.
package registry
