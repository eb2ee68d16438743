package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/kms"
)

// via is the kms:ViaService of Secrets Manager's calls in a region.
func via(region string) string { return "secretsmanager." + region + ".amazonaws.com" }

// encryptionContext binds a version's data key to the secret and the
// version, as Secrets Manager's is.
func encryptionContext(arn, versionID string) map[string]string {
	return map[string]string{"SecretARN": arn, "SecretVersionId": versionID}
}

// additionalData binds a sealed value to its secret, version and kind.
func additionalData(arn, versionID string, binary bool) []byte {
	kind := "string"
	if binary {
		kind = "binary"
	}
	return []byte(arn + "\x00" + versionID + "\x00" + kind)
}

// sealVersion encrypts a value as a new version of sec, under the
// secret's key, asking KMS as the caller. It is called outside any
// transaction.
func (s *Service) sealVersion(ctx context.Context, sec *Secret, versionID string, value []byte, binary bool) (Version, error) {
	keyID := sec.KmsKeyID
	if keyID == "" {
		k, err := s.kms.SecretsManagerManagedKey(ctx, sec.Account, sec.Region)
		if err != nil {
			return Version{}, encryptionFailure(err)
		}
		keyID = k.ARN
	}
	dk, err := s.kms.GenerateDataKey(kms.ViaService(ctx, via(sec.Region)), kms.Scope{Account: sec.Account, Region: sec.Region},
		kms.DataKeyInput{KeyID: keyID, KeySpec: "AES_256", EncryptionContext: encryptionContext(sec.ARN, versionID)})
	if err != nil {
		return Version{}, encryptionFailure(err)
	}
	defer clear(dk.Plaintext)
	aead, err := gcm(dk.Plaintext)
	if err != nil {
		return Version{}, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return Version{}, err
	}
	sealed := aead.Seal(nonce, nonce, value, additionalData(sec.ARN, versionID, binary))
	return Version{ID: versionID, Created: s.now().UTC(), KeyARN: dk.KeyARN, DataKey: dk.CiphertextBlob, Sealed: sealed, Binary: binary}, nil
}

// openVersion decrypts a version's value, asking KMS as the caller
// (forService: as the service itself, which checks only the key's state).
func (s *Service) openVersion(ctx context.Context, sec *Secret, v *Version, forService bool) ([]byte, error) {
	var key []byte
	encCtx := encryptionContext(sec.ARN, v.ID)
	if forService {
		pt, _, err := s.kms.DecryptDataKey(ctx, v.DataKey, encCtx)
		if err != nil {
			return nil, decryptionFailure(err)
		}
		key = pt
	} else {
		d, err := s.kms.Decrypt(kms.ViaService(ctx, via(sec.Region)), kms.Scope{Account: sec.Account, Region: sec.Region},
			kms.DecryptInput{CiphertextBlob: v.DataKey, EncryptionContext: encCtx})
		if err != nil {
			return nil, decryptionFailure(err)
		}
		key = d.Plaintext
	}
	defer clear(key)
	// A data key or sealed value that does not open is damaged data:
	// DecryptionFailure, as AWS answers for ciphertext it cannot use.
	aead, err := gcm(key)
	if err != nil || len(v.Sealed) < aead.NonceSize() {
		return nil, decryptionFailure(nil)
	}
	pt, err := aead.Open(nil, v.Sealed[:aead.NonceSize()], v.Sealed[aead.NonceSize():], additionalData(sec.ARN, v.ID, v.Binary))
	if err != nil {
		return nil, decryptionFailure(nil)
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// kmsDenied turns KMS's refusal of the caller into Secrets Manager's.
func kmsDenied(err error) error {
	if awserr.Code(err) == "AccessDeniedException" {
		return awserr.Errorf(CodeAccessDenied, "Access to KMS is not allowed")
	}
	return nil
}

// kmsFault reports whether err is KMS's answer (a key missing, disabled,
// pending deletion ...) rather than a fault of the store.
func kmsFault(err error) bool {
	var e *awserr.Error
	return errors.As(err, &e)
}

func encryptionFailure(err error) error {
	if d := kmsDenied(err); d != nil {
		return d
	}
	if !kmsFault(err) {
		return err
	}
	return awserr.Errorf(CodeEncryptionFailure, "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state. For more information, see Key states of AWS KMS keys.")
}

func decryptionFailure(err error) error {
	if d := kmsDenied(err); d != nil {
		return d
	}
	if err != nil && !kmsFault(err) {
		return err
	}
	return awserr.Errorf(CodeDecryptionFailure, "Secrets Manager can't decrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state. For more information, see Key states of AWS KMS keys.")
}
