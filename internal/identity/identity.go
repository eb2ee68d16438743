// Package identity is ecrd's domain core for who makes requests: accounts,
// their access keys, the principals keys authenticate, and the registry
// tokens GetAuthorizationToken hands out for `docker login`.
//
// Secret access keys are stored sealed under the server keyring and kept
// decrypted in memory once used, so that verifying a signature costs no
// database read after the first. Registry tokens are self-verifying: any
// replica with the same keyring checks one without a lookup.
package identity

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Principal is who a request acts as.
type Principal struct {
	Account string
	ARN     string // arn:aws:iam::123456789012:root, ...:user/dev, arn:aws:sts::...:assumed-role/ci/run-1
	UserID  string // the aws:userid of the principal (the account ID for root)
	// Type is "Account" (the root user), "User" or "AssumedRole".
	Type string
	// Name is a user's name, or an assumed role's role name.
	Name string
	// Session is an assumed role's session, from its session token.
	Session *Session
}

// Principal types.
const (
	TypeRoot        = "Account"
	TypeUser        = "User"
	TypeAssumedRole = "AssumedRole"
)

// Root returns the root principal of an account.
func Root(account string) Principal {
	return Principal{Account: account, ARN: awsid.Root(account), UserID: account, Type: TypeRoot}
}

// PrincipalARN is what aws:PrincipalArn is: a role session's role ARN,
// or the principal's own ARN (a user's, also in a session of its own).
func (p Principal) PrincipalARN() string {
	if p.Session != nil && p.Session.RoleARN != "" {
		return p.Session.RoleARN
	}
	return p.ARN
}

// IsRoot reports whether the principal is its account's root.
func (p Principal) IsRoot() bool { return p.ARN == awsid.Root(p.Account) }

// Errors of the identity service.
var (
	ErrUnknownAccessKey = errors.New("the access key ID does not exist")
	ErrInactiveKey      = errors.New("the access key is inactive")
	ErrAccountExists    = errors.New("the account already exists")
	ErrNoAccount        = errors.New("the account does not exist")
	ErrInvalidAccountID = errors.New("an account ID must be 12 digits")
	ErrInvalidKey       = errors.New("an access key ID must be 16 to 128 letters and digits, and its secret 16 to 128 characters")
)

// Service manages accounts and access keys.
type Service struct {
	meta metadata.Store
	keys *keyring.Keyring
	now  func() time.Time
	log  *slog.Logger

	secrets    sync.Map // access key ID -> cachedKey
	accounts   sync.Map // account IDs known to exist (accounts are never deleted)
	tokens     sync.Map // verified registry password -> RegistryClaims
	tokenCount atomic.Int64

	// generation counts the IAM changes this process has learned of (its
	// own, and every other process's through the outbox: Changed).
	// Compiled grants, access key secrets and session policies loaded at
	// an older generation are stale.
	generation atomic.Int64
	grants     sync.Map // principal key -> *grants
	managed    sync.Map // managed policy ARN#ID#version -> *iampolicy.Policy
	sessions   sessionCache
	webID      WebIdentityVerifier
	keyUse     keyUses

	// authorizing, when set, is called as Authorize starts: the tests set
	// it to fail when the function of a transaction authorizes.
	authorizing func()
}

type cachedKey struct {
	secret     string
	principal  Principal
	loaded     time.Time
	generation int64
}

// New returns an identity service.
func New(meta metadata.Store, keys *keyring.Keyring, log *slog.Logger) *Service {
	return &Service{meta: meta, keys: keys, now: time.Now, log: log}
}

// EnsureAccount creates the account if it does not exist and reports
// whether it did. Development mode calls it on every request, so accounts
// seen once are remembered rather than written again.
func (s *Service) EnsureAccount(ctx context.Context, id string) (created bool, err error) {
	if _, ok := s.accounts.Load(id); ok {
		return false, nil
	}
	_, err = s.CreateAccount(ctx, id)
	if errors.Is(err, ErrAccountExists) {
		err = nil
	} else if err != nil {
		return false, err
	} else {
		created = true
	}
	s.accounts.Store(id, struct{}{})
	return created, nil
}

// CreateAccount creates an account; an empty id picks a random one.
func (s *Service) CreateAccount(ctx context.Context, id string) (metadata.Account, error) {
	if id == "" {
		id = randomAccountID()
	}
	if !awsid.ValidAccountID(id) {
		return metadata.Account{}, fmt.Errorf("%w: %q", ErrInvalidAccountID, id)
	}
	a := metadata.Account{ID: id, CreatedAt: s.now().UTC()}
	err := s.update(ctx, act("CreateAccount", "accountId", id), func(tx metadata.Tx) ([]string, error) {
		return []string{awsid.Root(id)}, tx.CreateAccount(ctx, a)
	})
	if errors.Is(err, metadata.ErrExists) {
		return a, fmt.Errorf("%w: %s", ErrAccountExists, id)
	}
	return a, err
}

// Accounts lists every account.
func (s *Service) Accounts(ctx context.Context) ([]metadata.Account, error) {
	return s.meta.Accounts(ctx)
}

