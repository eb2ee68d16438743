package kms

// Ciphertext blobs. The format is ecrd's own (AWS's is opaque to clients
// too). Everything before the sealed data is authenticated:
//
//	offset  size  field
//	0       1     format version: 1
//	1       12    the key's account ID, ASCII digits
//	13      1     n, the length of the key's region name (1 to 32)
//	14      n     the key's region, ASCII
//	14+n    16    the key ID: its UUID's 16 bytes
//	30+n    4     the key material version, big-endian
//	34+n    12    the AES-GCM nonce
//	46+n    ...   the AES-256-GCM ciphertext and its 16-byte tag
//
// The additional authenticated data is the header (bytes 0 to 46+n)
// followed by the canonical encryption context: the number of pairs, then
// the pairs sorted by key (bytewise), each string a 4-byte big-endian
// length and its bytes; no context is the same as an empty one. A blob
// thus names its key (Decrypt needs no KeyId, as on AWS), and changing
// any byte of it, or decrypting with another encryption context, fails
// authentication: InvalidCiphertextException.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

const (
	blobVersion   = 1
	nonceSize     = 12
	gcmTagSize    = 16
	maxRegionName = 32
)

// materialContext binds sealed key material to its key and version.
func materialContext(arn string, version int) []byte {
	return []byte("ecrd kms key material\x00" + arn + "\x00" + strconv.Itoa(version))
}

// blob is a parsed ciphertext blob.
type blob struct {
	scope   Scope
	keyID   string
	version int
	header  []byte // bytes 0 to 46+n: the authenticated header, nonce included
	nonce   []byte
	sealed  []byte
}

func invalidCiphertext() error {
	return awserr.Errorf(CodeInvalidCiphertext, "The ciphertext is not valid, or does not match the encryption context: pass the CiphertextBlob and the EncryptionContext exactly as encryption gave and used them")
}

// parseBlob reads a blob's header. It checks the form only; the AEAD
// checks everything else.
func parseBlob(b []byte) (blob, error) {
	var out blob
	if len(b) < 14 || b[0] != blobVersion {
		return out, invalidCiphertext()
	}
	account := string(b[1:13])
	n := int(b[13])
	if !awsid.ValidAccountID(account) || n < 1 || n > maxRegionName || len(b) < 14+n+16+4+nonceSize+gcmTagSize {
		return out, invalidCiphertext()
	}
	region := string(b[14 : 14+n])
	for i := 0; i < len(region); i++ {
		c := region[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return out, invalidCiphertext()
		}
	}
	p := 14 + n
	h := hex.EncodeToString(b[p : p+16])
	out.keyID = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	version := binary.BigEndian.Uint32(b[p+16 : p+20])
	if version == 0 || version > 1<<20 {
		return out, invalidCiphertext()
	}
	out.version = int(version)
	out.scope = Scope{Account: account, Region: region}
	end := p + 20 + nonceSize
	out.header, out.nonce, out.sealed = b[:end], b[p+20:end], b[end:]
	return out, nil
}

