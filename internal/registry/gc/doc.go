// Package gc collects the registry's garbage online, beside pushes and
// pulls: there is no read-only window. It holds both sides of the
// protocol that makes that safe: the Collector's runs, and the steps a
// push takes (Record, Link, CheckLink), which the registry's one ingest
// path (internal/registry, ingest.go) and its blob checks call.
//
// One run (Collector.Collect) does, in batches:
//
//  0. It finishes the deletions a collection that died left marked.
//  1. Links: a repository's link to a blob goes when no push used it
//     (Link.LinkedAt) within the grace period and no image of the
//     repository references the blob.
//  2. Blobs: a blob that no repository links and no push wrote or linked
//     (BlobRecord.TouchedAt) within the grace period is marked as being
//     deleted in one transaction, its bytes are deleted, and its record
//     in a second.
//  3. Orphans: blob files without a record (left by versions that did not
//     record blobs before storing them), written more than the grace
//     period ago, get a record marked as being deleted, then go the same
//     way.
//
// # Why an acknowledged push never loses a blob
//
// Whatever the interleaving (write transactions are serializable, see
// metadata.Store.Update):
//
//   - A manifest push checks, inside its transaction, that each blob it
//     references is linked into the repository, and stores its references
//     in that transaction. Step 1 removes a link, in its own transaction,
//     only if no image of the repository references the blob. So either
//     the manifest commits first and its references keep the links for as
//     long as the image exists, or the link goes first and the push fails
//     with MANIFEST_BLOB_UNKNOWN: no manifest ever dangles.
//   - A client that finds a blob with HEAD or BatchCheckLayerAvailability
//     skips uploading it and pushes its manifest later. The check
//     (CheckLink) refreshes a link older than half the grace period (so
//     that checks rarely write): a link it reports lives half the grace
//     period longer at least, the time a client has between its check and
//     its manifest.
//   - A push that stores a blob records it (touched now) before making the
//     bytes durable (Record), and links it after, in a transaction that
//     finds the record there and unmarked and touches it again (Link).
//     Step 2 marks a blob only if no repository links it and no push
//     touched it within the grace period, deletes bytes only once the mark
//     is committed, and forgets the record only once the bytes are gone.
//     Ordered against the mark, a push either touched the record first
//     (the blob is not marked) or finds the mark and waits for the
//     deletion to end before it stores its own copy (Record). A push
//     slower than the grace period between recording and linking may see
//     its blob collected meanwhile: its link transaction then finds the
//     mark, or no record, and the push fails (ErrBlobGone) instead of
//     linking a missing blob. So the link transaction reads no storage
//     (it may run twice, see metadata.Store) and every link names a blob
//     whose bytes are stored and which is not marked, and a marked blob
//     has no link.
//   - A mount links a blob through the same link transaction: a blob being
//     deleted, or gone, is not mounted, and the client uploads it instead.
//   - Step 3 deletes a file only after creating its record, marked, which
//     fails if the blob has a record or a link: since a push records a
//     blob before committing its file, a file a push is about to link is
//     no orphan. (The time of the file is not what protects it: committing
//     a blob that exists leaves the file as it was.)
//   - Spaces (internal/registry/blobspace): a digest's bytes may be stored
//     in the plaintext store and, encrypted, in the namespace of each
//     key. A link's bytes are those in its repository's space. Every blob
//     enters through the registry's ingest, which records it, makes its
//     bytes durable in the space the push planned, then links it, in a
//     transaction that refuses a repository whose space is not the
//     planned one; a mount within one space writes nothing, and its
//     source's link vouches for the bytes until the record is marked.
//     Steps 2 and 3 delete a digest from every space (Spaces.All), and
//     step 3 walks every space, so the argument holds per copy: no link
//     names a missing copy, and a marked blob has no copy that a link
//     needs. (A copy no link needs any more, in a key's namespace, while
//     the blob is linked elsewhere, stays until the blob is collected
//     everywhere.)
//
// # Crashes
//
// Each step is a transaction or an idempotent deletion, ordered so that
// no link and no unmarked record ever names missing bytes. A collection
// killed after marking leaves marks behind: pushes of those blobs wait,
// failing after waitLimit with a *StillDeleting error that asks to
// retry, until a collection or a waiting push takes the gc lease (free
// at the latest lease.TTL after the dead collection last renewed it, or
// at once when a process restarted under the same name takes its leases
// back) and finishes the deletions.
//
// # Processes sharing the stores
//
// The "gc" lease (internal/lease) lets one collection run at a time; its
// holder name is unique to each run, so that two runs of one process
// exclude each other too. Every transaction that marks or clears marks
// renews the lease (Lease.Update), and bytes are deleted only while the
// lease was renewed within lease.TTL/4 (Lease.Keep), so a collection
// that lost its lease stops. (A process paused longer than the lease
// between that check and a deletion is the window left; leases cannot
// close it.) Clocks of the processes must agree to well within half the
// grace period.
package gc
