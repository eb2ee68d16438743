package registry

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/blobcrypt"
	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Encryption at rest. A repository created with KMS (or KMS_DSSE)
// encryption has its KMS key resolved once, at creation, and recorded as
// its BlobKey. Its blobs live, as blobcrypt objects, in a blob store
// namespace of that key's ("kms-<account>-<region>-<key-id>"): each
// object has a data key of its own from Keys.DataKey, bound by the
// encryption context to the blob's digest, and carries it wrapped in its
// header. AES256 repositories keep their blobs in the plaintext store, as
// before, relying on the storage's own encryption as ECR relies on S3's,
// so that their pulls stay sendfile(2) from the file.
//
// Namespaces are content-addressed like the plaintext store, so a digest
// may be stored once per key and once in plain: a push or a mount into a
// repository whose space lacks a blob writes it there (decrypting or
// encrypting on the way) before the link that makes it readable. Links
// stay metadata, and the metadata's blob size is the plaintext size.
//
// Uploads in progress are plaintext in the plaintext store's upload area;
// finishing one streams it through blobcrypt into the namespace (whose
// Commit is the durability point, as the plaintext store's is), then
// removes it.

// Keys gives the data keys of KMS keys; internal/kms's Service implements
// it (cmd/ecrd adapts it). The registry calls it on behalf of operations
// it has authorized, so it checks key states, not callers. A key that
// cannot be used is reported with a KeyError.
type Keys interface {
	// DataKey returns a new 256-bit data key, in plain and wrapped by the
	// key keyARN names, under an encryption context.
	DataKey(ctx context.Context, keyARN string, encCtx map[string]string) (plaintext, ciphertext []byte, err error)
	// DecryptDataKey unwraps what DataKey returned, given the same
	// encryption context, and says which key wrapped it.
	DecryptDataKey(ctx context.Context, ciphertext []byte, encCtx map[string]string) (plaintext []byte, keyARN string, err error)
	// KeyUsable resolves a key reference (ID, ARN, alias name or alias
	// ARN) of an account and region to its key ARN, checking that it
	// exists and is enabled.
	KeyUsable(ctx context.Context, keyRef, account, region string) (keyARN string, err error)
	// ECRManagedKey returns the ARN of the account's AWS managed key
	// alias/aws/ecr in the region, creating it on first use.
	ECRManagedKey(ctx context.Context, account, region string) (keyARN string, err error)
}

// KeyError is how a Keys implementation reports a key that cannot be
// used, with KMS's exception name and message. Other errors are failures
// of the key service itself.
type KeyError struct {
	Code    string // NotFoundException, DisabledException, KMSInvalidStateException, ...
	Message string
}

func (e *KeyError) Error() string { return e.Code + ": " + e.Message }

// KMS exception names the registry tells apart.
const (
	kmsNotFound          = "NotFoundException"
	kmsDisabled          = "DisabledException"
	kmsInvalidState      = "KMSInvalidStateException"
	kmsInvalidCiphertext = "InvalidCiphertextException"
)

// blobContextKey is the encryption context key that binds an object's
// data key to the blob's digest: a wrapped key copied into another
// object's header does not unwrap there.
const blobContextKey = "ecrd:blob"

func blobContext(d digest.Digest) map[string]string {
	return map[string]string{blobContextKey: d.String()}
}

// Data key cache. Pulls of an encrypted blob would otherwise call KMS
// for every request; instead an unwrapped data key is kept for
// dataKeyTTL (at most dataKeyCacheSize of them, least recently used out
// first), and while it is, the key's state alone is checked, at most
// every keyCheckInterval per KMS key. A disabled or deleted key therefore
// stops reads within keyCheckInterval, whatever the cache holds.
const (
	dataKeyCacheSize = 4096
	dataKeyTTL       = 5 * time.Minute
	keyCheckInterval = 5 * time.Second
)

// blobSpace is where a repository's blobs live: the plaintext store, or
// the namespace of the KMS key that encrypts them.
type blobSpace struct {
	store  blobstore.Store
	keyARN string // "" for the plaintext store
}

