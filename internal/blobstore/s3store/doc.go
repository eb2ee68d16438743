// Package s3store keeps blobs in an S3 bucket (AWS S3 or an
// S3-compatible server), so that any number of ecrd processes share them.
// Open takes s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true;
// credentials come from the standard AWS chain.
//
// # Keys
//
// Under the URL's prefix:
//
//	blobs/<algorithm>/<hex>          a finished blob: one object
//	uploads/<id>/state               an upload's state (JSON): which objects hold its bytes
//	uploads/<id>/d-<random>          the upload's bytes: parts and segments
//	namespaces/<name>/.namespace     marks a namespace (empty)
//	namespaces/<name>/blobs/...      a namespace's blobs and uploads,
//	namespaces/<name>/uploads/...    laid out as above
//
// Besides, the folder objects uploads/ and blobs/<algorithm>/ (empty,
// their keys ending in '/'), stored once by each process: S3 needs none,
// but a server on a filesystem (versitygw's POSIX backend) removes a
// directory with its last object unless a folder object holds it, and a
// write below it at that moment fails. The listings skip them.
//
// # Uploads
//
// A writer buffers what it is given. Each time the buffer fills a part
// (5 MiB; 10 MiB from the 5,000th part, so that S3's 10,000 parts hold
// 75,000 MiB), the part is stored as an object of its own. Close stores
// what is left as a segment (an object smaller than a part), then the
// state, which names the parts and segments in order. So when a request
// ends, everything it wrote is in the bucket and any process, another
// replica after this one died, can resume the upload by reading the
// state, by key. A segment is read back once, into the buffer, when the
// part it begins (or the blob) is stored; more than 32 segments (many
// tiny requests) are merged into one.
//
// Parts are objects, not the parts of a multipart upload started at once,
// because the blob's key is its digest, which is known only at Commit
// (and S3 cannot rename), and because ReadUpload must read an upload
// back (to finish a hash, or encrypt it into a namespace), which S3 does
// not allow for the parts of an unfinished multipart upload. Commit then
// makes the blob appear whole or not at all: an upload smaller than a
// part is one PutObject; a larger one is a multipart upload on the
// blob's key into which S3 copies each part object (UploadPartCopy: the
// bytes do not pass through ecrd again), plus the rest as the last part.
// Both are conditional (If-None-Match: *): a blob that exists is never
// overwritten, and committing it again only removes the upload. The
// multipart upload's ID is recorded in the state before any part is
// copied, so that the next ResumeUpload, or DeleteUpload (the registry's
// expiry of the upload), aborts it if the commit died.
//
// The state is written conditionally too: created with If-None-Match: *
// (an upload that exists is not created again), then only over the
// version the writer read (If-Match on its ETag). A writer whose upload
// another writer changed, or that was deleted, fails rather than
// overwrite it.
//
// ResumeUpload at an offset below what is stored drops the pieces after
// it; a piece cut in the middle is kept as a prefix of its object (a
// segment names the first bytes of an object), so nothing is copied.
// Objects the state no longer names are deleted once it is stored.
//
// A request that dies before Close loses what it wrote since the last
// Close (the registry had not acknowledged it); parts it stored meanwhile
// are named by no state. Those, and anything else left under
// uploads/<id>/, go when the upload is deleted: DeleteUpload removes the
// objects the state names, then lists the upload's prefix for others,
// and removes the state last, so that a deletion cut short is found
// again.
//
// ReadUpload reads the pieces with ranged GETs, and, if a writer of this
// process has the upload open, the bytes it holds: the registry hashes
// the end of an upload in the request that wrote it. Another process
// sees an upload as last closed.
//
// Memory: one buffer per open writer, growing with the upload to one
// part at most (5 MiB; 10 MiB for blobs beyond 25,000 MiB). Blobs and
// uploads are read as streams.
//
// # Reading blobs
//
// Open sends a HEAD (size, ETag) and returns a reader that fetches with
// ranged GETs, each requiring that ETag (If-Match), so that a reader
// never mixes the bytes of two objects stored under one key (a blob
// collected and stored again, encrypted under another data key). A read
// from the start fetches the rest of the blob in one GET. After a Seek
// (the HTTP layer answers a Range request with Seek, then a limited
// read) GETs fetch windows of 1 MiB, doubling, up to 1 GiB: a range
// request reads a small GET to its end, and its connection is reused.
//
// # What is listed, and why only that
//
// No state is derived from listing the bucket: listing is slow, and on
// several S3 implementations it lags writes. Only sweeps list, where a
// listing that lags only delays a cleanup:
//
//   - Walk lists blobs/: garbage collection's sweep for orphans, which
//     the metadata records guard (internal/registry/gc).
//   - Namespaces lists namespaces/, for the same collection, which walks
//     every namespace.
//   - Uploads lists uploads/: the registry's expiry of abandoned uploads
//     and its clean-up after a crash. Size and time come from each
//     upload's state; objects of an upload without a state (left by a
//     writer of an upload deleted meanwhile) are listed as an upload of
//     size 0, so that the sweep removes them.
//   - DeleteUpload lists the upload's own prefix, for leftovers.
//
// # What the server must provide
//
// Strong read-after-write consistency of objects (AWS S3 since December
// 2020; versitygw, on a POSIX filesystem): a state one process stores is
// what the next GET of another returns. Conditional writes: If-None-Match:
// * on PutObject and CompleteMultipartUpload, If-Match on PutObject,
// HeadObject and GetObject (AWS S3 since 2024; versitygw, which the tests
// run against). Range GETs, UploadPartCopy, presigned GETs (SigV4).
//
// A commit's multipart upload is recorded before it is used; one started
// by a process that died before recording it (a window of one request)
// is aborted by nothing here: a lifecycle rule on the bucket
// (AbortIncompleteMultipartUpload after a day) removes such parts.
//
// The store reports no free space (blobstore.SpaceReporter): a bucket
// has no limit the registry should refuse uploads at. It implements
// blobstore.Presigner: PresignGet presigns a GetObject of the blob's key
// with the store's credentials, for at most 7 days (SigV4's limit).
package s3store
