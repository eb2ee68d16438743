// Package blobcrypt encrypts blobs at rest: authenticated, streamed
// envelope encryption with random access to the plaintext.
//
// Each blob gets its own 256-bit data key (from KMS, say); the caller
// keeps only the wrapped (encrypted) copy, which travels in the object's
// header. The package does no I/O of its own beyond the io interfaces it
// is given, and holds a blob in memory only a segment or two at a time
// (plus one per concurrent ReadAt).
//
// # Format
//
// An encrypted object is a header followed by segments. All integers are
// big-endian.
//
//	offset  size  field
//	0       8     magic "ECRDENC1" (the trailing 1 is the format version)
//	8       4     H, the header's length in bytes, magic included
//	12      4     S, plaintext bytes per segment (SegmentSize, 64 KiB)
//	16      16    salt, random per object
//	32      2     A, length of the key ARN
//	34      A     key ARN
//	34+A    2     K, length of the wrapped key
//	36+A    K     wrapped key                      (so H = 36 + A + K)
//	H       ...   segments: S bytes of AES-256-GCM ciphertext plus a 16-byte
//	              tag each; the last holds 1 to S plaintext bytes (0 only
//	              when the blob is empty, which is then one bare tag)
//
// Segment i lives at H + i*(S+16), so the segment holding any plaintext
// offset is found by arithmetic, and only it is read and decrypted: that is
// what makes HTTP Range requests cheap. The plaintext size follows from the
// ciphertext size and H (see PlaintextSize), so it needs no field of its
// own that could disagree with the data.
//
// # Keys, nonces and authentication
//
// Segments are sealed with AES-256-GCM under a per-object key derived
// with HKDF-SHA256 from the data key, the salt, and the whole header as
// context. The salt keeps the per-object keys unrelated even if a caller
// reuses a data key. Binding the header into the key, rather than passing
// it as additional data, authenticates it through every segment at no cost
// per segment: a changed key ARN, wrapped key, salt or segment size gives
// a different key, so no segment opens. A random-access read of segment
// 500 therefore checks the header as fully as a read from the start.
//
// The nonce of segment i is i as an 11-byte big-endian counter followed by
// one byte that is 1 for the last segment and 0 for the others: the STREAM
// construction (Hoang, Reyhanitabar, Rogaway, Vizár, 2015). The counter
// makes a segment open only at its own position, so reordering, swapping
// or duplicating segments fails; the flag makes the last segment open only
// as the last, so cutting the object at a segment boundary, or appending to
// it, fails too. The nonces never repeat under one key because the key is
// unique to the object.
//
// NewReader opens the last segment before it returns. That authenticates
// the plaintext size and the header up front, so that a wrong key or a
// truncated object is reported before a server has promised a client a
// Content-Length, rather than part-way through a response; it costs one
// segment read and decryption per open. Plaintext is released only from
// segments whose tag has verified; any authentication or format failure
// is an error wrapping ErrCorrupt.
package blobcrypt