// AccessKey is a new access key, with its secret: the only time the
// secret is shown.
type AccessKey struct {
	ID        string
	Secret    string
	Principal Principal
	CreatedAt time.Time
}

// CreateAccessKey makes a new access key for an account's root.
func (s *Service) CreateAccessKey(ctx context.Context, account string) (AccessKey, error) {
	k := AccessKey{ID: newAccessKeyID(), Secret: newSecret(), Principal: Root(account)}
	return k, s.storeKey(ctx, k)
}

// ImportAccessKey stores a given key pair for an account's root (from
// ECRD_ROOT_ACCESS_KEY_ID and ECRD_ROOT_SECRET_ACCESS_KEY), replacing a
// key of the same ID.
func (s *Service) ImportAccessKey(ctx context.Context, account, id, secret string) (AccessKey, error) {
	if !accessKeyIDRE.MatchString(id) || len(secret) < 16 || len(secret) > 128 {
		return AccessKey{}, ErrInvalidKey
	}
	k := AccessKey{ID: id, Secret: secret, Principal: Root(account)}
	return k, s.storeKey(ctx, k)
}

var accessKeyIDRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

func (s *Service) storeKey(ctx context.Context, k AccessKey) error {
	if _, err := s.meta.Account(ctx, k.Principal.Account); errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNoAccount, k.Principal.Account)
	} else if err != nil {
		return err
	}
	rec := metadata.AccessKey{
		ID:        k.ID,
		Account:   k.Principal.Account,
		Principal: k.Principal.ARN,
		Secret:    s.keys.Seal([]byte(k.Secret), []byte(k.ID)),
		Status:    "Active",
		CreatedAt: s.now().UTC(),
	}
	return s.update(ctx, act("iam:CreateAccessKey", "accessKeyId", k.ID), func(tx metadata.Tx) ([]string, error) {
		return []string{rec.Principal}, tx.PutAccessKey(ctx, rec)
	})
}

// AccessKeys lists the access keys of an account ("" for all), without
// their secrets.
func (s *Service) AccessKeys(ctx context.Context, account string) ([]metadata.AccessKey, error) {
	keys, err := s.meta.AccessKeys(ctx, account)
	for i := range keys {
		keys[i].Secret = nil
	}
	return keys, err
}

// LookupAccessKey returns the secret and principal of an access key, for
// verifying a signature.
func (s *Service) LookupAccessKey(ctx context.Context, id string) (secret string, p Principal, err error) {
	gen := s.generation.Load()
	if c, ok := s.secrets.Load(id); ok {
		// Read again after any IAM change (a key deactivated or deleted,
		// here or through another process), or after cacheTTL.
		if ck := c.(cachedKey); ck.generation == gen && s.now().Sub(ck.loaded) < cacheTTL {
			return ck.secret, ck.principal, nil
		}
		s.secrets.CompareAndDelete(id, c)
	}
	rec, err := s.meta.AccessKey(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) {
		return "", Principal{}, ErrUnknownAccessKey
	}
	if err != nil {
		return "", Principal{}, err
	}
	if rec.Status != "Active" {
		return "", Principal{}, ErrInactiveKey
	}
	plain, err := s.keys.Open(rec.Secret, []byte(rec.ID))
	if err != nil {
		return "", Principal{}, fmt.Errorf("opening the secret of access key %s (is the server key file the one it was created with?): %w", id, err)
	}
	p, err = s.keyPrincipal(ctx, rec)
	if err != nil {
		return "", Principal{}, err
	}
	s.secrets.Store(id, cachedKey{secret: string(plain), principal: p, loaded: s.now(), generation: gen})
	return string(plain), p, nil
}

// newAccessKeyID makes an ID shaped like AWS's long-term keys: AKIA and
// 16 characters of base32.
func newAccessKeyID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "AKIA" + base32.StdEncoding.EncodeToString(b)
}

// newSecret makes a 40-character secret, as AWS's are.
func newSecret() string {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func randomAccountID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(9e11))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%012d", n.Int64()+1e11)
}

// keyPrincipal returns the principal an access key authenticates: its
// account's root, or one of its users.
func (s *Service) keyPrincipal(ctx context.Context, rec metadata.AccessKey) (Principal, error) {
	if rec.Principal == Root(rec.Account).ARN {
		return Root(rec.Account), nil
	}
	_, name, ok := strings.Cut(rec.Principal, ":user/")
	if !ok {
		return Principal{}, fmt.Errorf("access key %s names %s, which is neither a root nor a user", rec.ID, rec.Principal)
	}
	name = name[strings.LastIndex(name, "/")+1:]
	u, err := loadEntity[User](ctx, s.meta, rec.Account, metadata.IAMUser, name)
	if isNoSuchEntity(err) {
		return Principal{}, ErrUnknownAccessKey // its user is gone
	} else if err != nil {
		return Principal{}, err
	}
	return u.principal(rec.Account), nil
}

// principal returns the principal a user's access keys authenticate.
func (u *User) principal(account string) Principal {
	return Principal{Account: account, ARN: u.ARN, UserID: u.ID, Type: TypeUser, Name: u.Name}
}
