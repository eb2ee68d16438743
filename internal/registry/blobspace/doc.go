// Package blobspace is where the registry's blobs live: the plaintext
// blob store, and one namespace of it per key that encrypts blobs at
// rest. It opens, stores and copies objects across those spaces,
// encrypts finished uploads into them, caches unwrapped data keys and
// checks the state of the keys it uses. Which space a repository's blobs
// go to is the registry's rule (internal/registry: a repository's
// BlobKey, settled at its creation); what a space holds, and how, is
// this package's.
//
// # Encryption at rest
//
// A repository created with KMS (or KMS_DSSE) encryption has its KMS key
// resolved once, at creation (ResolveKey), and recorded as its BlobKey.
// Its blobs live, as blobcrypt objects, in a blob store namespace of that
// key's ("kms-<account>-<region>-<key-id>"): each object has a data key
// of its own from Keys.DataKey, bound by the encryption context
// {"ecrd:blob": <digest>} to the blob's digest (a wrapped key copied into
// another object's header does not unwrap there), and carries it wrapped
// in its header. AES256 repositories keep their blobs in the plaintext
// store, relying on the storage's own encryption as ECR relies on S3's,
// so that their pulls stay sendfile(2) from the file; with server keys
// (WithServerKeys) they are encrypted too, under ServerKeyARN in the
// "server-key" namespace, the server keys wrapping each data key.
//
// # Blobcrypt objects in namespaces
//
// Namespaces are content-addressed like the plaintext store, so a digest
// may be stored once per key and once in plain: a push or a mount into a
// repository whose space lacks a blob writes it there (Copy decrypts and
// encrypts on the way, and hashes what it reads, so that only bytes that
// match the digest are stored) before the link that makes it readable.
// Links stay metadata, and the metadata's blob size is the plaintext
// size. An object is internal/blobcrypt's format: a header naming the
// key's ARN and carrying the wrapped data key, then authenticated
// segments, so that a reader decrypts, and authenticates, only the
// segments it reads, and memory stays bounded whatever the blob's size.
// An object whose header names another key than its namespace's, or
// whose data key unwraps under another key or not for its digest, is
// corrupt: it is refused, never served.
//
// Uploads in progress are plaintext in the plaintext store's upload
// area; finishing one streams it through blobcrypt into the namespace
// (EncryptUpload), whose Commit is the durability point as the plaintext
// store's is. The uploads of namespaces are encryptions in progress,
// which never outlive their request.
//
// # Data keys and key states
//
// Pulls of an encrypted blob would otherwise call KMS for every request;
// instead an unwrapped data key is kept for dataKeyTTL (at most
// dataKeyCacheSize of them, least recently used out first), and while it
// is, the key's state alone is checked, at most every keyCheckInterval
// per KMS key. A disabled or deleted key therefore stops reads within
// keyCheckInterval, whatever the cache holds. A key that cannot be used
// is reported as a *KeyFailure, saying which key, what it stopped and
// why; the registry answers it as its KMS error. Failures of the key
// service itself pass through as they are.
//
// Garbage collection frees a digest from every space (All): see
// internal/registry/gc.
package blobspace