// appendContext appends the canonical encryption context.
func appendContext(b []byte, encCtx map[string]string) []byte {
	keys := make([]string, 0, len(encCtx))
	for k := range encCtx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		v := encCtx[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// aead returns the cipher of one of a key's material versions, unsealed
// once and cached (material never changes once made).
func (s *Service) aead(d *keyDoc, version int) (cipher.AEAD, material, bool, error) {
	i := slices.IndexFunc(d.Materials, func(m material) bool { return m.Version == version })
	if i < 0 {
		return nil, material{}, false, nil
	}
	m := d.Materials[i]
	cacheKey := d.ARN + "#" + strconv.Itoa(version)
	if v, ok := s.materials.Load(cacheKey); ok {
		return v.(cipher.AEAD), m, true, nil
	}
	raw, err := s.keys.Open(m.Sealed, materialContext(d.ARN, version))
	if err != nil {
		s.log.Error("a KMS key's material cannot be unsealed", "key", d.ARN, "version", version, "err", err)
		return nil, m, false, errMaterial
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, m, false, err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, m, false, err
	}
	s.materials.Store(cacheKey, g)
	return g, m, true, nil
}

// seal encrypts plaintext under a key's current material.
func (s *Service) seal(d *keyDoc, plaintext []byte, encCtx map[string]string) ([]byte, material, error) {
	cur := d.current()
	g, m, _, err := s.aead(d, cur.Version)
	if err != nil {
		return nil, m, err
	}
	id, err := hex.DecodeString(strings.ReplaceAll(d.ID, "-", ""))
	if err != nil || len(id) != 16 {
		return nil, m, errMaterial
	}
	hdr := make([]byte, 0, 14+len(d.Region)+16+4+nonceSize+len(plaintext)+gcmTagSize)
	hdr = append(hdr, blobVersion)
	hdr = append(hdr, d.Account...)
	hdr = append(hdr, byte(len(d.Region)))
	hdr = append(hdr, d.Region...)
	hdr = append(hdr, id...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(m.Version))
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, m, err
	}
	hdr = append(hdr, nonce...)
	aad := appendContext(slices.Clone(hdr), encCtx)
	return g.Seal(hdr, nonce, plaintext, aad), m, nil
}

// open decrypts a blob made with key d.
func (s *Service) open(d *keyDoc, b blob, encCtx map[string]string) ([]byte, material, error) {
	g, m, ok, err := s.aead(d, b.version)
	if err != nil {
		return nil, m, err
	}
	if !ok {
		return nil, m, invalidCiphertext()
	}
	aad := appendContext(slices.Clone(b.header), encCtx)
	pt, err := g.Open(nil, b.nonce, b.sealed, aad)
	if err != nil {
		return nil, m, invalidCiphertext()
	}
	return pt, m, nil
}

// forEncryption returns the key with its material rotated first if its
// automatic rotation has come due (rotation happens when the key is next
// used, rather than on a timer: the effect is the same for every
// ciphertext).
func (s *Service) forEncryption(ctx context.Context, d *keyDoc) (*keyDoc, error) {
	if !d.Rotation.Enabled || s.now().Before(d.Rotation.NextRotation) {
		return d, nil
	}
	var out *keyDoc
	scope := Scope{Account: d.Account, Region: d.Region}
	err := s.update(ctx, func(tx metadata.Tx, rec record) error {
		cur, err := s.loadKey(ctx, tx, scope, d.ID)
		if err != nil {
			return err
		}
		out = cur
		if !cur.Rotation.Enabled || s.now().Before(cur.Rotation.NextRotation) {
			return nil // another request rotated it
		}
		if err := s.addMaterial(cur); err != nil {
			return err
		}
		cur.Rotation.NextRotation = s.now().UTC().Add(days(cur.Rotation.PeriodInDays))
		if err := saveKey(ctx, tx, cur, false); err != nil {
			return err
		}
		return rec(scope, call{action: "RotateKey", params: map[string]any{"keyId": cur.ID}, byKMS: true}, cur.ARN)
	})
	return out, err
}

func dryRun() error {
	return awserr.Errorf(CodeDryRun, "The request would have succeeded, but the DryRun option is set.")
}

func checkAlgorithm(v *validation, alg string) {
	v.enum(alg, "encryptionAlgorithm", encAlgorithms)
}

func algorithmFits(alg string) error {
	if alg != "" && alg != SpecSymmetric {
		return awserr.Errorf(CodeInvalidKeyUsage, "Algorithm %s is incompatible with key spec SYMMETRIC_DEFAULT.", alg)
	}
	return nil
}

// EncryptInput is what Encrypt takes.
type EncryptInput struct {
	KeyID               string
	Plaintext           []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string // "" or SYMMETRIC_DEFAULT; RSAES_OAEP_SHA_1 or _256 for RSA keys
	DryRun              bool
}

// Encrypted is a ciphertext and what made it.
type Encrypted struct {
	CiphertextBlob      []byte
	KeyARN              string
	KeyMaterialID       string // symmetric keys only
	EncryptionAlgorithm string
}

// Encrypt encrypts up to 4096 bytes under a symmetric key, or what
// RSAES-OAEP fits under an RSA encryption key.
func (s *Service) Encrypt(ctx context.Context, scope Scope, in EncryptInput) (Encrypted, error) {
	var v validation
	v.secretLength(len(in.Plaintext), "plaintext", 1, maxPlaintext)
	checkAlgorithm(&v, in.EncryptionAlgorithm)
	if err := v.err(); err != nil {
		return Encrypted{}, err
	}
	d, err := s.key(ctx, scope, in.KeyID, access{action: "kms:Encrypt", aliases: true, crossAccount: true, state: usable, encCtx: in.EncryptionContext})
	if err != nil {
		return Encrypted{}, err
	}
	if d.KeyUsage != UsageEncryptDecrypt {
		return Encrypted{}, wrongUsage(&d.Key, "Encrypt")
	}
	if isRSA(d.KeySpec) {
		h, err := rsaEncryptionFits(&d.Key, in.EncryptionAlgorithm)
		if err != nil {
			return Encrypted{}, err
		}
		if len(in.EncryptionContext) > 0 {
			return Encrypted{}, noContext(&d.Key)
		}
		if in.DryRun {
			return Encrypted{}, dryRun()
		}
		ct, err := rsaEncrypt(d, in.EncryptionAlgorithm, h, in.Plaintext)
		if err != nil {
			return Encrypted{}, err
		}
		return Encrypted{CiphertextBlob: ct, KeyARN: d.ARN, EncryptionAlgorithm: in.EncryptionAlgorithm}, nil
	}
	if err := algorithmFits(in.EncryptionAlgorithm); err != nil {
		return Encrypted{}, err
	}
	if in.DryRun {
		return Encrypted{}, dryRun()
	}
	if d, err = s.forEncryption(ctx, d); err != nil {
		return Encrypted{}, err
	}
	ct, m, err := s.seal(d, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return Encrypted{}, err
	}
	return Encrypted{CiphertextBlob: ct, KeyARN: d.ARN, KeyMaterialID: m.ID, EncryptionAlgorithm: SpecSymmetric}, nil
}

// noContext refuses an encryption context with an asymmetric key: only
// symmetric encryption binds one to the ciphertext, and silently dropping
// it would let a caller think it was bound.
func noContext(k *Key) error {
	return awserr.Errorf(CodeValidation, "EncryptionContext is not supported with key spec %s: only symmetric encryption keys bind an encryption context.", k.KeySpec)
}

// DataKeyInput is what GenerateDataKey takes: KeySpec (AES_256, AES_128)
// or NumberOfBytes (1 to 1024), not both.
type DataKeyInput struct {
	KeyID             string
	KeySpec           string
	NumberOfBytes     *int
	EncryptionContext map[string]string
	DryRun            bool
}

// DataKey is a data key: its plaintext (for GenerateDataKey) and its
// encrypted copy, which Decrypt turns back into the plaintext.
type DataKey struct {
	Plaintext      []byte
	CiphertextBlob []byte
	KeyARN         string
	KeyMaterialID  string
}

// GenerateDataKey makes a random data key and returns it in plaintext and
// encrypted under a key.
func (s *Service) GenerateDataKey(ctx context.Context, scope Scope, in DataKeyInput) (DataKey, error) {
	return s.generateDataKey(ctx, scope, in, "kms:GenerateDataKey", true)
}

// GenerateDataKeyWithoutPlaintext is GenerateDataKey returning only the
// encrypted copy.
func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, scope Scope, in DataKeyInput) (DataKey, error) {
	return s.generateDataKey(ctx, scope, in, "kms:GenerateDataKeyWithoutPlaintext", false)
}

