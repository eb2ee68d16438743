package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestKMSAsymmetricKeys drives asymmetric keys through aws-sdk-go-v2:
// CreateKey of each spec ecrd makes, DescribeKey and GetPublicKey, Sign
// (RAW and DIGEST) checked by Go's verifiers against the public key,
// Verify, RSA-OAEP encryption, and the errors of keys used for what their
// usage does not allow.
func TestKMSAsymmetricKeys(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	c := kmsClient(e, static(testAccessKey, testSecret))
	msg := []byte("sha256:0ad532ef204564196843be1e24277c01ad100cd0e97b984e269bc21f4eb8a922")
	rsaAlgs := []kmstypes.SigningAlgorithmSpec{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
	for _, s := range []struct {
		spec kmstypes.KeySpec
		algs []kmstypes.SigningAlgorithmSpec
	}{
		{kmstypes.KeySpecRsa2048, rsaAlgs},
		{kmstypes.KeySpecRsa3072, rsaAlgs},
		{kmstypes.KeySpecRsa4096, rsaAlgs},
		{kmstypes.KeySpecEccNistP256, []kmstypes.SigningAlgorithmSpec{"ECDSA_SHA_256"}},
		{kmstypes.KeySpecEccNistP384, []kmstypes.SigningAlgorithmSpec{"ECDSA_SHA_384"}},
	} {
		created, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: s.spec, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
		ecrMust(t, "CreateKey "+string(s.spec), err)
		id := aws.ToString(created.KeyMetadata.KeyId)
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		ecrMust(t, "DescribeKey", err)
		m := d.KeyMetadata
		//lint:ignore SA1019 Terraform still reads CustomerMasterKeySpec, so ecrd fills it
		cmkSpec := m.CustomerMasterKeySpec
		if m.KeySpec != s.spec || string(cmkSpec) != string(s.spec) || m.KeyUsage != kmstypes.KeyUsageTypeSignVerify ||
			!slices.Equal(m.SigningAlgorithms, s.algs) || m.EncryptionAlgorithms != nil || m.CurrentKeyMaterialId != nil || !m.Enabled {
			t.Errorf("%s: DescribeKey %+v", s.spec, *m)
		}
		pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
		ecrMust(t, "GetPublicKey", err)
		pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
		if err != nil || aws.ToString(pk.KeyId) != aws.ToString(m.Arn) || pk.KeySpec != s.spec || pk.KeyUsage != kmstypes.KeyUsageTypeSignVerify ||
			!slices.Equal(pk.SigningAlgorithms, s.algs) || pk.EncryptionAlgorithms != nil {
			t.Fatalf("%s: GetPublicKey %+v (%v)", s.spec, pk, err)
		}
		for _, alg := range s.algs {
			h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[string(alg)[len(alg)-3:]]
			hh := h.New()
			hh.Write(msg)
			digest := hh.Sum(nil)
			for _, in := range []*kms.SignInput{
				{KeyId: aws.String(id), Message: msg, MessageType: kmstypes.MessageTypeRaw, SigningAlgorithm: alg},
				{KeyId: m.Arn, Message: digest, MessageType: kmstypes.MessageTypeDigest, SigningAlgorithm: alg},
			} {
				what := string(s.spec) + " " + string(alg) + " " + string(in.MessageType)
				out, err := c.Sign(ctx, in)
				ecrMust(t, what+": Sign", err)
				if aws.ToString(out.KeyId) != aws.ToString(m.Arn) || out.SigningAlgorithm != alg {
					t.Errorf("%s: Sign answered %s %s", what, aws.ToString(out.KeyId), out.SigningAlgorithm)
				}
				ok := false
				switch p := pub.(type) {
				case *rsa.PublicKey:
					if strings.Contains(string(alg), "PSS") {
						ok = rsa.VerifyPSS(p, h, digest, out.Signature, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
					} else {
						ok = rsa.VerifyPKCS1v15(p, h, digest, out.Signature) == nil
					}
				case *ecdsa.PublicKey:
					ok = ecdsa.VerifyASN1(p, digest, out.Signature) // KMS's ECDSA signatures are DER
				}
				if !ok {
					t.Errorf("%s: the signature does not verify against the public key", what)
				}
				v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: in.KeyId, Message: in.Message, MessageType: in.MessageType, SigningAlgorithm: alg, Signature: out.Signature})
				if err != nil || !v.SignatureValid {
					t.Errorf("%s: Verify: %v", what, err)
				}
				bad := slices.Clone(out.Signature)
				bad[len(bad)/2] ^= 0x40
				_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: in.KeyId, Message: in.Message, MessageType: in.MessageType, SigningAlgorithm: alg, Signature: bad})
				wantAPIError(t, what+": Verify of a changed signature", err, "KMSInvalidSignatureException", 400, "")
				wantTyped[*kmstypes.KMSInvalidSignatureException](t, what+": Verify of a changed signature", err)
			}
		}
	}

	// RSA keys that encrypt: KMS encrypts, and decrypts what was encrypted
	// with the public key elsewhere.
	enc, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
	ecrMust(t, "CreateKey RSA_2048 ENCRYPT_DECRYPT", err)
	encID := aws.ToString(enc.KeyMetadata.KeyId)
	if !slices.Equal(enc.KeyMetadata.EncryptionAlgorithms, []kmstypes.EncryptionAlgorithmSpec{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}) || enc.KeyMetadata.SigningAlgorithms != nil {
		t.Errorf("RSA encryption key metadata %+v", *enc.KeyMetadata)
	}
	ct, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(encID), Plaintext: []byte("secret"), EncryptionAlgorithm: kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256})
	ecrMust(t, "Encrypt RSAES_OAEP_SHA_256", err)
	if ct.EncryptionAlgorithm != kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256 || len(ct.CiphertextBlob) != 256 {
		t.Errorf("Encrypt answered %s and %d bytes", ct.EncryptionAlgorithm, len(ct.CiphertextBlob))
	}
	pt, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(encID), CiphertextBlob: ct.CiphertextBlob, EncryptionAlgorithm: kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || string(pt.Plaintext) != "secret" || pt.EncryptionAlgorithm != kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256 {
		t.Fatalf("Decrypt: %v", err)
	}
	epk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(encID)})
	ecrMust(t, "GetPublicKey", err)
	epub, _ := x509.ParsePKIXPublicKey(epk.PublicKey)
	offline, err := rsa.EncryptOAEP(sha512.New(), rand.Reader, epub.(*rsa.PublicKey), []byte("made elsewhere"), nil)
	ecrMust(t, "EncryptOAEP", err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(encID), CiphertextBlob: offline, EncryptionAlgorithm: kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantAPIError(t, "Decrypt of a ciphertext made with another OAEP digest", err, "InvalidCiphertextException", 400, "")
	offline, _ = rsa.EncryptOAEP(sha256.New(), rand.Reader, epub.(*rsa.PublicKey), []byte("made elsewhere"), nil)
	pt, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(encID), CiphertextBlob: offline, EncryptionAlgorithm: kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || string(pt.Plaintext) != "made elsewhere" {
		t.Errorf("Decrypt of a ciphertext made with the public key: %v", err)
	}
	if epk.EncryptionAlgorithms == nil || epk.SigningAlgorithms != nil {
		t.Errorf("GetPublicKey of an encryption key: %+v", epk)
	}

	// Keys used against their usage.
	sym, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	ecrMust(t, "CreateKey", err)
	symARN := aws.ToString(sym.KeyMetadata.Arn)
	ec, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	ecrMust(t, "CreateKey", err)
	ecARN := aws.ToString(ec.KeyMetadata.Arn)
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: sym.KeyMetadata.KeyId, Message: msg, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	wantAPIError(t, "Sign with a symmetric key", err, "InvalidKeyUsageException", 400, symARN+" key usage is ENCRYPT_DECRYPT which is not valid for Sign.")
	wantTyped[*kmstypes.InvalidKeyUsageException](t, "Sign with a symmetric key", err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: ec.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, "Encrypt with a signing key", err, "InvalidKeyUsageException", 400, ecARN+" key usage is SIGN_VERIFY which is not valid for Encrypt.")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: ec.KeyMetadata.KeyId, KeySpec: kmstypes.DataKeySpecAes256})
	wantAPIError(t, "GenerateDataKey with a signing key", err, "InvalidKeyUsageException", 400, ecARN+" key usage is SIGN_VERIFY which is not valid for GenerateDataKey.")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(encID), Plaintext: []byte("x")})
	wantAPIError(t, "Encrypt with an RSA key without an algorithm", err, "InvalidKeyUsageException", 400, "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(encID), Plaintext: make([]byte, 191), EncryptionAlgorithm: kmstypes.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantAPIError(t, "Encrypt of too much for RSA-OAEP", err, "ValidationException", 400, "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.")
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: ec.KeyMetadata.KeyId, Message: msg, SigningAlgorithm: kmstypes.SigningAlgorithmSpecRsassaPssSha256})
	wantAPIError(t, "Sign with an algorithm of another spec", err, "InvalidKeyUsageException", 400, "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.")
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: ec.KeyMetadata.KeyId, Message: msg[:20], MessageType: kmstypes.MessageTypeDigest, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	wantAPIError(t, "Sign of a digest of the wrong length", err, "ValidationException", 400, "Digest is invalid length for algorithm ECDSA_SHA_256.")
	_, err = c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: sym.KeyMetadata.KeyId})
	wantAPIError(t, "GetPublicKey of a symmetric key", err, "UnsupportedOperationException", 400, "")
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: ec.KeyMetadata.KeyId})
	wantAPIError(t, "EnableKeyRotation of a signing key", err, "UnsupportedOperationException", 400, "")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
	wantAPIError(t, "CreateKey of an ECC encryption key", err, "ValidationException", 400, "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256")
	wantRawError(t, "Sign without its required members", rawKMS(t, e, "Sign", []byte(`{"KeyId":"`+aws.ToString(ec.KeyMetadata.KeyId)+`"}`)), 400, "ValidationException",
		"2 validation errors detected: Value null at 'message' failed to satisfy constraint: Member must not be null; "+
			"Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null")
	noServerErrors(t, e)
}

