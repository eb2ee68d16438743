package kms

// Asymmetric keys: RSA keys that sign (RSASSA-PSS and PKCS #1 v1.5) or
// encrypt (RSAES-OAEP), and NIST-curve ECDSA keys that sign, as KMS makes
// them. The private key is generated here, stored as PKCS #8 sealed under
// the server keyring exactly as symmetric key material is (one material
// version: asymmetric keys do not rotate, as on AWS), and unsealed once
// per process into a cache. The public key is kept in the clear.
// Signatures are in KMS's formats: an ECDSA signature is DER (ASN.1
// SEQUENCE of r and s), an RSA signature the raw modulus-sized integer.
// RSASSA-PSS uses MGF1 with the message digest and a salt as long as the
// digest, as KMS does.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"

	"github.com/ecrd/ecrd/internal/awserr"
)

// Asymmetric key specs ecrd makes.
const (
	SpecRSA2048 = "RSA_2048"
	SpecRSA3072 = "RSA_3072"
	SpecRSA4096 = "RSA_4096"
	SpecECCP256 = "ECC_NIST_P256"
	SpecECCP384 = "ECC_NIST_P384"
	SpecECCP521 = "ECC_NIST_P521"
)

// Message types of Sign and Verify.
const (
	MessageRaw    = "RAW"
	MessageDigest = "DIGEST"
)

// specUsages is which key usages each key spec allows on AWS (KMS
// developer guide, "Key spec reference"), for the specs ecrd makes and
// those it refuses, so that an incompatible pair gets AWS's
// ValidationException before ecrd's UnsupportedOperationException.
var specUsages = map[string][]string{
	SpecSymmetric:           {UsageEncryptDecrypt},
	SpecRSA2048:             {UsageEncryptDecrypt, UsageSignVerify},
	SpecRSA3072:             {UsageEncryptDecrypt, UsageSignVerify},
	SpecRSA4096:             {UsageEncryptDecrypt, UsageSignVerify},
	SpecECCP256:             {UsageSignVerify, "KEY_AGREEMENT"},
	SpecECCP384:             {UsageSignVerify, "KEY_AGREEMENT"},
	SpecECCP521:             {UsageSignVerify, "KEY_AGREEMENT"},
	"ECC_SECG_P256K1":       {UsageSignVerify},
	"HMAC_224":              {"GENERATE_VERIFY_MAC"},
	"HMAC_256":              {"GENERATE_VERIFY_MAC"},
	"HMAC_384":              {"GENERATE_VERIFY_MAC"},
	"HMAC_512":              {"GENERATE_VERIFY_MAC"},
	"SM2":                   {UsageEncryptDecrypt, UsageSignVerify, "KEY_AGREEMENT"},
	"ML_DSA_44":             {UsageSignVerify},
	"ML_DSA_65":             {UsageSignVerify},
	"ML_DSA_87":             {UsageSignVerify},
	"ECC_NIST_EDWARDS25519": {UsageSignVerify},
	"ML_KEM_512":            {"KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"},
	"ML_KEM_768":            {"KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"},
	"ML_KEM_1024":           {"KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"},
}

// served reports whether ecrd makes keys of a spec and usage.
func served(spec, usage string) bool {
	switch spec {
	case SpecSymmetric:
		return usage == UsageEncryptDecrypt
	case SpecRSA2048, SpecRSA3072, SpecRSA4096:
		return usage == UsageEncryptDecrypt || usage == UsageSignVerify
	case SpecECCP256, SpecECCP384, SpecECCP521:
		return usage == UsageSignVerify
	}
	return false
}

func isRSA(spec string) bool {
	return spec == SpecRSA2048 || spec == SpecRSA3072 || spec == SpecRSA4096
}

// Asymmetric reports whether the key has a public key.
func (k Key) Asymmetric() bool { return k.KeySpec != SpecSymmetric }

