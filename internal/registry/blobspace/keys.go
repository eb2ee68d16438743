package blobspace

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/keyring"
)

// Keys gives the data keys of KMS keys; internal/kms's Service implements
// it (registry.KMSKeys adapts it). Spaces call it on behalf of operations
// the registry has authorized, so it checks key states, not callers. A
// key that cannot be used is reported with a KeyError.
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

// KMS exception names the spaces tell apart.
const (
	kmsNotFound          = "NotFoundException"
	kmsDisabled          = "DisabledException"
	kmsInvalidState      = "KMSInvalidStateException"
	kmsInvalidCiphertext = "InvalidCiphertextException"
)

// Op is what a key failure stops, for its message.
type Op int

// Operations a key failure may stop.
const (
	OpCreate Op = iota // creating a repository
	OpWrite            // pushing to it
	OpRead             // pulling from it
)

// KeyFailure says that a key cannot be used for an operation: Cause says
// why, as the key service put it, or is nil when this server has no key
// service at all. Its message says what to do.
type KeyFailure struct {
	Key   string // the key, as named
	Op    Op
	Cause *KeyError
}

func (e *KeyFailure) Error() string {
	if e.Cause == nil {
		return fmt.Sprintf("the repository's blobs are encrypted under KMS key %s, but this server has no KMS key service to decrypt them: run ecrd with its KMS", e.Key)
	}
	ke := e.Cause
	state := ""
	switch {
	case ke.Code == kmsNotFound:
		state = "does not exist"
	case ke.Code == kmsDisabled:
		state = "is disabled"
	case ke.Code == kmsInvalidState && strings.Contains(ke.Message, "pending deletion"):
		state = "is pending deletion"
	default:
		return fmt.Sprintf("KMS key %s cannot be used (%s: %s)", e.Key, ke.Code, ke.Message)
	}
	var todo string
	switch e.Op {
	case OpCreate:
		todo = map[string]string{
			"does not exist":      "name an existing key by its key ID, key ARN, alias name or alias ARN",
			"is disabled":         "enable it (aws kms enable-key), or name another key",
			"is pending deletion": "cancel its deletion (aws kms cancel-key-deletion) and enable it, or name another key",
		}[state]
	case OpWrite:
		todo = map[string]string{
			"does not exist":      "the repository cannot take pushes: its key was deleted",
			"is disabled":         "the repository cannot take pushes until it is enabled",
			"is pending deletion": "the repository cannot take pushes unless its deletion is cancelled and it is enabled",
		}[state]
	case OpRead:
		todo = map[string]string{
			"does not exist":      "the repository's images cannot be read: its key was deleted",
			"is disabled":         "the repository's images cannot be read until it is enabled",
			"is pending deletion": "the repository's images cannot be read unless its deletion is cancelled and it is enabled",
		}[state]
	}
	return fmt.Sprintf("KMS key %s %s: %s", e.Key, state, todo)
}

// failure turns a key service error about key ref into a KeyFailure.
// Failures of the service itself pass through.
func failure(err error, ref string, op Op) error {
	if ke, ok := asKeyError(err); ok {
		return &KeyFailure{Key: ref, Op: op, Cause: ke}
	}
	return err
}

// ServerKeyARN is the key that encrypts the blobs of AES256 repositories
// when the registry is given server keys: not a KMS key, but the server
// keys themselves, which wrap each object's data key.
const ServerKeyARN = "ecrd:server-key"

// WithServerKeys adds ServerKeyARN to a key service (which may be nil: no
// KMS).
func WithServerKeys(next Keys, ring *keyring.Keyring) Keys {
	return serverKeyed{next: next, ring: ring}
}

// serverKeyed is WithServerKeys' service. Its wrapped data keys start
// with serverWrapMagic, so that DecryptDataKey can tell them from KMS
// ciphertexts.
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
