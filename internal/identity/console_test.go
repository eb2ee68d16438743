package identity

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestConsoleSignInAndSessions: a sign-in token works once and only
// within five minutes, is not a session nor a registry token (and the
// other way round); a session ends on sign-out, when its access key is
// deactivated or deleted, and when its user is deleted; keys are checked
// in constant time and every failure looks the same.
func TestConsoleSignInAndSessions(t *testing.T) {
	s := newService(t)
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := s.CreateUserAccessKey(rc, "dev")
	if err != nil {
		t.Fatal(err)
	}
	p := u.principal(acct)

	// Keys.
	got, err := s.CheckAccessKey(ctx, key.ID, key.Secret)
	if err != nil || got.ARN != p.ARN {
		t.Fatalf("CheckAccessKey = %+v, %v", got, err)
	}
	for _, bad := range [][2]string{{key.ID, key.Secret + "x"}, {key.ID, ""}, {"AKIANOSUCHKEY0000000", key.Secret}} {
		if _, err := s.CheckAccessKey(ctx, bad[0], bad[1]); !errors.Is(err, ErrUnknownAccessKey) {
			t.Errorf("CheckAccessKey(%s, ...) = %v, want ErrUnknownAccessKey", bad[0], err)
		}
	}

	// One-time sign-in.
	tok, exp := s.IssueConsoleSignIn(p, "eu-west-1", key.ID)
	if !exp.Equal(now.Add(ConsoleSignInTTL)) {
		t.Fatalf("sign-in expires %v", exp)
	}
	if _, err := s.VerifyConsoleSession(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a sign-in token taken as a session: %v", err)
	}
	if _, err := s.VerifyRegistryToken(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a sign-in token taken as a registry token: %v", err)
	}
	if c, err := s.PeekConsoleSignIn(ctx, tok); err != nil || c.ARN != p.ARN {
		t.Fatalf("PeekConsoleSignIn before use = %+v, %v", c, err)
	}
	c, err := s.RedeemConsoleSignIn(ctx, tok)
	if err != nil || c.ARN != p.ARN || c.Region != "eu-west-1" || c.KeyID != key.ID {
		t.Fatalf("RedeemConsoleSignIn = %+v, %v", c, err)
	}
	if _, err := s.RedeemConsoleSignIn(ctx, tok); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "used already") {
		t.Fatalf("a second redemption: %v", err)
	}
	if _, err := s.PeekConsoleSignIn(ctx, tok); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "used already") {
		t.Fatalf("PeekConsoleSignIn after use: %v", err)
	}
	late, _ := s.IssueConsoleSignIn(p, "eu-west-1", key.ID)
	now = now.Add(ConsoleSignInTTL + time.Second)
	if _, err := s.RedeemConsoleSignIn(ctx, late); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("a sign-in after five minutes: %v", err)
	}

	// Sessions.
	cookie, sc := s.IssueConsoleSession(p, "eu-west-1", key.ID)
	if _, err := s.RedeemConsoleSignIn(ctx, cookie); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a session taken as a sign-in: %v", err)
	}
	if v, err := s.VerifyConsoleSession(ctx, cookie); err != nil || v.ID != sc.ID || v.Principal().ARN != p.ARN {
		t.Fatalf("VerifyConsoleSession = %+v, %v", v, err)
	}
	parts := strings.Split(cookie, ".")
	for _, bad := range []string{parts[0] + "." + parts[1] + "A." + parts[2] + "." + parts[3], "", "v1.a.b.c", strings.Repeat("v", 9000)} {
		if _, err := s.VerifyConsoleSession(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("VerifyConsoleSession(%.20q) = %v", bad, err)
		}
	}
	if err := s.EndConsoleSession(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyConsoleSession(ctx, cookie); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "signed out") {
		t.Fatalf("a signed-out session: %v", err)
	}

	// The key deactivated, then deleted; the user deleted.
	cookie, _ = s.IssueConsoleSession(p, "eu-west-1", key.ID)
	if err := s.UpdateAccessKey(rc, "dev", key.ID, "Inactive"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyConsoleSession(ctx, cookie); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "no longer active") {
		t.Fatalf("a session of a deactivated key: %v", err)
	}
	if err := s.UpdateAccessKey(rc, "dev", key.ID, "Active"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyConsoleSession(ctx, cookie); err != nil {
		t.Fatalf("a session of a key active again: %v", err)
	}
	if err := s.DeleteAccessKey(rc, "dev", key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyConsoleSession(ctx, cookie); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a session of a deleted key: %v", err)
	}
	key2, _, err := s.CreateUserAccessKey(rc, "dev")
	if err != nil {
		t.Fatal(err)
	}
	cookie, _ = s.IssueConsoleSession(p, "eu-west-1", key2.ID)
	if err := s.DeleteAccessKey(rc, "dev", key2.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(rc, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyConsoleSession(ctx, cookie); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a session of a deleted user: %v", err)
	}
	// Expiry.
	rootCookie, _ := s.IssueConsoleSession(Root(acct), "us-east-1", "")
	now = now.Add(ConsoleSessionTTL + time.Second)
	if _, err := s.VerifyConsoleSession(ctx, rootCookie); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("a session after 12 hours: %v", err)
	}
}