// TestCosign signs an image pushed to ecrd with cosign and keys of ecrd's
// KMS (awskms:// references, cosign's AWS KMS client reaching ecrd by
// AWS_ENDPOINT_URL_KMS), an ECDSA key named by alias and an RSA key by
// ARN, and verifies the signatures with the same keys; a key that did not
// sign does not verify. Offline: no transparency log upload or check, an
// empty trusted root instead of Sigstore's, and every HTTP request but
// those to ecrd sent to a proxy that does not exist.
func TestCosign(t *testing.T) {
	cosign := tool(t, "cosign")
	crane := tool(t, "crane")
	e := startECRD(t, t.TempDir())
	dockerConfig := e.Login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := kmsClient(e, static(testAccessKey, testSecret))

	ecKey, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify, Description: aws.String("image signing")})
	ecrMust(t, "CreateKey ECC_NIST_P256", err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/cosign"), TargetKeyId: ecKey.KeyMetadata.KeyId})
	ecrMust(t, "CreateAlias", err)
	rsaKey, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa3072, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	ecrMust(t, "CreateKey RSA_3072", err)
	unused, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	ecrMust(t, "CreateKey", err)

	dir := t.TempDir()
	img := filepath.Join(dir, "image.tar")
	writeRandomImage(t, img, e.Addr+"/signed/app:v1")
	run(t, ctx, crane, "push", "--insecure", img, e.Addr+"/signed/app:v1")
	digest := strings.TrimSpace(run(t, ctx, crane, "digest", "--insecure", e.Addr+"/signed/app:v1"))
	ref := e.Addr + "/signed/app@" + digest

	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	trustedRoot := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(trustedRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(cleanEnv(), "HOME="+home, "DOCKER_CONFIG="+filepath.Dir(dockerConfig),
		"AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret, "AWS_REGION="+testRegion,
		"AWS_ENDPOINT_URL_KMS="+e.URL(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1", "SIGSTORE_NO_CACHE=1")
	cosignRun := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, cosign, args...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		// A printed key's base64 may hold "TUF" by chance: look outside it.
		text := pemBlock.ReplaceAllString(string(out), "")
		if strings.Contains(text, "TUF") || strings.Contains(text, "rekor.sigstore.dev") || strings.Contains(text, "fulcio") {
			t.Errorf("cosign %s reached for Sigstore's services:\n%s", args[0], out)
		}
		return string(out), err
	}
	keys := map[string]string{
		"ECDSA key by alias": "awskms:///alias/cosign",
		"RSA key by ARN":     "awskms:///" + aws.ToString(rsaKey.KeyMetadata.Arn),
	}
	for what, key := range keys {
		if out, err := cosignRun("sign", "--key", key, "--tlog-upload=false", "--allow-insecure-registry", "--yes", ref); err != nil {
			t.Fatalf("cosign sign with the %s: %v\n%s", what, err, out)
		}
	}
	sigTag := e.Addr + "/signed/app:" + strings.Replace(digest, ":", "-", 1) + ".sig"
	var sigManifest struct {
		Layers []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(run(t, ctx, crane, "manifest", "--insecure", sigTag)), &sigManifest); err != nil {
		t.Fatal(err)
	}
	if len(sigManifest.Layers) != 2 {
		t.Errorf("the signature manifest %s holds %d signatures, want 2", sigTag, len(sigManifest.Layers))
	}

	for what, key := range keys {
		out, err := cosignRun("verify", "--key", key, "--insecure-ignore-tlog=true", "--trusted-root", trustedRoot, "--allow-insecure-registry", ref)
		if err != nil {
			t.Fatalf("cosign verify with the %s: %v\n%s", what, err, out)
		}
		var payloads []struct {
			Critical struct {
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
				Identity struct {
					Reference string `json:"docker-reference"`
				} `json:"identity"`
			} `json:"critical"`
		}
		start := strings.Index(out, "[{")
		if start < 0 || json.Unmarshal([]byte(strings.TrimSpace(out[start:])), &payloads) != nil || len(payloads) == 0 ||
			payloads[0].Critical.Image.Digest != digest || payloads[0].Critical.Identity.Reference != e.Addr+"/signed/app" {
			t.Errorf("cosign verify with the %s printed:\n%s", what, out)
		}
	}
	// The public key cosign reads from KMS verifies too, as a file.
	pubPEM, err := cosignRun("public-key", "--key", "awskms:///alias/cosign")
	if err != nil {
		t.Fatalf("cosign public-key: %v\n%s", err, pubPEM)
	}
	pubFile := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(pubFile, []byte(pubPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cosignRun("verify", "--key", pubFile, "--insecure-ignore-tlog=true", "--trusted-root", trustedRoot, "--allow-insecure-registry", ref); err != nil {
		t.Errorf("cosign verify with the public key file: %v\n%s", err, out)
	}
	// A key that signed nothing verifies nothing.
	out, err := cosignRun("verify", "--key", "awskms:///"+aws.ToString(unused.KeyMetadata.Arn), "--insecure-ignore-tlog=true", "--trusted-root", trustedRoot, "--allow-insecure-registry", ref)
	if err == nil || !strings.Contains(out, "no matching signatures") {
		t.Errorf("cosign verify with a key that did not sign: %v\n%s", err, out)
	}
	noServerErrors(t, e)
}

// pemBlock matches a PEM block in a command's output.
var pemBlock = regexp.MustCompile(`(?s)-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----`)