func (s blobSpace) encrypted() bool { return s.keyARN != "" }

// encryptionAvailable reports whether the registry can encrypt KMS
// repositories: it needs a key service and a blob store with namespaces.
// Without them, KMS repositories are stored unencrypted, as AES256 ones;
// that is said once.
func (r *Registry) encryptionAvailable() bool {
	if r.opts.Keys != nil && r.spaces != nil {
		return true
	}
	r.plainKMSWarning.Do(func() {
		r.log.Warn("KMS repositories are stored unencrypted: this registry has no KMS key service, or its blob store has no namespaces")
	})
	return false
}

func isKMS(encryptionType string) bool {
	return encryptionType == EncryptionKMS || encryptionType == EncryptionKMSDSSE
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

// spaceOf returns where the blobs of a repository with settings s live.
func (r *Registry) spaceOf(ctx context.Context, s metadata.RepositorySettings) (blobSpace, error) {
	if s.BlobKey == "" {
		return blobSpace{store: r.blobs}, nil
	}
	if r.keys == nil || r.spaces == nil {
		return blobSpace{}, errorf(CodeKMS, "the repository's blobs are encrypted under KMS key %s, but this server has no KMS key service to decrypt them: run ecrd with its KMS", s.BlobKey)
	}
	name, err := namespaceOf(s.BlobKey)
	if err != nil {
		return blobSpace{}, err
	}
	st, err := r.spaces.Namespace(ctx, name)
	if err != nil {
		return blobSpace{}, err
	}
	return blobSpace{store: st, keyARN: s.BlobKey}, nil
}

// allStores returns the plaintext store and every namespace that exists,
// for garbage collection, which frees a digest everywhere.
func (r *Registry) allStores(ctx context.Context) ([]blobstore.Store, error) {
	stores := []blobstore.Store{r.blobs}
	if r.spaces == nil {
		return stores, nil
	}
	names, err := r.spaces.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		st, err := r.spaces.Namespace(ctx, n)
		if err != nil {
			return nil, err
		}
		stores = append(stores, st)
	}
	return stores, nil
}

// resolveKey settles the key of a repository about to be created with
// settings s: for KMS encryption, the key its kmsKey names, which must
// exist and be enabled, or else the account's aws/ecr key, created on
// first use, as ECR does. Both KMSKey (what DescribeRepositories shows)
// and BlobKey become the key's ARN.
func (r *Registry) resolveKey(ctx context.Context, scope metadata.Scope, s *metadata.RepositorySettings) error {
	s.BlobKey = r.aes256Key(*s)
	if !isKMS(s.EncryptionType) || !r.encryptionAvailable() {
		return nil
	}
	arn, err := r.templateKey(ctx, scope, s.KMSKey)
	if err != nil {
		return err
	}
	s.KMSKey, s.BlobKey = arn, arn
	return nil
}

// aes256Key is the BlobKey of a new repository that is not encrypted
// with KMS: ServerKeyARN when the registry encrypts AES256 repositories'
// blobs under its server keys (Options.ServerKey), else none.
func (r *Registry) aes256Key(s metadata.RepositorySettings) string {
	if r.opts.ServerKey != nil && r.spaces != nil && !(isKMS(s.EncryptionType) && r.encryptionAvailable()) {
		return ServerKeyARN
	}
	return ""
}

// templateKey resolves the key reference of a repository to be created
// (see resolveKey): a key the account has and may use, or its aws/ecr
// key, created on first use. It calls the key service, so a push that
// creates a repository calls it while it is planned, never inside its
// transaction (see push.go).
func (r *Registry) templateKey(ctx context.Context, scope metadata.Scope, ref string) (string, error) {
	var (
		arn string
		err error
	)
	if ref == "" {
		arn, err = r.keys.ECRManagedKey(ctx, scope.Account, scope.Region)
	} else {
		arn, err = r.keys.KeyUsable(ctx, ref, scope.Account, scope.Region)
	}
	if err != nil {
		if ref == "" {
			ref = "alias/aws/ecr"
		}
		return "", keyFailure(err, ref, opCreate)
	}
	return arn, nil
}