func FuzzVerifyConsoleSession(f *testing.F) {
	s := newServiceF(f)
	cookie, _ := s.IssueConsoleSession(Root("123456789012"), "us-east-1", "")
	f.Add(cookie)
	f.Add("v1.e30.k.m")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := s.VerifyConsoleSession(ctx, v)
		if err == nil && v != cookie {
			t.Fatalf("a forged session verified: %q -> %+v", v, c)
		}
	})
}

// TestConsoleMarkersSwept checks that the markers of used sign-ins and
// ended sessions go once their tokens expire: each new marker's
// transaction removes its registry's expired ones, and keeps the rest.
func TestConsoleMarkersSwept(t *testing.T) {
	s := newService(t)
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	p := Root(acct)
	markers := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, prefix := range []string{settingConsoleUsed, settingConsoleEnded} {
			m, err := s.meta.AccountSettings(ctx, metadata.Scope{Account: acct, Region: "us-east-1"}, prefix)
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(out, m)
		}
		return out
	}
	redeem := func() ConsoleClaims {
		t.Helper()
		tok, _ := s.IssueConsoleSignIn(p, "us-east-1", "")
		c, err := s.RedeemConsoleSignIn(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := redeem()
	_, session := s.IssueConsoleSession(p, "us-east-1", "")
	if err := s.EndConsoleSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	if m := markers(); len(m) != 2 {
		t.Fatalf("markers after a sign-in and a sign-out: %v", m)
	}

	// Past the sign-in's expiry, not the session's: the next marker's
	// transaction removes the sign-in's only.
	now = now.Add(ConsoleSignInTTL + time.Second)
	second := redeem()
	m := markers()
	if _, ok := m[settingConsoleUsed+first.ID]; ok {
		t.Errorf("the marker of an expired sign-in stayed: %v", m)
	}
	if _, ok := m[settingConsoleEnded+session.ID]; !ok {
		t.Errorf("the marker of a session not yet expired went: %v", m)
	}
	if _, ok := m[settingConsoleUsed+second.ID]; !ok || len(m) != 2 {
		t.Errorf("markers: %v", m)
	}

	// Past the session's expiry: a sign-out removes both.
	now = now.Add(ConsoleSessionTTL)
	_, last := s.IssueConsoleSession(p, "us-east-1", "")
	if err := s.EndConsoleSession(ctx, last); err != nil {
		t.Fatal(err)
	}
	if m := markers(); len(m) != 1 || m[settingConsoleEnded+last.ID] == "" {
		t.Errorf("markers after both expired: %v", m)
	}
}
