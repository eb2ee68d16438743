package blobspace

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/blobcrypt"
	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Space is where a repository's blobs live: the plaintext store, or the
// namespace of the key that encrypts them.
type Space struct {
	store blobstore.Store
	key   string // "" for the plaintext store
}

// Key is the ARN of the key that encrypts the space, "" for the
// plaintext store.
func (sp Space) Key() string { return sp.key }

// Encrypted reports whether the space encrypts what it holds.
func (sp Space) Encrypted() bool { return sp.key != "" }

// Has reports whether the space holds blob d.
func (sp Space) Has(ctx context.Context, d digest.Digest) (bool, error) {
	_, err := sp.store.Stat(ctx, d)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Spaces are the blob spaces of a blob store. They are safe for
// concurrent use.
type Spaces struct {
	plain blobstore.Store
	ns    blobstore.Namespaced // nil if the store has no namespaces
	keys  Keys                 // nil without a key service
	cache *keyCache
	now   func() time.Time
	log   *slog.Logger
}

// New returns the spaces of blob store plain, whose encrypted ones use
// keys (nil: none can be used), with clock now.
func New(plain blobstore.Store, keys Keys, now func() time.Time, log *slog.Logger) *Spaces {
	ns, _ := plain.(blobstore.Namespaced)
	return &Spaces{plain: plain, ns: ns, keys: keys, cache: newKeyCache(), now: now, log: log}
}

// Namespaced reports whether the store has namespaces, which encrypted
// spaces need.
func (s *Spaces) Namespaced() bool { return s.ns != nil }

// blobContextKey is the encryption context key that binds an object's
// data key to the blob's digest: a wrapped key copied into another
// object's header does not unwrap there.
const blobContextKey = "ecrd:blob"

func blobContext(d digest.Digest) map[string]string {
	return map[string]string{blobContextKey: d.String()}
}

// parseKeyARN splits arn:aws:kms:<region>:<account>:key/<id>.
func parseKeyARN(arn string) (account, region, id string, ok bool) {
	a, ok := awsid.Parse(arn)
	if !ok || a.Service != "kms" || a.Region == "" {
		return "", "", "", false
	}
	id, ok = strings.CutPrefix(a.Resource, "key/")
	return a.AccountID, a.Region, id, ok && id != ""
}

// namespaceOf names the blob namespace of a KMS key. It names the
// account and region as well as the key ID, so that no two keys can
// share one.
func namespaceOf(keyARN string) (string, error) {
	if keyARN == ServerKeyARN {
		return "server-key", nil
	}
	account, region, id, ok := parseKeyARN(keyARN)
	name := "kms-" + account + "-" + region + "-" + id
	if !ok || !blobstore.ValidNamespace(name) {
		return "", fmt.Errorf("KMS key ARN %q cannot name a blob namespace", keyARN)
	}
	return name, nil
}

// Of returns the space of the blobs encrypted under key keyARN, or the
// plaintext store's for "".
func (s *Spaces) Of(ctx context.Context, keyARN string) (Space, error) {
	if keyARN == "" {
		return Space{store: s.plain}, nil
	}
	if s.keys == nil || s.ns == nil {
		return Space{}, &KeyFailure{Key: keyARN}
	}
	name, err := namespaceOf(keyARN)
	if err != nil {
		return Space{}, err
	}
	st, err := s.ns.Namespace(ctx, name)
	if err != nil {
		return Space{}, err
	}
	return Space{store: st, key: keyARN}, nil
}

// All returns the plaintext store, first, and every namespace that
// exists, for garbage collection, which frees a digest everywhere.
func (s *Spaces) All(ctx context.Context) ([]blobstore.Store, error) {
	stores := []blobstore.Store{s.plain}
	if s.ns == nil {
		return stores, nil
	}
	names, err := s.ns.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		st, err := s.ns.Namespace(ctx, n)
		if err != nil {
			return nil, err
		}
		stores = append(stores, st)
	}
	return stores, nil
}

// ResolveKey resolves the key reference of a repository of an account
// and region to be created: a key the account has and may use, or (ref
// "") its aws/ecr key, created on first use. It calls the key service, so
// a push that creates a repository calls it while the push is planned,
// never inside its transaction.
func (s *Spaces) ResolveKey(ctx context.Context, account, region, ref string) (string, error) {
	var (
		arn string
		err error
	)
	if ref == "" {
		arn, err = s.keys.ECRManagedKey(ctx, account, region)
	} else {
		arn, err = s.keys.KeyUsable(ctx, ref, account, region)
	}
	if err != nil {
		if ref == "" {
			ref = "alias/aws/ecr"
		}
		return "", failure(err, ref, OpCreate)
	}
	return arn, nil
}