// templateSettings returns the settings a repository created from
// template t gets, its KMS key resolved.
func (r *Registry) templateSettings(ctx context.Context, scope metadata.Scope, t CreationTemplate) (metadata.RepositorySettings, error) {
	s, err := normalizeSettings(t.settings())
	if err != nil {
		return s, err
	}
	return s, r.resolveKey(ctx, scope, &s)
}

// What a key failure stops, for its message.
type keyOp int

const (
	opCreate keyOp = iota // creating a repository
	opWrite               // pushing to it
	opRead                // pulling from it
)

// keyFailure turns a key service error about key ref into the registry's
// KMS error (ECR's KmsException), with a message that says what to do.
// Failures of the service itself pass through.
func keyFailure(err error, ref string, op keyOp) error {
	var ke *KeyError
	if !errors.As(err, &ke) {
		return err
	}
	state := ""
	switch {
	case ke.Code == kmsNotFound:
		state = "does not exist"
	case ke.Code == kmsDisabled:
		state = "is disabled"
	case ke.Code == kmsInvalidState && strings.Contains(ke.Message, "pending deletion"):
		state = "is pending deletion"
	default:
		return errorf(CodeKMS, "KMS key %s cannot be used (%s: %s)", ref, ke.Code, ke.Message)
	}
	var todo string
	switch op {
	case opCreate:
		todo = map[string]string{
			"does not exist":      "name an existing key by its key ID, key ARN, alias name or alias ARN",
			"is disabled":         "enable it (aws kms enable-key), or name another key",
			"is pending deletion": "cancel its deletion (aws kms cancel-key-deletion) and enable it, or name another key",
		}[state]
	case opWrite:
		todo = map[string]string{
			"does not exist":      "the repository cannot take pushes: its key was deleted",
			"is disabled":         "the repository cannot take pushes until it is enabled",
			"is pending deletion": "the repository cannot take pushes unless its deletion is cancelled and it is enabled",
		}[state]
	case opRead:
		todo = map[string]string{
			"does not exist":      "the repository's images cannot be read: its key was deleted",
			"is disabled":         "the repository's images cannot be read until it is enabled",
			"is pending deletion": "the repository's images cannot be read unless its deletion is cancelled and it is enabled",
		}[state]
	}
	return errorf(CodeKMS, "KMS key %s %s: %s", ref, state, todo)
}

// checkKey fails if KMS key arn is not usable, as last seen at most
// keyCheckInterval ago.
func (r *Registry) checkKey(ctx context.Context, arn string, op keyOp) error {
	if st, ok := r.dataKeys.state(arn, r.now()); ok {
		return keyFailure(st.err, arn, op)
	}
	account, region, _, _ := parseKeyARN(arn)
	_, err := r.keys.KeyUsable(ctx, arn, account, region)
	var ke *KeyError
	if err == nil || errors.As(err, &ke) {
		r.dataKeys.setState(arn, err, r.now())
	}
	return keyFailure(err, arn, op)
}

