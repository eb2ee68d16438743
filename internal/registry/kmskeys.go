package registry

import (
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
)

// KMSKeys gives the registry the data keys of ecrd's KMS service: keys
// come back as their ARNs, and KMS's errors as blobspace.KeyError, which
// the registry answers with ECR's KmsException.
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
		return &blobspace.KeyError{Code: ke.Code, Message: ke.Message}
	}
	return err
}

// keysOf is the key service the registry uses: the KMS one, with the
// server keys added when AES256 repositories are encrypted too.
func keysOf(opts Options) Keys {
	if opts.ServerKey == nil {
		return opts.Keys
	}
	return blobspace.WithServerKeys(opts.Keys, opts.ServerKey)
}