func asKeyError(err error) (*KeyError, bool) {
	var ke *KeyError
	ok := errors.As(err, &ke)
	return ke, ok
}

// CheckKey fails with a *KeyFailure if KMS key arn is not usable for op,
// as last seen at most keyCheckInterval ago.
func (s *Spaces) CheckKey(ctx context.Context, arn string, op Op) error {
	if st, ok := s.cache.state(arn, s.now()); ok {
		return failure(st.err, arn, op)
	}
	account, region, _, _ := parseKeyARN(arn)
	_, err := s.keys.KeyUsable(ctx, arn, account, region)
	if _, ok := asKeyError(err); err == nil || ok {
		s.cache.setState(arn, err, s.now())
	}
	return failure(err, arn, op)
}

// Store stores blob b, whose plaintext src gives, in space sp,
// encrypting it under a new data key if the space is encrypted; a space
// that holds the blob already keeps its copy. verify, if set, is called
// once src is read, before the object is committed: a copy checks the
// digest of what it read. Memory stays bounded: the bytes stream through
// blobcrypt's segments. The space's Commit makes the object durable.
func (s *Spaces) Store(ctx context.Context, sp Space, b metadata.Blob, src io.Reader, verify func() error) error {
	if ok, err := sp.Has(ctx, b.Digest); ok || err != nil {
		return err
	}
	var plain, wrapped []byte
	if sp.Encrypted() {
		var err error
		plain, wrapped, err = s.keys.DataKey(ctx, sp.key, blobContext(b.Digest))
		if err != nil {
			if _, ok := asKeyError(err); ok {
				s.cache.setState(sp.key, err, s.now())
			}
			return failure(err, sp.key, OpWrite)
		}
		defer clear(plain)
	}
	id := awsid.NewUUID()
	w, err := sp.store.CreateUpload(ctx, id)
	if err != nil {
		return err
	}
	committing := false
	defer func() {
		if !committing {
			w.Close()
			if err := sp.store.DeleteUpload(context.WithoutCancel(ctx), id); err != nil {
				s.log.Warn("removing a failed encryption", "upload", id, "err", err)
			}
		}
	}()
	var out io.Writer = w
	var ew *blobcrypt.Writer
	if sp.Encrypted() {
		if ew, err = blobcrypt.NewWriter(w, blobcrypt.Header{KeyARN: sp.key, WrappedKey: wrapped}, plain); err != nil {
			return err
		}
		out = ew
	}
	n, err := io.Copy(out, src)
	if err != nil {
		return err
	}
	if n != b.Size {
		return fmt.Errorf("blob %s: read %d bytes to store, but it has %d", b.Digest, n, b.Size)
	}
	if verify != nil {
		if err := verify(); err != nil {
			return err
		}
	}
	if ew != nil {
		if err := ew.Close(); err != nil {
			return err
		}
	}
	committing = true
	if err := w.Commit(ctx, b.Digest); err != nil {
		sp.store.DeleteUpload(context.WithoutCancel(ctx), id)
		return err
	}
	if sp.Encrypted() {
		// The pulls that follow a push need not unwrap it again.
		s.cache.put(wrapped, plain, s.now())
	}
	return nil
}

// EncryptUpload stores a verified upload of the plaintext store as blob
// b of encrypted space sp. The upload stays; the caller removes it.
func (s *Spaces) EncryptUpload(ctx context.Context, sp Space, id string, b metadata.Blob) error {
	rc, err := s.plain.ReadUpload(ctx, id, 0, b.Size)
	if err != nil {
		return err
	}
	defer rc.Close()
	return s.Store(ctx, sp, b, rc, nil)
}

// Copy stores blob b, which space src holds, in space dst too, hashing
// what it reads so that only bytes that match the digest are stored. The
// caller has recorded the blob, as a push does (see
// internal/registry/gc).
func (s *Spaces) Copy(ctx context.Context, b metadata.Blob, src, dst Space) error {
	if ok, err := dst.Has(ctx, b.Digest); ok || err != nil {
		return err
	}
	rc, err := s.Open(ctx, src, b)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := b.Digest.Algorithm().Hash()
	return s.Store(ctx, dst, b, io.TeeReader(rc, h), func() error {
		return checkCopy(b.Digest, h)
	})
}

func checkCopy(d digest.Digest, h hash.Hash) error {
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return fmt.Errorf("blob %s reads back as %s: its stored bytes are corrupt", d, got)
	}
	return nil
}

