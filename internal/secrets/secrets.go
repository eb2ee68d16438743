// Package secrets is ecrd's domain core for a slice of AWS Secrets
// Manager: secrets with versions and staging labels (AWSCURRENT,
// AWSPREVIOUS and the caller's own), tags, a resource policy, deletion
// scheduled after a recovery window, and the read that ECR's pull-through
// cache makes of an upstream registry's credentials (ValueForService).
//
// Storage. Each secret is one document in the metadata store, an IAM
// entity of kind metadata.Secret named "<region>/<name>" with the name's
// capitals escaped as internal/events escapes them (secret names are
// case-sensitive and may not contain "!"). The document holds the
// secret's versions encrypted and a revision that each change
// increments. A secret scheduled for deletion stays until its deletion
// date; after it, it is treated as absent and the next write of its name
// replaces it.
//
// Encryption. Each version's value is sealed with AES-256-GCM under a
// data key of its own, made by KMS's GenerateDataKey under the secret's
// key (the customer key KmsKeyId names, or else the account's AWS managed
// key alias/aws/secretsmanager, created on first use) with the secret's
// ARN and the version's ID as encryption context, as Secrets Manager
// does. KMS is asked as the caller, through Secrets Manager
// (kms:ViaService), so the caller needs kms:GenerateDataKey and
// kms:Decrypt on a customer key. The document keeps only the encrypted
// data key and the sealed value.
//
// Changes. A change reads the secret, authorizes (identity.Service: the
// caller's policies for secretsmanager:<action> on the secret's ARN, its
// tags as aws:ResourceTag, its resource policy), makes any KMS call, and
// computes the new document before its transaction; the transaction only
// checks that the revision is still the one read and writes the document
// with its "AWS API Call via CloudTrail" record (source
// aws.secretsmanager), which never holds a value.
package secrets

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// Error is the type of the service's errors: Secrets Manager's exception
// name and message.
type Error = awserr.Error

// Secrets Manager exception names.
const (
	CodeAccessDenied      = "AccessDeniedException"
	CodeNotFound          = "ResourceNotFoundException"
	CodeExists            = "ResourceExistsException"
	CodeInvalidParameter  = "InvalidParameterException"
	CodeInvalidRequest    = "InvalidRequestException"
	CodeDecryptionFailure = "DecryptionFailure"
	CodeEncryptionFailure = "EncryptionFailure"
	CodeMalformedPolicy   = "MalformedPolicyDocumentException"
	CodeLimitExceeded     = "LimitExceededException"
	CodePublicPolicy      = "PublicPolicyException"
	CodeValidation        = "ValidationException"
)

// Staging labels Secrets Manager manages itself.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

// The errors of ValueForService, which its caller maps to its own API's.
var (
	ErrSecretNotFound = errors.New("secrets: the secret does not exist")
	ErrSecretAccess   = errors.New("secrets: the secret cannot be read")
	ErrSecretDecrypt  = errors.New("secrets: the secret's value cannot be decrypted")
)

// Scope is where an operation acts: the caller's account and the region
// its request was signed for.
type Scope = metadata.Scope

// Tag is a secret's tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Secret is a secret as stored: its metadata and its encrypted versions.
type Secret struct {
	Rev         int    `json:"rev"`
	Name        string `json:"name"`
	ARN         string `json:"arn"`
	Account     string `json:"account"`
	Region      string `json:"region"`
	Description string `json:"description,omitempty"`
	// KmsKeyID is the key as the caller named it; "" is the AWS managed
	// key.
	KmsKeyID string    `json:"kmsKeyId,omitempty"`
	Tags     []Tag     `json:"tags,omitempty"`
	Policy   string    `json:"policy,omitempty"`
	Created  time.Time `json:"created"`
	Changed  time.Time `json:"changed"`
	// Deleted is when deletion was asked for (DeletedDate); Purge is when
	// the secret goes (DeletionDate).
	Deleted  *time.Time `json:"deleted,omitempty"`
	Purge    time.Time  `json:"purge,omitzero"`
	Versions []Version  `json:"versions,omitempty"`
}

