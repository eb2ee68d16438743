package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"slices"

	"github.com/ecrd/ecrd/internal/keyring"

	"github.com/ecrd/ecrd/internal/kms"
)

// KMSKeys gives the registry the data keys of ecrd's KMS service: keys
// come back as their ARNs, and KMS's errors as KeyError, which the
// registry answers with ECR's KmsException.
func KMSKeys(svc *kms.Service) Keys { return kmsKeys{svc} }

type kmsKeys struct{ svc *kms.Service }

func (k kmsKeys) DataKey(ctx context.Context, keyARN string, encCtx map[string]string) ([]byte, []byte, error) {
	plain, wrapped, err := k.svc.DataKey(ctx, keyARN, encCtx)
	return plain, wrapped, keyError(err)
}

func (k kmsKeys) DecryptDataKey(ctx context.Context, ciphertext []byte, encCtx map[string]string) ([]byte, string, error) {
	plain, arn, err := k.svc.DecryptDataKey(ctx, ciphertext, encCtx)
	return plain, arn, keyError(err)
}

func (k kmsKeys) KeyUsable(ctx context.Context, keyRef, account, region string) (string, error) {
	key, err := k.svc.KeyUsable(ctx, keyRef, account, region)
	return key.ARN, keyError(err)
}

func (k kmsKeys) ECRManagedKey(ctx context.Context, account, region string) (string, error) {
	key, err := k.svc.ECRManagedKey(ctx, account, region)
	return key.ARN, keyError(err)
}

func keyError(err error) error {
	var ke *kms.Error
	if errors.As(err, &ke) {
		return &KeyError{Code: ke.Code, Message: ke.Message}
	}
	return err
}

// ServerKeyARN is the key that encrypts the blobs of AES256 repositories
// when the registry is given Options.ServerKey: not a KMS key, but the
// server keys themselves, which wrap each object's data key.
const ServerKeyARN = "ecrd:server-key"

// serverKeyed adds ServerKeyARN to a key service (which may be nil: no
// KMS). Its wrapped data keys start with serverWrapMagic, so that
// DecryptDataKey can tell them from KMS ciphertexts.
type serverKeyed struct {
	next Keys
	ring *keyring.Keyring
}

const serverWrapMagic = "ecrd-server-key:"

func (k serverKeyed) DataKey(ctx context.Context, keyARN string, encCtx map[string]string) ([]byte, []byte, error) {
	if keyARN != ServerKeyARN {
		return k.kms().DataKey(ctx, keyARN, encCtx)
	}
	plain := make([]byte, 32)
	if _, err := rand.Read(plain); err != nil {
		return nil, nil, err
	}
	wrapped := append([]byte(serverWrapMagic), k.ring.Seal(plain, contextAAD(encCtx))...)
	return plain, wrapped, nil
}

func (k serverKeyed) DecryptDataKey(ctx context.Context, ciphertext []byte, encCtx map[string]string) ([]byte, string, error) {
	sealed, ok := bytes.CutPrefix(ciphertext, []byte(serverWrapMagic))
	if !ok {
		return k.kms().DecryptDataKey(ctx, ciphertext, encCtx)
	}
	plain, err := k.ring.Open(sealed, contextAAD(encCtx))
	if err != nil {
		return nil, "", &KeyError{Code: kmsInvalidCiphertext, Message: "the data key does not open with the server keys: " + err.Error()}
	}
	return plain, ServerKeyARN, nil
}

func (k serverKeyed) KeyUsable(ctx context.Context, keyRef, account, region string) (string, error) {
	if keyRef == ServerKeyARN {
		return ServerKeyARN, nil
	}
	return k.kms().KeyUsable(ctx, keyRef, account, region)
}

func (k serverKeyed) ECRManagedKey(ctx context.Context, account, region string) (string, error) {
	return k.kms().ECRManagedKey(ctx, account, region)
}

func (k serverKeyed) kms() Keys {
	if k.next == nil {
		return noKMS{}
	}
	return k.next
}

// noKMS answers for a registry without a KMS key service.
type noKMS struct{}

var errNoKMS = &KeyError{Code: "KMSInvalidStateException", Message: "this registry has no KMS key service"}

func (noKMS) DataKey(context.Context, string, map[string]string) ([]byte, []byte, error) {
	return nil, nil, errNoKMS
}
func (noKMS) DecryptDataKey(context.Context, []byte, map[string]string) ([]byte, string, error) {
	return nil, "", errNoKMS
}
func (noKMS) KeyUsable(context.Context, string, string, string) (string, error) { return "", errNoKMS }
func (noKMS) ECRManagedKey(context.Context, string, string) (string, error)     { return "", errNoKMS }

// contextAAD is an encryption context as additional authenticated data:
// its pairs sorted by key.
func contextAAD(encCtx map[string]string) []byte {
	keys := slices.Sorted(maps.Keys(encCtx))
	var b []byte
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, 0)
		b = append(b, encCtx[k]...)
		b = append(b, 0)
	}
	return b
}