// hasObject reports whether a space holds blob d.
func hasObject(ctx context.Context, sp blobSpace, d digest.Digest) (bool, error) {
	_, err := sp.store.Stat(ctx, d)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// objectSize returns the plaintext size of blob d as a space holds it.
func objectSize(ctx context.Context, sp blobSpace, d digest.Digest) (int64, error) {
	if !sp.encrypted() {
		return sp.store.Stat(ctx, d)
	}
	rc, err := sp.store.Open(ctx, d)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	h, err := blobcrypt.ReadHeader(rc)
	if err != nil {
		return 0, fmt.Errorf("blob %s in KMS key %s's storage: %w", d, sp.keyARN, err)
	}
	size, err := rc.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	size, err = blobcrypt.PlaintextSize(h.Len(), size)
	if err != nil {
		return 0, fmt.Errorf("blob %s in KMS key %s's storage: %w", d, sp.keyARN, err)
	}
	return size, nil
}

// storeObject stores blob b, whose plaintext src gives, in a space,
// encrypting it under a new data key if the space is encrypted; a space
// that holds the blob already keeps its copy. verify, if set, is called
// once src is read, before the object is committed: a copy checks the
// digest of what it read. Memory stays bounded: the bytes stream through
// blobcrypt's segments. The space's Commit makes the object durable.
func (r *Registry) storeObject(ctx context.Context, sp blobSpace, b metadata.Blob, src io.Reader, verify func() error) error {
	if ok, err := hasObject(ctx, sp, b.Digest); ok || err != nil {
		return err
	}
	var plain, wrapped []byte
	if sp.encrypted() {
		var err error
		plain, wrapped, err = r.keys.DataKey(ctx, sp.keyARN, blobContext(b.Digest))
		if err != nil {
			var ke *KeyError
			if errors.As(err, &ke) {
				r.dataKeys.setState(sp.keyARN, err, r.now())
			}
			return keyFailure(err, sp.keyARN, opWrite)
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
				r.log.Warn("removing a failed encryption", "upload", id, "err", err)
			}
		}
	}()
	var out io.Writer = w
	var ew *blobcrypt.Writer
	if sp.encrypted() {
		if ew, err = blobcrypt.NewWriter(w, blobcrypt.Header{KeyARN: sp.keyARN, WrappedKey: wrapped}, plain); err != nil {
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
	if sp.encrypted() {
		// The pulls that follow a push need not unwrap it again.
		r.dataKeys.put(wrapped, plain, r.now())
	}
	return nil
}

// encryptUpload stores a verified upload as blob b of an encrypted
// space. The upload stays; the caller removes it.
func (r *Registry) encryptUpload(ctx context.Context, sp blobSpace, id string, b metadata.Blob) error {
	rc, err := r.blobs.ReadUpload(ctx, id, 0, b.Size)
	if err != nil {
		return err
	}
	defer rc.Close()
	return r.storeObject(ctx, sp, b, rc, nil)
}

// copyObject stores blob b, which space src holds, in space dst too,
// hashing what it reads so that only bytes that match the digest are
// stored. The caller has recorded the blob (recordBlob), as a push does.
func (r *Registry) copyObject(ctx context.Context, b metadata.Blob, src, dst blobSpace) error {
	if ok, err := hasObject(ctx, dst, b.Digest); ok || err != nil {
		return err
	}
	rc, err := r.openObject(ctx, src, b)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := b.Digest.Algorithm().Hash()
	return r.storeObject(ctx, dst, b, io.TeeReader(rc, h), func() error {
		return checkCopy(b.Digest, h)
	})
}

func checkCopy(d digest.Digest, h hash.Hash) error {
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return fmt.Errorf("blob %s reads back as %s: its stored bytes are corrupt", d, got)
	}
	return nil
}

// openObject opens blob b of a space for reading its plaintext. For an
// encrypted space the reader decrypts, and authenticates, the segments
// it reads; a key that cannot be used is a KMS error before anything is
// read.
func (r *Registry) openObject(ctx context.Context, sp blobSpace, b metadata.Blob) (io.ReadSeekCloser, error) {
	rc, err := sp.store.Open(ctx, b.Digest)
	if err != nil || !sp.encrypted() {
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
		k, kerr := r.dataKey(ctx, sp, b.Digest, h)
		key = k
		return k, kerr
	})
	clear(key) // a copy: NewReader has derived what it needs
	if err == nil && dec.Size() != b.Size {
		err = fmt.Errorf("blob %s decrypts to %d bytes, but %d are recorded", b.Digest, dec.Size(), b.Size)
	}
	if err != nil {
		rc.Close()
		var re *Error
		if errors.As(err, &re) && re.Code == CodeKMS {
			return nil, re // without blobcrypt's wrapping: the message is the client's
		}
		r.log.Error("an encrypted blob cannot be read", "digest", b.Digest, "key", sp.keyARN, "err", err)
		return nil, fmt.Errorf("blob %s cannot be decrypted: %w", b.Digest, err)
	}
	return decrypted{dec, rc}, nil
}

