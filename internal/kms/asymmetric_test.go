package kms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestSignVerify creates a key of each signing spec and signs with each
// of its algorithms, RAW and DIGEST; every signature is checked by Go's
// own verifiers against GetPublicKey's public key (so that it is in KMS's
// format: DER for ECDSA, PSS with a digest-long salt), and by Verify.
func TestSignVerify(t *testing.T) {
	f := newFixture(t)
	msg := []byte("the image manifest's digest, or anything up to 4 KiB")
	for _, c := range []struct {
		spec string
		algs []string
		pub  func(crypto.PublicKey) bool
	}{
		{SpecRSA2048, []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
			"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}, func(p crypto.PublicKey) bool { k, ok := p.(*rsa.PublicKey); return ok && k.N.BitLen() == 2048 }},
		{SpecRSA3072, nil, func(p crypto.PublicKey) bool { k, ok := p.(*rsa.PublicKey); return ok && k.N.BitLen() == 3072 }},
		{SpecECCP256, []string{"ECDSA_SHA_256"}, func(p crypto.PublicKey) bool {
			k, ok := p.(*ecdsa.PublicKey)
			return ok && k.Curve.Params().Name == "P-256"
		}},
		{SpecECCP384, []string{"ECDSA_SHA_384"}, func(p crypto.PublicKey) bool {
			k, ok := p.(*ecdsa.PublicKey)
			return ok && k.Curve.Params().Name == "P-384"
		}},
		{SpecECCP521, []string{"ECDSA_SHA_512"}, func(p crypto.PublicKey) bool {
			k, ok := p.(*ecdsa.PublicKey)
			return ok && k.Curve.Params().Name == "P-521"
		}},
	} {
		k := f.createKey(t, CreateKeyInput{KeySpec: c.spec, KeyUsage: UsageSignVerify, Description: "signing"})
		if k.KeySpec != c.spec || k.KeyUsage != UsageSignVerify || k.CurrentMaterialID != "" || k.Rotation.PeriodInDays != 0 ||
			k.EncryptionAlgorithms() != nil || (c.algs != nil && !slices.Equal(k.SigningAlgorithms(), c.algs)) {
			t.Errorf("%s: key %+v, signing algorithms %v", c.spec, k, k.SigningAlgorithms())
		}
		pk, err := f.svc.PublicKey(f.root, scope, k.ID)
		must(t, c.spec+": GetPublicKey", err)
		pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
		if err != nil || !c.pub(pub) || pk.KeySpec != c.spec {
			t.Fatalf("%s: public key %T %v", c.spec, pub, err)
		}
		algs := c.algs
		if algs == nil {
			algs = k.SigningAlgorithms()[:1]
		}
		for _, alg := range algs {
			h := signingAlgorithms[alg].hash
			hh := newHash(h)
			hh.Write(msg)
			digest := hh.Sum(nil)
			for _, in := range []SignInput{
				{KeyID: k.ARN, Message: msg, SigningAlgorithm: alg},
				{KeyID: k.ID, Message: msg, MessageType: MessageRaw, SigningAlgorithm: alg},
				{KeyID: k.ID, Message: digest, MessageType: MessageDigest, SigningAlgorithm: alg},
			} {
				what := c.spec + " " + alg + " " + firstOf(in.MessageType, "(no type)")
				s, err := f.svc.Sign(f.root, scope, in)
				must(t, what+": Sign", err)
				if s.KeyARN != k.ARN || s.SigningAlgorithm != alg {
					t.Errorf("%s: %+v", what, s)
				}
				var ok bool
				switch p := pub.(type) {
				case *rsa.PublicKey:
					if strings.Contains(alg, "PSS") {
						ok = rsa.VerifyPSS(p, h, digest, s.Signature, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
					} else {
						ok = rsa.VerifyPKCS1v15(p, h, digest, s.Signature) == nil
					}
				case *ecdsa.PublicKey:
					ok = ecdsa.VerifyASN1(p, digest, s.Signature)
				}
				if !ok {
					t.Errorf("%s: Go does not verify the signature", what)
				}
				in.Signature = s.Signature
				_, err = f.svc.Verify(f.root, scope, in)
				must(t, what+": Verify", err)
				bad := slices.Clone(s.Signature)
				bad[len(bad)/2] ^= 1
				in.Signature = bad
				_, err = f.svc.Verify(f.root, scope, in)
				wantErr(t, what+": Verify of a changed signature", err, CodeInvalidSignature, "")
			}
		}
	}
}

func TestSignErrors(t *testing.T) {
	f := newFixture(t)
	sym := f.createKey(t, CreateKeyInput{})
	ec := f.createKey(t, CreateKeyInput{KeySpec: SpecECCP256, KeyUsage: UsageSignVerify})
	rsaEnc := f.createKey(t, CreateKeyInput{KeySpec: SpecRSA2048, KeyUsage: UsageEncryptDecrypt})
	sig, err := f.svc.Sign(f.root, scope, SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	must(t, "Sign", err)
	for _, c := range []struct {
		name          string
		in            SignInput
		verify        bool
		code, message string
	}{
		{"symmetric key", SignInput{KeyID: sym.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}, false, CodeInvalidKeyUsage,
			sym.ARN + " key usage is ENCRYPT_DECRYPT which is not valid for Sign."},
		{"symmetric key, Verify", SignInput{KeyID: sym.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256", Signature: []byte{1}}, true, CodeInvalidKeyUsage,
			sym.ARN + " key usage is ENCRYPT_DECRYPT which is not valid for Verify."},
		{"RSA encryption key", SignInput{KeyID: rsaEnc.ID, Message: []byte("m"), SigningAlgorithm: "RSASSA_PSS_SHA_256"}, false, CodeInvalidKeyUsage,
			rsaEnc.ARN + " key usage is ENCRYPT_DECRYPT which is not valid for Sign."},
		{"algorithm of another spec", SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_384"}, false, CodeInvalidKeyUsage,
			"Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."},
		{"RSA algorithm", SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "RSASSA_PSS_SHA_256"}, false, CodeInvalidKeyUsage,
			"Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256."},
		{"digest of the wrong length", SignInput{KeyID: ec.ID, Message: make([]byte, 48), MessageType: MessageDigest, SigningAlgorithm: "ECDSA_SHA_256"}, false, CodeValidation,
			"Digest is invalid length for algorithm ECDSA_SHA_256."},
		{"unknown algorithm", SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA"}, false, CodeValidation,
			"1 validation error detected: Value 'ECDSA' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSASSA_PSS_SHA_256, "},
		{"unknown message type", SignInput{KeyID: ec.ID, Message: []byte("m"), MessageType: "HASH", SigningAlgorithm: "ECDSA_SHA_256"}, false, CodeValidation,
			"Value 'HASH' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]"},
		{"long message", SignInput{KeyID: ec.ID, Message: make([]byte, 4097), SigningAlgorithm: "ECDSA_SHA_256"}, false, CodeValidation,
			"1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"empty message", SignInput{KeyID: ec.ID, Message: []byte{}, SigningAlgorithm: "ECDSA_SHA_256"}, false, CodeValidation,
			"Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"dry run", SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256", DryRun: true}, false, CodeDryRun, "DryRun"},
		{"another message", SignInput{KeyID: ec.ID, Message: []byte("n"), SigningAlgorithm: "ECDSA_SHA_256", Signature: sig.Signature}, true, CodeInvalidSignature, ""},
		{"garbage signature", SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256", Signature: []byte("not DER")}, true, CodeInvalidSignature, ""},
	} {
		var err error
		if c.verify {
			_, err = f.svc.Verify(f.root, scope, c.in)
		} else {
			_, err = f.svc.Sign(f.root, scope, c.in)
		}
		wantErr(t, c.name, err, c.code, c.message)
		var e *Error
		if c.code == CodeInvalidSignature && errors.As(err, &e) && e.Message != "" {
			t.Errorf("%s: KMSInvalidSignatureException has message %q, want none, as KMS", c.name, e.Message)
		}
	}

	// Encryption with signing keys, and what symmetric keys lack.
	_, err = f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: ec.ID, Plaintext: []byte("x")})
	wantErr(t, "Encrypt with a signing key", err, CodeInvalidKeyUsage, ec.ARN+" key usage is SIGN_VERIFY which is not valid for Encrypt.")
	_, err = f.svc.GenerateDataKey(f.root, scope, DataKeyInput{KeyID: ec.ID, KeySpec: "AES_256"})
	wantErr(t, "GenerateDataKey with a signing key", err, CodeInvalidKeyUsage, ec.ARN+" key usage is SIGN_VERIFY which is not valid for GenerateDataKey.")
	_, err = f.svc.GenerateDataKeyWithoutPlaintext(f.root, scope, DataKeyInput{KeyID: rsaEnc.ID, KeySpec: "AES_256"})
	wantErr(t, "GenerateDataKeyWithoutPlaintext with an RSA key", err, CodeInvalidKeyUsage, rsaEnc.ARN+" key spec RSA_2048 is not valid for GenerateDataKeyWithoutPlaintext.")
	_, err = f.svc.PublicKey(f.root, scope, sym.ID)
	wantErr(t, "GetPublicKey of a symmetric key", err, CodeUnsupported, sym.ARN+" key spec SYMMETRIC_DEFAULT is not valid for GetPublicKey")
	// ECR cannot encrypt a repository with an asymmetric key.
	_, err = f.svc.KeyUsable(bg, ec.ARN, acct, region)
	wantErr(t, "ECR with a signing key", err, CodeInvalidKeyUsage, "key usage is SIGN_VERIFY which is not valid for GenerateDataKey.")
	_, _, err = f.svc.DataKey(bg, rsaEnc.ARN, nil)
	wantErr(t, "ECR data key with an RSA key", err, CodeInvalidKeyUsage, "key spec RSA_2048 is not valid for GenerateDataKey.")

	// Asymmetric keys do not rotate; their rotation status says so.
	wantErr(t, "EnableKeyRotation", f.svc.EnableKeyRotation(f.root, scope, ec.ID, nil), CodeUnsupported, "only symmetric encryption keys rotate")
	wantErr(t, "DisableKeyRotation", f.svc.DisableKeyRotation(f.root, scope, ec.ID), CodeUnsupported, "only symmetric encryption keys rotate")
	_, err = f.svc.RotateKeyOnDemand(f.root, scope, ec.ID)
	wantErr(t, "RotateKeyOnDemand", err, CodeUnsupported, "only symmetric encryption keys rotate")
	st, err := f.svc.KeyRotationStatus(f.root, scope, ec.ID)
	if err != nil || st.Rotation.Enabled {
		t.Errorf("GetKeyRotationStatus of an asymmetric key: %+v %v", st.Rotation, err)
	}

	// A disabled key does not sign; GetPublicKey still answers, as on AWS.
	must(t, "DisableKey", f.svc.DisableKey(f.root, scope, ec.ID))
	_, err = f.svc.Sign(f.root, scope, SignInput{KeyID: ec.ID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	wantErr(t, "Sign with a disabled key", err, CodeDisabled, ec.ARN+" is disabled.")
	_, err = f.svc.PublicKey(f.root, scope, ec.ID)
	must(t, "GetPublicKey of a disabled key", err)
}

// TestRSAEncryption encrypts with RSA keys through the service and with
// Go's RSA-OAEP against the public key, and decrypts both.
func TestRSAEncryption(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{KeySpec: SpecRSA2048, KeyUsage: UsageEncryptDecrypt})
	if got := k.EncryptionAlgorithms(); !slices.Equal(got, []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}) || k.SigningAlgorithms() != nil {
		t.Fatalf("encryption algorithms %v", got)
	}
	pk, err := f.svc.PublicKey(f.root, scope, k.ID)
	must(t, "GetPublicKey", err)
	p, _ := x509.ParsePKIXPublicKey(pk.PublicKey)
	pub := p.(*rsa.PublicKey)
	for _, alg := range []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"} {
		e, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("secret"), EncryptionAlgorithm: alg})
		must(t, alg+": Encrypt", err)
		if len(e.CiphertextBlob) != 256 || e.EncryptionAlgorithm != alg || e.KeyARN != k.ARN {
			t.Errorf("%s: %d-byte ciphertext, %+v", alg, len(e.CiphertextBlob), e)
		}
		d, err := f.svc.Decrypt(f.root, scope, DecryptInput{KeyID: k.ARN, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: alg})
		if err != nil || string(d.Plaintext) != "secret" || d.EncryptionAlgorithm != alg {
			t.Fatalf("%s: Decrypt = %q %v", alg, d.Plaintext, err)
		}
		h := newHash(map[string]crypto.Hash{"RSAES_OAEP_SHA_1": crypto.SHA1, "RSAES_OAEP_SHA_256": crypto.SHA256}[alg])
		local, err := rsa.EncryptOAEP(h, rand.Reader, pub, []byte("made offline"), nil)
		must(t, "EncryptOAEP", err)
		d, err = f.svc.Decrypt(f.root, scope, DecryptInput{KeyID: k.ID, CiphertextBlob: local, EncryptionAlgorithm: alg})
		if err != nil || string(d.Plaintext) != "made offline" {
			t.Fatalf("%s: Decrypt of an offline ciphertext = %q %v", alg, d.Plaintext, err)
		}
	}
	e, _ := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})
	for _, c := range []struct {
		name          string
		err           error
		code, message string
	}{
		{"no algorithm", second(f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})), CodeInvalidKeyUsage,
			"Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."},
		{"too long for SHA-1", second(f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: make([]byte, 215), EncryptionAlgorithm: "RSAES_OAEP_SHA_1"})), CodeValidation,
			"Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes."},
		{"too long for SHA-256", second(f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: make([]byte, 191), EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})), CodeValidation,
			"Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes."},
		{"encryption context", second(f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), EncryptionAlgorithm: "RSAES_OAEP_SHA_1", EncryptionContext: map[string]string{"a": "b"}})), CodeValidation,
			"EncryptionContext is not supported with key spec RSA_2048"},
		{"decrypt, another algorithm", second(f.svc.Decrypt(f.root, scope, DecryptInput{KeyID: k.ID, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: "RSAES_OAEP_SHA_1"})), CodeInvalidCiphertext, ""},
		{"decrypt, no algorithm", second(f.svc.Decrypt(f.root, scope, DecryptInput{KeyID: k.ID, CiphertextBlob: e.CiphertextBlob})), CodeInvalidKeyUsage,
			"Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."},
		{"decrypt, no key ID", second(f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})), CodeInvalidCiphertext, ""},
		{"decrypt, short", second(f.svc.Decrypt(f.root, scope, DecryptInput{KeyID: k.ID, CiphertextBlob: e.CiphertextBlob[:100], EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})), CodeInvalidCiphertext, ""},
	} {
		wantErr(t, c.name, c.err, c.code, c.message)
	}
}