// Version is one version of a secret's value, encrypted.
type Version struct {
	ID      string    `json:"id"`
	Stages  []string  `json:"stages,omitempty"`
	Created time.Time `json:"created"`
	// KeyARN is the KMS key that made DataKey, the version's data key
	// encrypted; Sealed is the value sealed under the data key.
	KeyARN  string `json:"key"`
	DataKey []byte `json:"dataKey"`
	Sealed  []byte `json:"sealed"`
	Binary  bool   `json:"binary,omitempty"`
}

// Service is the Secrets Manager domain core.
type Service struct {
	meta metadata.Store
	kms  *kms.Service
	ids  Authorizer
	log  *slog.Logger
	now  func() time.Time
}

// Authorizer is identity's: the Service, or a test's wrapper of it.
type Authorizer = identity.Authorizer

// New returns the service. keys encrypts the values; ids authorizes
// callers (nil: only roots and resource policies grant).
func New(meta metadata.Store, keys *kms.Service, ids Authorizer, log *slog.Logger) *Service {
	if ids == nil {
		ids = (*identity.Service)(nil)
	}
	return &Service{meta: meta, kms: keys, ids: ids, log: log, now: time.Now}
}

const serviceDomain = "secretsmanager.amazonaws.com"

// entityName is a secret's store name: its region and its name with
// capitals escaped.
func entityName(region, name string) string { return metadata.RegionalCaseSensitiveName(region, name) }

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newARN is a new secret's ARN: its name and six random characters, so
// that a secret made again under a deleted one's name has another ARN.
func newARN(scope Scope, name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := make([]byte, 6)
	for i, c := range b {
		suffix[i] = suffixAlphabet[int(c)%len(suffixAlphabet)]
	}
	return awsid.ARN("secretsmanager", scope.Region, scope.Account, "secret:"+name+"-"+string(suffix))
}

func notFound() error {
	return awserr.Errorf(CodeNotFound, "Secrets Manager can't find the specified secret.")
}

func markedForDeletion() error {
	return awserr.Errorf(CodeInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
}

// gone reports whether a secret's deletion date has passed.
func (s *Service) gone(sec *Secret) bool {
	return sec.Deleted != nil && !s.now().Before(sec.Purge)
}

// loadRaw reads a secret's document, or nil if there is none.
func loadRaw(ctx context.Context, r metadata.Reader, scope Scope, name string) (*Secret, error) {
	e, err := r.IAMEntity(ctx, scope.Account, metadata.Secret, entityName(scope.Region, name))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := new(Secret)
	if err := json.Unmarshal(e.Document, v); err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", name, err)
	}
	return v, nil
}

// find resolves a SecretId (a name, an ARN, or an ARN without its random
// suffix) to a secret that exists, or answers ResourceNotFoundException.
// An ARN may name another account's secret, whose resource policy then
// decides.
func (s *Service) find(ctx context.Context, scope Scope, id string) (*Secret, error) {
	if err := checkSecretID(id); err != nil {
		return nil, err
	}
	if strings.HasPrefix(id, "arn:") {
		a, ok := awsid.Parse(id)
		if !ok || a.Service != "secretsmanager" || !strings.HasPrefix(a.Resource, "secret:") {
			return nil, notFound()
		}
		sc := Scope{Account: a.AccountID, Region: a.Region}
		name := strings.TrimPrefix(a.Resource, "secret:")
		if n := len(name); n > 7 && name[n-7] == '-' {
			sec, err := loadRaw(ctx, s.meta, sc, name[:n-7])
			if err != nil {
				return nil, err
			}
			if sec != nil && sec.ARN == id && !s.gone(sec) {
				return sec, nil
			}
		}
		sec, err := loadRaw(ctx, s.meta, sc, name)
		if err != nil {
			return nil, err
		}
		if sec == nil || s.gone(sec) {
			return nil, notFound()
		}
		return sec, nil
	}
	sec, err := loadRaw(ctx, s.meta, scope, id)
	if err != nil {
		return nil, err
	}
	if sec == nil || s.gone(sec) {
		return nil, notFound()
	}
	return sec, nil
}

