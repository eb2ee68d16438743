// Package kms is ecrd's domain core for AWS Key Management Service: the
// slice of KMS that Terraform's aws_kms_key, aws_kms_alias and
// aws_kms_grant manage, that ECR repository encryption uses, and that
// signing tools such as cosign use. Keys are symmetric encryption keys
// (AES-256-GCM), RSA keys (signing or OAEP encryption) and ECDSA signing
// keys (see asymmetric.go). A key's metadata, key policy, tags and key
// material versions are one document in the metadata store (an IAM entity
// of kind metadata.KMSKey, named "<region>/<key-id>"); its grants are
// another (kind grantsKind, same name; see grants.go); aliases are
// documents of kind metadata.KMSAlias named "<region>/alias/<name>". Key
// material is random and stored sealed under the server keyring (an
// asymmetric key's private key as PKCS #8); rotation adds a version and
// keeps the old ones, so older ciphertexts still decrypt. Every change
// appends its record to the outbox in its own transaction, and each
// process keeps the keys it reads until a record says they changed
// (see events.go).
//
// Every API operation is authorized through identity.Service.Authorize
// with the key policy as the resource policy, under KMS's own rule: the
// key policy must allow, or a grant (see authorize.go). The methods ECR calls on behalf
// of an authorized repository operation (DataKey, DecryptDataKey,
// KeyUsable, ECRManagedKey) check key state but not the caller.
package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Error is the type of KMS's errors: the exception name the API answers
// with (one of the codes below) and its message. It is the one error type
// of the AWS service cores, named here for the packages that map KMS's
// errors.
type Error = awserr.Error

// KMS exception names.
const (
	CodeAccessDenied      = "AccessDeniedException"
	CodeAlreadyExists     = "AlreadyExistsException"
	CodeConflict          = "ConflictException" // a key changed while a change of it was being made
	CodeDisabled          = "DisabledException"
	CodeDryRun            = "DryRunOperationException"
	CodeIncorrectKey      = "IncorrectKeyException"
	CodeInvalidAliasName  = "InvalidAliasNameException"
	CodeInvalidArn        = "InvalidArnException"
	CodeInvalidCiphertext = "InvalidCiphertextException"
	CodeInvalidGrantID    = "InvalidGrantIdException"
	CodeInvalidGrantToken = "InvalidGrantTokenException"
	CodeInvalidKeyUsage   = "InvalidKeyUsageException"
	CodeInvalidMarker     = "InvalidMarkerException"
	CodeInvalidSignature  = "KMSInvalidSignatureException"
	CodeInvalidState      = "KMSInvalidStateException"
	CodeLimitExceeded     = "LimitExceededException"
	CodeMalformedPolicy   = "MalformedPolicyDocumentException"
	CodeNotFound          = "NotFoundException"
	CodeTag               = "TagException"
	CodeUnsupported       = "UnsupportedOperationException"
	CodeValidation        = "ValidationException"
)

// Key states.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
)

// Key managers.
const (
	ManagerCustomer = "CUSTOMER"
	ManagerAWS      = "AWS"
)

// Key usages, the symmetric key spec and the one origin ecrd makes (the
// asymmetric key specs are in asymmetric.go).
const (
	UsageEncryptDecrypt = "ENCRYPT_DECRYPT"
	UsageSignVerify     = "SIGN_VERIFY"
	SpecSymmetric       = "SYMMETRIC_DEFAULT"
	OriginAWSKMS        = "AWS_KMS"
)

// Scope is where an operation acts: the caller's account and the region
// its request was signed for. Keys and aliases are regional.
type Scope = metadata.Scope

// Tag is a key's tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Rotation is a key's automatic rotation setting.
type Rotation struct {
	Enabled      bool      `json:"enabled"`
	PeriodInDays int       `json:"period"`
	NextRotation time.Time `json:"next,omitzero"`
	// OnDemand counts RotateKeyOnDemand calls (AWS allows ten per key).
	OnDemand int `json:"onDemand,omitempty"`
}