// SigningAlgorithms lists the algorithms a signing key signs with, in
// the order DescribeKey and GetPublicKey give them (nil for other keys).
func (k Key) SigningAlgorithms() []string {
	if k.KeyUsage != UsageSignVerify {
		return nil
	}
	switch k.KeySpec {
	case SpecRSA2048, SpecRSA3072, SpecRSA4096:
		return []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
			"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
	case SpecECCP256:
		return []string{"ECDSA_SHA_256"}
	case SpecECCP384:
		return []string{"ECDSA_SHA_384"}
	case SpecECCP521:
		return []string{"ECDSA_SHA_512"}
	}
	return nil
}

// EncryptionAlgorithms lists the algorithms an encryption key encrypts
// with (nil for other keys).
func (k Key) EncryptionAlgorithms() []string {
	switch {
	case k.KeyUsage != UsageEncryptDecrypt:
		return nil
	case k.KeySpec == SpecSymmetric:
		return []string{SpecSymmetric}
	case isRSA(k.KeySpec):
		return []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
	}
	return nil
}

// generateKeyPair makes an asymmetric key pair of a spec, returning the
// private key as PKCS #8 and the public key as a SubjectPublicKeyInfo.
func generateKeyPair(spec string) (private, public []byte, err error) {
	var key crypto.Signer
	switch spec {
	case SpecRSA2048, SpecRSA3072, SpecRSA4096:
		bits, _ := strconv.Atoi(spec[len("RSA_"):])
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case SpecECCP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case SpecECCP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case SpecECCP521:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		return nil, nil, awserr.Errorf(CodeUnsupported, "ecrd does not make keys of KeySpec %s", spec)
	}
	if err != nil {
		return nil, nil, err
	}
	if private, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return nil, nil, err
	}
	if public, err = x509.MarshalPKIXPublicKey(key.Public()); err != nil {
		return nil, nil, err
	}
	return private, public, nil
}

// addKeyPair gives a new asymmetric key its key pair: one material
// version, the private key sealed.
func (s *Service) addKeyPair(d *keyDoc) error {
	private, public, err := generateKeyPair(d.KeySpec)
	if err != nil {
		return err
	}
	idb := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return err
	}
	d.Materials = []material{{Version: 1, ID: hex.EncodeToString(idb), Sealed: s.keys.Seal(private, materialContext(d.ARN, 1)), Created: s.now().UTC()}}
	d.PublicKey = public
	return nil
}

// privateKey returns an asymmetric key's private key, unsealed once and
// cached (it never changes).
func (s *Service) privateKey(d *keyDoc) (crypto.Signer, error) {
	cacheKey := "private#" + d.ARN
	if v, ok := s.materials.Load(cacheKey); ok {
		return v.(crypto.Signer), nil
	}
	if len(d.Materials) != 1 {
		return nil, errMaterial
	}
	raw, err := s.keys.Open(d.Materials[0].Sealed, materialContext(d.ARN, d.Materials[0].Version))
	if err != nil {
		s.log.Error("a KMS key's private key cannot be unsealed", "key", d.ARN, "err", err)
		return nil, errMaterial
	}
	k, err := x509.ParsePKCS8PrivateKey(raw)
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errMaterial
	}
	s.materials.Store(cacheKey, signer)
	return signer, nil
}

// publicKey parses an asymmetric key's public key.
func publicKey(d *keyDoc) (crypto.PublicKey, error) {
	return x509.ParsePKIXPublicKey(d.PublicKey)
}