// PresignGet returns a URL from which blob d of space sp can be read
// directly from the blob store for ttl, or "" when it cannot: the space
// is encrypted (its stored bytes are not the blob's), or the store gives
// no such URLs (blobstore.Presigner).
func (s *Spaces) PresignGet(ctx context.Context, sp Space, d digest.Digest, ttl time.Duration) (string, error) {
	p, ok := sp.store.(blobstore.Presigner)
	if !ok || sp.Encrypted() {
		return "", nil
	}
	return p.PresignGet(ctx, d, ttl)
}

// Open opens blob b of space sp for reading its plaintext. For an
// encrypted space the reader decrypts, and authenticates, the segments
// it reads; a key that cannot be used is a *KeyFailure before anything
// is read.
func (s *Spaces) Open(ctx context.Context, sp Space, b metadata.Blob) (io.ReadSeekCloser, error) {
	rc, err := sp.store.Open(ctx, b.Digest)
	if err != nil || !sp.Encrypted() {
		return rc, err
	}
	size, err := rc.Seek(0, io.SeekEnd)
	if err != nil {
		rc.Close()
		return nil, err
	}
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		ra = &seekReaderAt{rs: rc}
	}
	var key []byte
	dec, err := blobcrypt.NewReader(ra, size, func(h blobcrypt.Header) ([]byte, error) {
		k, kerr := s.dataKey(ctx, sp, b.Digest, h)
		key = k
		return k, kerr
	})
	clear(key) // a copy: NewReader has derived what it needs
	if err == nil && dec.Size() != b.Size {
		err = fmt.Errorf("blob %s decrypts to %d bytes, but %d are recorded", b.Digest, dec.Size(), b.Size)
	}
	if err != nil {
		rc.Close()
		var kf *KeyFailure
		if errors.As(err, &kf) {
			return nil, kf // without blobcrypt's wrapping: the message is the client's
		}
		s.log.Error("an encrypted blob cannot be read", "digest", b.Digest, "key", sp.key, "err", err)
		return nil, fmt.Errorf("blob %s cannot be decrypted: %w", b.Digest, err)
	}
	return decrypted{dec, rc}, nil
}

// dataKey unwraps the data key of object d of space sp, whose header is
// h: from the cache while the key is usable, else through the key
// service.
func (s *Spaces) dataKey(ctx context.Context, sp Space, d digest.Digest, h blobcrypt.Header) ([]byte, error) {
	if h.KeyARN != sp.key {
		return nil, fmt.Errorf("%w: its header names KMS key %s, not %s, whose storage holds it", blobcrypt.ErrCorrupt, h.KeyARN, sp.key)
	}
	now := s.now()
	if key, ok := s.cache.get(h.WrappedKey, now); ok {
		if err := s.CheckKey(ctx, sp.key, OpRead); err != nil {
			clear(key)
			return nil, err
		}
		return key, nil
	}
	key, arn, err := s.keys.DecryptDataKey(ctx, h.WrappedKey, blobContext(d))
	ke, isKeyErr := asKeyError(err)
	switch {
	case isKeyErr && ke.Code == kmsInvalidCiphertext:
		return nil, fmt.Errorf("%w: its data key does not unwrap for this digest (%v)", blobcrypt.ErrCorrupt, err)
	case isKeyErr:
		s.cache.setState(sp.key, err, now)
		return nil, failure(err, sp.key, OpRead)
	case err != nil:
		return nil, err
	case arn != sp.key:
		clear(key)
		return nil, fmt.Errorf("%w: its data key was wrapped by KMS key %s, not %s", blobcrypt.ErrCorrupt, arn, sp.key)
	}
	s.cache.setState(sp.key, nil, now)
	s.cache.put(h.WrappedKey, key, now)
	return key, nil
}

// decrypted is an open encrypted blob: its plaintext reader (with
// WriteTo, so that io.Copy hands out whole segments) and the file.
type decrypted struct {
	*blobcrypt.Reader
	file io.Closer
}

func (d decrypted) Close() error { return d.file.Close() }

// seekReaderAt reads at offsets from a store's reader that has no
// ReadAt of its own.
type seekReaderAt struct {
	mu sync.Mutex
	rs io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.rs, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// KeyChanged forgets what was last seen of a KMS key's state, so that the
// next use checks it again: the key was disabled, enabled or scheduled
// for deletion through some process (see Registry.Changed).
func (s *Spaces) KeyChanged(arn string) { s.cache.forgetState(arn) }