// staleError says that what a change was decided on changed before its
// transaction.
type staleError struct{ name string }

func (e *staleError) Error() string { return e.name + " changed while a change of it was being made" }

// write stores a secret in a transaction if the stored one is still at
// revision was (0: none may exist); nil deletes it.
func write(ctx context.Context, tx metadata.Tx, scope Scope, name string, was int, v *Secret) error {
	cur, err := loadRaw(ctx, tx, scope, name)
	if err != nil {
		return err
	}
	rev := 0
	if cur != nil {
		rev = cur.Rev
	}
	if rev != was {
		return &staleError{name: name}
	}
	en := entityName(scope.Region, name)
	if v == nil {
		return tx.DeleteIAMEntity(ctx, scope.Account, metadata.Secret, en)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e := metadata.IAMEntity{Account: scope.Account, Kind: metadata.Secret, Name: en, Document: b}
	if cur == nil {
		return tx.CreateIAMEntity(ctx, e)
	}
	return tx.UpdateIAMEntity(ctx, e)
}

// decided runs op (read, authorize, compute, then a transaction that
// refuses a stale read) at most twice.
func decided[T any](op func() (T, error)) (T, error) {
	var stale *staleError
	for range 2 {
		v, err := op()
		if !errors.As(err, &stale) {
			return v, err
		}
	}
	var zero T
	return zero, awserr.Errorf(CodeInvalidRequest, "Another request changed the secret %s while this request was changing it. Retry the request.", stale.name)
}

// change writes a secret (nil: deletes it) at revision was, with the
// record of the call. The record is made before the transaction (its ID
// is random); the closure may run more than once.
func (s *Service) change(ctx context.Context, sec *Secret, was int, next *Secret, action string, params map[string]any) error {
	scope := Scope{Account: sec.Account, Region: sec.Region}
	e, err := outbox.APICall(scope, s.now(), outbox.SourceSecretsManager, outbox.Call{
		EventSource: serviceDomain, Action: action, Actor: identity.ActorOf(ctx, serviceDomain),
		Params: params, Resources: []string{sec.ARN},
	})
	if err != nil {
		return err
	}
	return s.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := write(ctx, tx, scope, sec.Name, was, next); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, e)
	})
}

// policyName names a secret's resource policy in a denial.
const policyName = "resource-based policy"

// authorize decides the caller's action on a secret, with its tags as
// aws:ResourceTag, requestTags as aws:RequestTag and its resource policy.
func (s *Service) authorize(ctx context.Context, sec *Secret, action string, requestTags []Tag) error {
	c := identity.Check{Action: action, Resource: sec.ARN, ResourceAccount: sec.Account,
		Keys: func(set func(k, v string)) {
			for _, t := range sec.Tags {
				set("aws:ResourceTag/"+t.Key, t.Value)
				set("secretsmanager:ResourceTag/"+t.Key, t.Value)
			}
			for _, t := range requestTags {
				set("aws:RequestTag/"+t.Key, t.Value)
				set("aws:TagKeys", t.Key)
			}
			set("secretsmanager:Name", sec.Name)
			if sec.KmsKeyID != "" {
				set("secretsmanager:KmsKeyId", sec.KmsKeyID)
			}
		}}
	if sec.Policy != "" {
		if p, err := iampolicy.Parse(sec.Policy, iampolicy.Resource); err == nil {
			c.Policy = &iampolicy.Named{Name: policyName, Policy: p}
		}
	}
	return s.decide(ctx, c)
}

// authorizeAccount decides an action on no one secret ("*").
func (s *Service) authorizeAccount(ctx context.Context, scope Scope, action string) error {
	return s.decide(ctx, identity.Check{Action: action, Resource: "*", ResourceAccount: scope.Account})
}

func (s *Service) decide(ctx context.Context, c identity.Check) error {
	d, req, err := s.ids.Authorize(ctx, c)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return awserr.Errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	return nil
}

// Paging tokens are opaque to callers: base64 of the last key a page held.

func encodeToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeToken(s string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err == nil && len(b) > 0
}

func invalidToken() error {
	return awserr.Errorf(CodeInvalidParameter, "Invalid NextToken value.")
}