// wrongUsage is KMS's answer to an operation the key's usage does not
// allow.
func wrongUsage(k *Key, op string) error {
	return awserr.Errorf(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", k.ARN, k.KeyUsage, op)
}

// symmetricOnly refuses op (GenerateDataKey and what ECR does) on a key
// that is not a symmetric encryption key.
func symmetricOnly(k *Key, op string) error {
	if k.KeyUsage != UsageEncryptDecrypt {
		return wrongUsage(k, op)
	}
	if k.KeySpec != SpecSymmetric {
		return awserr.Errorf(CodeInvalidKeyUsage, "%s key spec %s is not valid for %s.", k.ARN, k.KeySpec, op)
	}
	return nil
}

// signing is a signing algorithm: its digest, and how it signs.
type signing struct {
	hash crypto.Hash
	pss  bool // RSASSA-PSS; else PKCS #1 v1.5 for RSA keys
	ecc  bool // ECDSA
}

var signingAlgorithms = map[string]signing{
	"RSASSA_PSS_SHA_256":        {hash: crypto.SHA256, pss: true},
	"RSASSA_PSS_SHA_384":        {hash: crypto.SHA384, pss: true},
	"RSASSA_PSS_SHA_512":        {hash: crypto.SHA512, pss: true},
	"RSASSA_PKCS1_V1_5_SHA_256": {hash: crypto.SHA256},
	"RSASSA_PKCS1_V1_5_SHA_384": {hash: crypto.SHA384},
	"RSASSA_PKCS1_V1_5_SHA_512": {hash: crypto.SHA512},
	"ECDSA_SHA_256":             {hash: crypto.SHA256, ecc: true},
	"ECDSA_SHA_384":             {hash: crypto.SHA384, ecc: true},
	"ECDSA_SHA_512":             {hash: crypto.SHA512, ecc: true},
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA1:
		return sha1.New()
	case crypto.SHA256:
		return sha256.New()
	case crypto.SHA384:
		return sha512.New384()
	}
	return sha512.New()
}

// SignInput is what Sign and Verify take.
type SignInput struct {
	KeyID            string
	Message          []byte
	MessageType      string // RAW (""), DIGEST
	SigningAlgorithm string
	Signature        []byte // Verify's
	DryRun           bool
}

// Signed is what Sign and Verify answer: the key, the algorithm, and
// Sign's signature.
type Signed struct {
	KeyARN           string
	Signature        []byte
	SigningAlgorithm string
}