func (s *Service) generateDataKey(ctx context.Context, scope Scope, in DataKeyInput, action string, plaintext bool) (DataKey, error) {
	var v validation
	v.enum(in.KeySpec, "keySpec", dataKeySpecs)
	if in.NumberOfBytes != nil {
		v.number(*in.NumberOfBytes, "numberOfBytes", 1, maxDataKeyBytes)
	}
	if err := v.err(); err != nil {
		return DataKey{}, err
	}
	if (in.KeySpec == "") == (in.NumberOfBytes == nil) {
		return DataKey{}, awserr.Errorf(CodeValidation, "Please specify either number of bytes or key spec.")
	}
	size := 32
	switch {
	case in.NumberOfBytes != nil:
		size = *in.NumberOfBytes
	case in.KeySpec == "AES_128":
		size = 16
	}
	d, err := s.key(ctx, scope, in.KeyID, access{action: action, aliases: true, crossAccount: true, state: usable, encCtx: in.EncryptionContext})
	if err != nil {
		return DataKey{}, err
	}
	if err := symmetricOnly(&d.Key, strings.TrimPrefix(action, "kms:")); err != nil {
		return DataKey{}, err
	}
	if in.DryRun {
		return DataKey{}, dryRun()
	}
	if d, err = s.forEncryption(ctx, d); err != nil {
		return DataKey{}, err
	}
	pt := make([]byte, size)
	if _, err := rand.Read(pt); err != nil {
		return DataKey{}, err
	}
	ct, m, err := s.seal(d, pt, in.EncryptionContext)
	if err != nil {
		return DataKey{}, err
	}
	out := DataKey{CiphertextBlob: ct, KeyARN: d.ARN, KeyMaterialID: m.ID}
	if plaintext {
		out.Plaintext = pt
	}
	return out, nil
}

