package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/identity/identitytest"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/testutil"
)

var ctx = context.Background()

func newService(t *testing.T) *Service { return newServiceF(t) }

// newServiceF returns a service over a SQLite store whose write
// transactions each run twice, as a backend that retries them may run
// them: the service must not depend on a transaction running once. Its
// logger, its store's reads and Authorize fail the test when used inside
// a transaction.
func newServiceF(t testing.TB) *Service {
	t.Helper()
	return guarded(t, identitytest.Store(t, ""), testutil.Keyring(t))
}

// guarded returns a service over meta (an identitytest.Store) whose
// logger and Authorize fail the test when used inside a transaction.
func guarded(t testing.TB, meta metadata.Store, keys *keyring.Keyring) *Service {
	s := New(meta, keys, identitytest.Logger(t))
	s.authorizing = func() { metadatatest.OutsideTx(t, "Authorize") }
	return s
}

func TestAccountsAndKeys(t *testing.T) {
	s := newService(t)
	if created, err := s.EnsureAccount(ctx, "123456789012"); err != nil || !created {
		t.Fatalf("EnsureAccount = %v, %v", created, err)
	}
	if created, err := s.EnsureAccount(ctx, "123456789012"); err != nil || created {
		t.Fatalf("second EnsureAccount = %v, %v", created, err)
	}
	if _, err := s.CreateAccount(ctx, "123456789012"); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("CreateAccount of an existing account = %v", err)
	}
	if _, err := s.CreateAccount(ctx, "12345"); !errors.Is(err, ErrInvalidAccountID) {
		t.Fatalf("CreateAccount(12345) = %v", err)
	}
	random, err := s.CreateAccount(ctx, "")
	if err != nil || !awsid.ValidAccountID(random.ID) {
		t.Fatalf("random account = %+v, %v", random, err)
	}

	k, err := s.CreateAccessKey(ctx, "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "AKIA") || len(k.ID) != 20 || len(k.Secret) != 40 {
		t.Fatalf("access key %q / secret of %d characters", k.ID, len(k.Secret))
	}
	secret, p, err := s.LookupAccessKey(ctx, k.ID)
	if err != nil || secret != k.Secret || p != Root("123456789012") {
		t.Fatalf("LookupAccessKey = %v, %+v, %v", secret == k.Secret, p, err)
	}
	if _, _, err := s.LookupAccessKey(ctx, "AKIANOSUCHKEY0000000"); !errors.Is(err, ErrUnknownAccessKey) {
		t.Fatalf("unknown key = %v", err)
	}
	if _, err := s.CreateAccessKey(ctx, "999999999999"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("key for a missing account = %v", err)
	}
	keys, err := s.AccessKeys(ctx, "")
	if err != nil || len(keys) != 1 || keys[0].Secret != nil {
		t.Fatalf("AccessKeys = %+v, %v (secrets must not be listed)", keys, err)
	}
}

func TestImportedKeyReplacesCachedSecret(t *testing.T) {
	s := newService(t)
	s.EnsureAccount(ctx, "123456789012")
	if _, err := s.ImportAccessKey(ctx, "123456789012", "AKIAIMPORTED0000", "first-secret-value-0123"); err != nil {
		t.Fatal(err)
	}
	if secret, _, _ := s.LookupAccessKey(ctx, "AKIAIMPORTED0000"); secret != "first-secret-value-0123" {
		t.Fatalf("secret = %q", secret)
	}
	s.ImportAccessKey(ctx, "123456789012", "AKIAIMPORTED0000", "second-secret-value-456")
	if secret, _, _ := s.LookupAccessKey(ctx, "AKIAIMPORTED0000"); secret != "second-secret-value-456" {
		t.Fatalf("after re-import the secret is %q", secret)
	}
	for _, bad := range [][2]string{{"short", "long-enough-secret-value"}, {"akialowercase0000", "long-enough-secret-value"}, {"AKIAIMPORTED0001", "short"}} {
		if _, err := s.ImportAccessKey(ctx, "123456789012", bad[0], bad[1]); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ImportAccessKey(%q) = %v", bad[0], err)
		}
	}
}

func TestRegistryTokens(t *testing.T) {
	s := newService(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	p := Root("123456789012")
	pw, exp := s.IssueRegistryToken(p, "eu-west-1")
	if strings.Contains(pw, ":") {
		t.Fatalf("token %q contains a colon", pw)
	}
	if !exp.Equal(now.Add(12 * time.Hour)) {
		t.Fatalf("expires %v", exp)
	}
	c, err := s.VerifyRegistryToken(pw)
	if err != nil || c.Principal() != p || c.Region != "eu-west-1" || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("VerifyRegistryToken = %+v, %v", c, err)
	}
	// Tampering with the claims breaks the MAC.
	parts := strings.Split(pw, ".")
	forged := strings.Join([]string{parts[0], parts[1] + "A", parts[2], parts[3]}, ".")
	for _, bad := range []string{forged, "", "password", "v1.a.b.c", pw[:len(pw)-2], strings.Repeat("v", 5000)} {
		if _, err := s.VerifyRegistryToken(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("VerifyRegistryToken(%.30q) = %v", bad, err)
		}
	}
	// Another server's keyring does not accept it.
	other := newService(t)
	if _, err := other.VerifyRegistryToken(pw); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token verified under another keyring: %v", err)
	}
	// Expired.
	now = now.Add(12*time.Hour + time.Second)
	if _, err := s.VerifyRegistryToken(pw); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token = %v", err)
	}
}

func FuzzVerifyRegistryToken(f *testing.F) {
	s := &Service{keys: testutil.Keyring(f), now: time.Now}
	pw, _ := s.IssueRegistryToken(Root("123456789012"), "us-east-1")
	f.Add(pw)
	f.Add("v1...")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := s.VerifyRegistryToken(in)
		if err == nil && in != pw {
			t.Fatalf("accepted a token that was never issued: %q (%+v)", in, c)
		}
	})
}