// signRequest checks a Sign or Verify request and returns the key, the
// algorithm and the digest to sign or verify.
func (s *Service) signRequest(ctx context.Context, scope Scope, in SignInput, op string) (*keyDoc, signing, []byte, error) {
	var v validation
	v.secretLength(len(in.Message), "message", 1, maxPlaintext)
	v.enum(in.MessageType, "messageType", messageTypes)
	v.enum(in.SigningAlgorithm, "signingAlgorithm", signingAlgorithmNames)
	if op == "Verify" {
		v.secretLength(len(in.Signature), "signature", 1, maxCiphertext)
	}
	if err := v.err(); err != nil {
		return nil, signing{}, nil, err
	}
	d, err := s.key(ctx, scope, in.KeyID, access{action: "kms:" + op, aliases: true, crossAccount: true, state: usable})
	if err != nil {
		return nil, signing{}, nil, err
	}
	if d.KeyUsage != UsageSignVerify {
		return nil, signing{}, nil, wrongUsage(&d.Key, op)
	}
	alg := signingAlgorithms[in.SigningAlgorithm]
	if !slices.Contains(d.SigningAlgorithms(), in.SigningAlgorithm) {
		return nil, signing{}, nil, awserr.Errorf(CodeInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", in.SigningAlgorithm, d.KeySpec)
	}
	var digest []byte
	switch in.MessageType {
	case "", MessageRaw:
		h := newHash(alg.hash)
		h.Write(in.Message)
		digest = h.Sum(nil)
	case MessageDigest:
		if len(in.Message) != alg.hash.Size() {
			return nil, signing{}, nil, awserr.Errorf(CodeValidation, "Digest is invalid length for algorithm %s.", in.SigningAlgorithm)
		}
		digest = in.Message
	default: // EXTERNAL_MU: ML-DSA keys only
		return nil, signing{}, nil, awserr.Errorf(CodeInvalidKeyUsage, "MessageType %s is incompatible with key spec %s.", in.MessageType, d.KeySpec)
	}
	if in.DryRun {
		return nil, signing{}, nil, dryRun()
	}
	return d, alg, digest, nil
}

// Sign signs a message (RAW, up to 4096 bytes) or a message digest
// (DIGEST) with a SIGN_VERIFY key.
func (s *Service) Sign(ctx context.Context, scope Scope, in SignInput) (Signed, error) {
	d, alg, digest, err := s.signRequest(ctx, scope, in, "Sign")
	if err != nil {
		return Signed{}, err
	}
	key, err := s.privateKey(d)
	if err != nil {
		return Signed{}, err
	}
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg.pss {
			sig, err = rsa.SignPSS(rand.Reader, k, alg.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(nil, k, alg.hash, digest)
		}
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest)
	default:
		err = errMaterial
	}
	if err != nil {
		return Signed{}, err
	}
	return Signed{KeyARN: d.ARN, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// Verify checks a signature Sign made (or any signature by the key's
// private key in KMS's format). A signature that does not verify is
// KMSInvalidSignatureException, whose message KMS leaves empty.
func (s *Service) Verify(ctx context.Context, scope Scope, in SignInput) (Signed, error) {
	d, alg, digest, err := s.signRequest(ctx, scope, in, "Verify")
	if err != nil {
		return Signed{}, err
	}
	pub, err := publicKey(d)
	if err != nil {
		return Signed{}, err
	}
	ok := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg.pss {
			ok = rsa.VerifyPSS(k, alg.hash, digest, in.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(k, alg.hash, digest, in.Signature) == nil
		}
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, in.Signature)
	}
	if !ok {
		return Signed{}, &Error{Code: CodeInvalidSignature}
	}
	return Signed{KeyARN: d.ARN, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// PublicKeyInfo is what GetPublicKey answers.
type PublicKeyInfo struct {
	Key
	PublicKey []byte // DER SubjectPublicKeyInfo
}

// PublicKey returns an asymmetric key's public key. A symmetric key has
// none: UnsupportedOperationException.
func (s *Service) PublicKey(ctx context.Context, scope Scope, keyRef string) (PublicKeyInfo, error) {
	d, err := s.key(ctx, scope, keyRef, access{action: "kms:GetPublicKey", aliases: true, crossAccount: true, state: notPending})
	if err != nil {
		return PublicKeyInfo{}, err
	}
	if !d.Asymmetric() {
		return PublicKeyInfo{}, awserr.Errorf(CodeUnsupported, "%s key spec %s is not valid for GetPublicKey: only asymmetric keys have a public key.", d.ARN, d.KeySpec)
	}
	return PublicKeyInfo{Key: d.Key, PublicKey: d.PublicKey}, nil
}

// oaep is an RSAES-OAEP encryption algorithm's digest (MGF1 uses the
// same one, as in KMS).
func oaep(alg string) (crypto.Hash, bool) {
	switch alg {
	case "RSAES_OAEP_SHA_1":
		return crypto.SHA1, true
	case "RSAES_OAEP_SHA_256":
		return crypto.SHA256, true
	}
	return 0, false
}

// rsaEncryptionFits checks an encryption algorithm against an RSA
// ENCRYPT_DECRYPT key ("" is SYMMETRIC_DEFAULT, which RSA keys refuse).
func rsaEncryptionFits(k *Key, alg string) (crypto.Hash, error) {
	h, ok := oaep(alg)
	if !ok {
		return 0, awserr.Errorf(CodeInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", firstOf(alg, SpecSymmetric), k.KeySpec)
	}
	return h, nil
}

// rsaEncrypt encrypts with an RSA ENCRYPT_DECRYPT key: at most what OAEP
// fits in the modulus, as KMS says.
func rsaEncrypt(d *keyDoc, alg string, h crypto.Hash, plaintext []byte) ([]byte, error) {
	pub, err := publicKey(d)
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errMaterial
	}
	if most := rk.Size() - 2*h.Size() - 2; len(plaintext) > most {
		return nil, awserr.Errorf(CodeValidation, "Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, d.KeySpec, most)
	}
	return rsa.EncryptOAEP(newHash(h), rand.Reader, rk, plaintext, nil)
}

// rsaDecrypt decrypts what rsaEncrypt made.
func (s *Service) rsaDecrypt(d *keyDoc, h crypto.Hash, ciphertext []byte) ([]byte, error) {
	key, err := s.privateKey(d)
	if err != nil {
		return nil, err
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errMaterial
	}
	pt, err := rsa.DecryptOAEP(newHash(h), nil, rk, ciphertext, nil)
	if err != nil {
		return nil, invalidCiphertext()
	}
	return pt, nil
}