func second[T any](_ T, err error) error { return err }

// TestPrivateKeySealed checks that a key's private key is stored only
// sealed under the server keyring, as symmetric material is: the key's
// document holds neither its secret scalar nor the PKCS #8 encoding, in
// any encoding, and unsealing what it holds gives the key that signs.
func TestPrivateKeySealed(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{KeySpec: SpecECCP256, KeyUsage: UsageSignVerify})
	e, err := f.meta.IAMEntity(bg, acct, metadata.KMSKey, keyEntity(region, k.ID))
	must(t, "reading the key's document", err)
	var d keyDoc
	must(t, "decoding the key's document", json.Unmarshal(e.Document, &d))
	if len(d.Materials) != 1 {
		t.Fatalf("%d materials", len(d.Materials))
	}
	raw, err := f.svc.keys.Open(d.Materials[0].Sealed, materialContext(k.ARN, 1))
	must(t, "unsealing the private key", err)
	priv, err := x509.ParsePKCS8PrivateKey(raw)
	must(t, "parsing the private key", err)
	ek := priv.(*ecdsa.PrivateKey)
	scalar, err := ek.Bytes()
	must(t, "the private scalar", err)
	for _, secret := range [][]byte{raw, scalar, []byte(base64.StdEncoding.EncodeToString(raw)), []byte(base64.StdEncoding.EncodeToString(scalar))} {
		if bytes.Contains(e.Document, secret) {
			t.Fatal("the key's document holds its private key in the clear")
		}
	}
	// The unsealed key is the one that signs.
	digest := sha256.Sum256([]byte("m"))
	s, err := f.svc.Sign(f.root, scope, SignInput{KeyID: k.ID, Message: digest[:], MessageType: MessageDigest, SigningAlgorithm: "ECDSA_SHA_256"})
	must(t, "Sign", err)
	if !ecdsa.VerifyASN1(&ek.PublicKey, digest[:], s.Signature) {
		t.Fatal("the stored private key did not make the signature")
	}
}
