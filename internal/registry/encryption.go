package registry

import (
	"context"
	"errors"
	"io"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
)

// Encryption at rest: a repository created with KMS (or KMS_DSSE)
// encryption has its key resolved once, at creation, and recorded as its
// BlobKey, which names the blob space its blobs live in. The spaces, the
// blobcrypt format and the data key cache are internal/registry/blobspace's;
// this file holds the registry's rules: which key a new repository gets,
// and how a key failure is answered (CodeKMS, ECR's KmsException).

// Keys gives the data keys of KMS keys (see blobspace.Keys).
type Keys = blobspace.Keys

// ServerKeyARN is the key that encrypts the blobs of AES256 repositories
// when the registry is given Options.ServerKey (see blobspace).
const ServerKeyARN = blobspace.ServerKeyARN

// kmsError turns a blob space's key failure into the registry's KMS
// error, with the failure's message. Other errors pass through.
func kmsError(err error) error {
	var kf *blobspace.KeyFailure
	if errors.As(err, &kf) {
		return &Error{Code: CodeKMS, Message: kf.Error()}
	}
	return err
}

// encryptionAvailable reports whether the registry can encrypt KMS
// repositories: it needs a key service and a blob store with namespaces.
// Without them, KMS repositories are stored unencrypted, as AES256 ones;
// that is said once.
func (r *Registry) encryptionAvailable() bool {
	if r.opts.Keys != nil && r.spaces.Namespaced() {
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

// spaceOf returns where the blobs of a repository with settings s live.
func (r *Registry) spaceOf(ctx context.Context, s metadata.RepositorySettings) (blobspace.Space, error) {
	sp, err := r.spaces.Of(ctx, s.BlobKey)
	return sp, kmsError(err)
}

// checkKey fails with CodeKMS if KMS key arn is not usable for op.
func (r *Registry) checkKey(ctx context.Context, arn string, op blobspace.Op) error {
	return kmsError(r.spaces.CheckKey(ctx, arn, op))
}

// openObject opens blob b of a space for reading its plaintext; a key
// that cannot be used fails with CodeKMS before anything is read.
func (r *Registry) openObject(ctx context.Context, sp blobspace.Space, b metadata.Blob) (io.ReadSeekCloser, error) {
	rc, err := r.spaces.Open(ctx, sp, b)
	return rc, kmsError(err)
}

// resolveKey settles the key of a repository about to be created with
// settings s: for KMS encryption, the key its kmsKey names, which must
// exist and be enabled, or else the account's aws/ecr key, created on
// first use, as ECR does. Both KMSKey (what DescribeRepositories shows)
// and BlobKey become the key's ARN. It calls the key service, so a push
// that creates a repository calls it while it is planned, never inside
// its transaction (see push.go).
func (r *Registry) resolveKey(ctx context.Context, scope metadata.Scope, s *metadata.RepositorySettings) error {
	s.BlobKey = r.aes256Key(*s)
	if !isKMS(s.EncryptionType) || !r.encryptionAvailable() {
		return nil
	}
	arn, err := r.spaces.ResolveKey(ctx, scope.Account, scope.Region, s.KMSKey)
	if err != nil {
		return kmsError(err)
	}
	s.KMSKey, s.BlobKey = arn, arn
	return nil
}

// aes256Key is the BlobKey of a new repository that is not encrypted
// with KMS: ServerKeyARN when the registry encrypts AES256 repositories'
// blobs under its server keys (Options.ServerKey), else none.
func (r *Registry) aes256Key(s metadata.RepositorySettings) string {
	if r.opts.ServerKey != nil && r.spaces.Namespaced() && !(isKMS(s.EncryptionType) && r.encryptionAvailable()) {
		return ServerKeyARN
	}
	return ""
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