// DecryptInput is what Decrypt takes. KeyID is optional: the blob names
// its key; when given it must name the same key.
type DecryptInput struct {
	CiphertextBlob      []byte
	KeyID               string
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	DryRun              bool
}

// Decrypted is a decrypted plaintext and the key that decrypted it.
type Decrypted struct {
	Plaintext           []byte
	KeyARN              string
	KeyMaterialID       string // symmetric keys only
	EncryptionAlgorithm string
}

// Decrypt decrypts a blob that Encrypt or GenerateDataKey made, with the
// same encryption context, in the region of the key that made it.
func (s *Service) Decrypt(ctx context.Context, scope Scope, in DecryptInput) (Decrypted, error) {
	var v validation
	v.secretLength(len(in.CiphertextBlob), "ciphertextBlob", 1, maxCiphertext)
	checkAlgorithm(&v, in.EncryptionAlgorithm)
	if in.KeyID != "" {
		v.keyRef(in.KeyID, "keyId")
	}
	if err := v.err(); err != nil {
		return Decrypted{}, err
	}
	var named *keyDoc
	if in.KeyID != "" {
		rf, err := parseRef(in.KeyID, scope, true)
		if err != nil {
			return Decrypted{}, err
		}
		if named, err = s.resolve(ctx, rf, rf.scope.Account == callerAccount(ctx)); err != nil {
			return Decrypted{}, err
		}
		if isRSA(named.KeySpec) && named.KeyUsage == UsageEncryptDecrypt {
			// An RSA ciphertext is bare: the request's KeyId names its key.
			return s.decryptRSA(ctx, named, in)
		}
	}
	b, err := parseBlob(in.CiphertextBlob)
	if err != nil {
		return Decrypted{}, err
	}
	if b.scope.Region != scope.Region {
		return Decrypted{}, awserr.Errorf(CodeInvalidCiphertext, "The ciphertext was made by a key in %s: decrypt it in that region", b.scope.Region)
	}
	if named != nil && (named.ID != b.keyID || named.Account != b.scope.Account) {
		return Decrypted{}, awserr.Errorf(CodeIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
	}
	d, err := s.readKeyVersion(ctx, b.scope, b.keyID, b.version)
	if err != nil {
		return Decrypted{}, err
	}
	if err := s.authorizeKey(ctx, "kms:Decrypt", &d.Key, in.EncryptionContext); err != nil {
		return Decrypted{}, err
	}
	if err := usable(&d.Key); err != nil {
		return Decrypted{}, err
	}
	if err := algorithmFits(in.EncryptionAlgorithm); err != nil {
		return Decrypted{}, err
	}
	if in.DryRun {
		return Decrypted{}, dryRun()
	}
	pt, m, err := s.open(d, b, in.EncryptionContext)
	if err != nil {
		return Decrypted{}, err
	}
	return Decrypted{Plaintext: pt, KeyARN: d.ARN, KeyMaterialID: m.ID, EncryptionAlgorithm: SpecSymmetric}, nil
}

// decryptRSA decrypts an RSAES-OAEP ciphertext with the RSA key d, which
// the request named.
func (s *Service) decryptRSA(ctx context.Context, d *keyDoc, in DecryptInput) (Decrypted, error) {
	if err := s.authorizeKey(ctx, "kms:Decrypt", &d.Key, in.EncryptionContext); err != nil {
		return Decrypted{}, err
	}
	if err := usable(&d.Key); err != nil {
		return Decrypted{}, err
	}
	h, err := rsaEncryptionFits(&d.Key, in.EncryptionAlgorithm)
	if err != nil {
		return Decrypted{}, err
	}
	if len(in.EncryptionContext) > 0 {
		return Decrypted{}, noContext(&d.Key)
	}
	if in.DryRun {
		return Decrypted{}, dryRun()
	}
	pt, err := s.rsaDecrypt(d, h, in.CiphertextBlob)
	if err != nil {
		return Decrypted{}, err
	}
	return Decrypted{Plaintext: pt, KeyARN: d.ARN, EncryptionAlgorithm: in.EncryptionAlgorithm}, nil
}

// DataKey makes a 256-bit data key under a key (a key or alias ARN) for
// ECR, which calls it on behalf of a repository operation it has
// authorized: the key's state is checked, the caller is not.
func (s *Service) DataKey(ctx context.Context, keyARN string, encCtx map[string]string) (plaintext, ciphertext []byte, err error) {
	d, err := s.usableKey(ctx, keyARN, Scope{})
	if err != nil {
		return nil, nil, err
	}
	if d, err = s.forEncryption(ctx, d); err != nil {
		return nil, nil, err
	}
	plaintext = make([]byte, 32)
	if _, err := rand.Read(plaintext); err != nil {
		return nil, nil, err
	}
	ciphertext, _, err = s.seal(d, plaintext, encCtx)
	if err != nil {
		return nil, nil, err
	}
	return plaintext, ciphertext, nil
}

// DecryptDataKey decrypts what DataKey made, for ECR: the key's state is
// checked, the caller is not. It returns the ARN of the key that made it.
func (s *Service) DecryptDataKey(ctx context.Context, ciphertext []byte, encCtx map[string]string) (plaintext []byte, keyARN string, err error) {
	b, err := parseBlob(ciphertext)
	if err != nil {
		return nil, "", err
	}
	d, err := s.readKeyVersion(ctx, b.scope, b.keyID, b.version)
	if err != nil {
		return nil, "", err
	}
	if err := usable(&d.Key); err != nil {
		return nil, d.ARN, err
	}
	pt, _, err := s.open(d, b, encCtx)
	if err != nil {
		return nil, d.ARN, err
	}
	return pt, d.ARN, nil
}

// KeyUsable resolves a key reference (key ID, key ARN, alias name or
// alias ARN) made in an account and region, as ECR's CreateRepository
// does with its kmsKey, and checks that the key is enabled. It does not
// authorize: ECR asks on behalf of an authorized operation.
func (s *Service) KeyUsable(ctx context.Context, keyRef, account, region string) (Key, error) {
	d, err := s.usableKey(ctx, keyRef, Scope{Account: account, Region: region})
	if err != nil {
		return Key{}, err
	}
	return d.Key, nil
}

// usableKey resolves a reference and checks the key is enabled. With a
// zero scope the reference must be an ARN, which gives the scope.
func (s *Service) usableKey(ctx context.Context, keyRef string, scope Scope) (*keyDoc, error) {
	if scope == (Scope{}) {
		a, ok := awsid.Parse(keyRef)
		if !ok {
			return nil, invalidARN(keyRef)
		}
		scope = Scope{Account: a.AccountID, Region: a.Region}
	}
	rf, err := parseRef(keyRef, scope, true)
	if err != nil {
		return nil, err
	}
	d, err := s.resolve(ctx, rf, true)
	if err != nil {
		return nil, err
	}
	if err := usable(&d.Key); err != nil {
		return nil, err
	}
	if err := symmetricOnly(&d.Key, "GenerateDataKey"); err != nil {
		return nil, err
	}
	return d, nil
}