// Key is a KMS key's metadata and policy.
type Key struct {
	ID           string    `json:"id"` // a UUID v4
	ARN          string    `json:"arn"`
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	Description  string    `json:"description"`
	CreationDate time.Time `json:"created"`
	State        string    `json:"state"`
	DeletionDate time.Time `json:"deletion,omitzero"`
	// PendingWindowInDays is the window ScheduleKeyDeletion was given.
	PendingWindowInDays int      `json:"pendingWindow,omitempty"`
	KeyUsage            string   `json:"usage"`
	KeySpec             string   `json:"spec"`
	Origin              string   `json:"origin"`
	KeyManager          string   `json:"manager"`
	MultiRegion         bool     `json:"multiRegion"`
	Policy              string   `json:"policy"`
	Rotation            Rotation `json:"rotation"`
	Tags                []Tag    `json:"tags,omitempty"`
	// CurrentMaterialID names the key material new ciphertexts use.
	CurrentMaterialID string `json:"currentMaterial"`
}

// Enabled reports whether the key may encrypt and decrypt.
func (k Key) Enabled() bool { return k.State == StateEnabled }

// Alias is a friendly name of a key.
type Alias struct {
	Name        string    `json:"name"` // alias/...
	ARN         string    `json:"arn"`
	TargetKeyID string    `json:"target"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// keyDoc is what the store holds for a key: its metadata and its key
// material versions, sealed.
type keyDoc struct {
	Key
	Materials []material `json:"materials"`
	// PublicKey is an asymmetric key's public key, a DER
	// SubjectPublicKeyInfo (not secret: kept in the clear).
	PublicKey []byte `json:"publicKey,omitempty"`
}

// material is one version of a key's material: 32 random bytes (an
// asymmetric key's one version: its private key, PKCS #8) sealed under
// the server keyring, bound to the key's ARN and the version.
type material struct {
	Version int       `json:"v"`
	ID      string    `json:"id"` // KeyMaterialId: 64 hex digits
	Sealed  []byte    `json:"sealed"`
	Created time.Time `json:"created"`
}

// current is the material new ciphertexts use: the newest.
func (d *keyDoc) current() material { return d.Materials[len(d.Materials)-1] }

// Service is the KMS domain core.
type Service struct {
	meta metadata.Store
	keys *keyring.Keyring
	ids  Authorizer
	log  *slog.Logger
	now  func() time.Time

	docs      sync.Map // key ARN -> cachedDoc, dropped by Changed
	policies  sync.Map // key ARN -> compiledPolicy
	materials sync.Map // key ARN#version -> cipher.AEAD
	// generation counts the KMS changes this process has followed
	// (Changed).
	generation atomic.Int64
}

// Authorizer is identity's (identity.Service, where every request's
// permissions are computed, or a test's wrapper of it).
type Authorizer = identity.Authorizer

// New returns the KMS service. ids authorizes callers (nil: only roots
// and key policies grant anything); keys seals key material.
func New(meta metadata.Store, keys *keyring.Keyring, ids Authorizer, log *slog.Logger) *Service {
	if ids == nil {
		ids = (*identity.Service)(nil) // which knows no IAM users or roles
	}
	return &Service{meta: meta, keys: keys, ids: ids, log: log, now: time.Now}
}

func keyARN(s Scope, id string) string {
	return awsid.ARN("kms", s.Region, s.Account, "key/"+id)
}

func aliasARN(s Scope, name string) string {
	return awsid.ARN("kms", s.Region, s.Account, name)
}

// Entity names: keys and aliases are regional, the store's names are not.
func keyEntity(region, id string) string     { return region + "/" + id }
func aliasEntity(region, name string) string { return region + "/" + name }

func notFoundKey(arn string) error {
	return awserr.Errorf(CodeNotFound, "Key '%s' does not exist", arn)
}

// loadKey reads a key by scope and ID. A key whose deletion date has
// passed is gone, as on AWS, even before anything removes its document.
func (s *Service) loadKey(ctx context.Context, r metadata.Reader, scope Scope, id string) (*keyDoc, error) {
	e, err := r.IAMEntity(ctx, scope.Account, metadata.KMSKey, keyEntity(scope.Region, id))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, notFoundKey(keyARN(scope, id))
	}
	if err != nil {
		return nil, err
	}
	d := &keyDoc{}
	if err := json.Unmarshal(e.Document, d); err != nil {
		return nil, fmt.Errorf("reading KMS key %s: %w", id, err)
	}
	if s.deleted(&d.Key) {
		return nil, notFoundKey(d.ARN)
	}
	return d, nil
}

// deleted reports whether a key's pending deletion has come due.
func (s *Service) deleted(k *Key) bool {
	return k.State == StatePendingDeletion && !s.now().Before(k.DeletionDate)
}

func saveKey(ctx context.Context, tx metadata.Tx, d *keyDoc, create bool) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	e := metadata.IAMEntity{Account: d.Account, Kind: metadata.KMSKey, Name: keyEntity(d.Region, d.ID), Document: doc}
	if create {
		return tx.CreateIAMEntity(ctx, e)
	}
	return tx.UpdateIAMEntity(ctx, e)
}

func loadAlias(ctx context.Context, r metadata.Reader, scope Scope, name string) (*Alias, error) {
	e, err := r.IAMEntity(ctx, scope.Account, metadata.KMSAlias, aliasEntity(scope.Region, name))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, awserr.Errorf(CodeNotFound, "Alias %s is not found.", aliasARN(scope, name))
	}
	if err != nil {
		return nil, err
	}
	a := &Alias{}
	if err := json.Unmarshal(e.Document, a); err != nil {
		return nil, fmt.Errorf("reading KMS alias %s: %w", name, err)
	}
	return a, nil
}

func saveAlias(ctx context.Context, tx metadata.Tx, scope Scope, a *Alias, create bool) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	e := metadata.IAMEntity{Account: scope.Account, Kind: metadata.KMSAlias, Name: aliasEntity(scope.Region, a.Name), Document: doc}
	if create {
		return tx.CreateIAMEntity(ctx, e)
	}
	return tx.UpdateIAMEntity(ctx, e)
}

// listKeys reads the keys of a scope in key ID order, deleted ones left
// out.
func (s *Service) listKeys(ctx context.Context, r metadata.Reader, scope Scope) ([]*keyDoc, error) {
	es, err := r.IAMEntities(ctx, scope.Account, metadata.KMSKey)
	if err != nil {
		return nil, err
	}
	prefix := scope.Region + "/"
	var out []*keyDoc
	for _, e := range es {
		if len(e.Name) <= len(prefix) || e.Name[:len(prefix)] != prefix {
			continue
		}
		d := &keyDoc{}
		if err := json.Unmarshal(e.Document, d); err != nil {
			return nil, fmt.Errorf("reading KMS key %s: %w", e.Name, err)
		}
		if !s.deleted(&d.Key) {
			out = append(out, d)
		}
	}
	return out, nil
}

// listAliases reads the aliases of a scope in name order.
func listAliases(ctx context.Context, r metadata.Reader, scope Scope) ([]*Alias, error) {
	es, err := r.IAMEntities(ctx, scope.Account, metadata.KMSAlias)
	if err != nil {
		return nil, err
	}
	prefix := scope.Region + "/"
	var out []*Alias
	for _, e := range es {
		if len(e.Name) <= len(prefix) || e.Name[:len(prefix)] != prefix {
			continue
		}
		a := &Alias{}
		if err := json.Unmarshal(e.Document, a); err != nil {
			return nil, fmt.Errorf("reading KMS alias %s: %w", e.Name, err)
		}
		out = append(out, a)
	}
	return out, nil
}