// dataKey unwraps the data key of object d of space sp, whose header is
// h: from the cache while the key is usable, else through KMS.
func (r *Registry) dataKey(ctx context.Context, sp blobSpace, d digest.Digest, h blobcrypt.Header) ([]byte, error) {
	if h.KeyARN != sp.keyARN {
		return nil, fmt.Errorf("%w: its header names KMS key %s, not %s, whose storage holds it", blobcrypt.ErrCorrupt, h.KeyARN, sp.keyARN)
	}
	now := r.now()
	if key, ok := r.dataKeys.get(h.WrappedKey, now); ok {
		if err := r.checkKey(ctx, sp.keyARN, opRead); err != nil {
			clear(key)
			return nil, err
		}
		return key, nil
	}
	key, arn, err := r.keys.DecryptDataKey(ctx, h.WrappedKey, blobContext(d))
	var ke *KeyError
	switch {
	case errors.As(err, &ke) && ke.Code == kmsInvalidCiphertext:
		return nil, fmt.Errorf("%w: its data key does not unwrap for this digest (%v)", blobcrypt.ErrCorrupt, err)
	case errors.As(err, &ke):
		r.dataKeys.setState(sp.keyARN, err, now)
		return nil, keyFailure(err, sp.keyARN, opRead)
	case err != nil:
		return nil, err
	case arn != sp.keyARN:
		clear(key)
		return nil, fmt.Errorf("%w: its data key was wrapped by KMS key %s, not %s", blobcrypt.ErrCorrupt, arn, sp.keyARN)
	}
	r.dataKeys.setState(sp.keyARN, nil, now)
	r.dataKeys.put(h.WrappedKey, key, now)
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

// keyCache holds unwrapped data keys, by wrapped key, and the last seen
// state of each KMS key (see dataKeyTTL).
type keyCache struct {
	mu     sync.Mutex
	keys   map[string]*list.Element // of *cachedKey
	lru    list.List                // most recently used first
	states map[string]keyState      // by key ARN
}

type cachedKey struct {
	wrapped string
	plain   []byte
	added   time.Time
}

type keyState struct {
	err     error // nil: usable
	checked time.Time
}

func newKeyCache() *keyCache {
	return &keyCache{keys: map[string]*list.Element{}, states: map[string]keyState{}}
}

// get returns a copy of a cached data key, which the caller may clear.
func (c *keyCache) get(wrapped []byte, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[string(wrapped)]
	if !ok {
		return nil, false
	}
	k := e.Value.(*cachedKey)
	if now.Sub(k.added) >= dataKeyTTL {
		c.remove(e)
		return nil, false
	}
	c.lru.MoveToFront(e)
	return append([]byte(nil), k.plain...), true
}

func (c *keyCache) put(wrapped, plain []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[string(wrapped)]; ok {
		c.remove(e)
	}
	k := &cachedKey{wrapped: string(wrapped), plain: append([]byte(nil), plain...), added: now}
	c.keys[k.wrapped] = c.lru.PushFront(k)
	for c.lru.Len() > dataKeyCacheSize {
		c.remove(c.lru.Back())
	}
}

func (c *keyCache) remove(e *list.Element) {
	k := c.lru.Remove(e).(*cachedKey)
	clear(k.plain)
	delete(c.keys, k.wrapped)
}

// state returns a key's state if it was checked within keyCheckInterval.
func (c *keyCache) state(arn string, now time.Time) (keyState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.states[arn]
	if !ok || now.Sub(s.checked) >= keyCheckInterval || now.Before(s.checked) {
		return keyState{}, false
	}
	return s, true
}

func (c *keyCache) setState(arn string, err error, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.states) >= dataKeyCacheSize {
		clear(c.states) // keys in use are few; this bounds the map all the same
	}
	c.states[arn] = keyState{err: err, checked: now}
}
