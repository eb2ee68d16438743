package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Console sign-ins and sessions. A one-time sign-in token (what `ecrd
// console-url` puts in its URL, as AWS federation sign-in URLs carry a
// sign-in token) and a session cookie are both claims about a principal
// under the server keyring's MAC, each with a purpose of its own so
// that one is never taken for the other or for a registry token. They
// carry the access key the principal signed in with (for a user or
// root): a session ends when that key is deactivated or deleted, when
// the principal is deleted, when a role session expires, or on sign-out.
//
// Single use and sign-out need shared state, since any replica may see
// the next request: a used sign-in token and an ended session are
// recorded as hidden registry settings of the principal's account,
// ecrd:console-used:<id> and ecrd:console-ended:<id>, whose value is the
// token's expiry. Once it passes, the token is refused for its age and
// the marker is no longer needed: each new marker's transaction removes
// the expired ones of its registry (sweepConsoleMarkers).

const (
	// ConsoleSignInTTL is how long a sign-in URL may be used: five
	// minutes, once.
	ConsoleSignInTTL = 5 * time.Minute
	// ConsoleSessionTTL is how long a console session lasts at most.
	ConsoleSessionTTL = 12 * time.Hour
)

const (
	consoleSignInPurpose  = "console-signin"
	consoleSessionPurpose = "console-session"
	settingConsoleUsed    = "ecrd:console-used:"
	settingConsoleEnded   = "ecrd:console-ended:"
)

// ConsoleClaims name a console sign-in or session: the principal, the
// region it acts in, the access key it came from ("" for a role
// session, whose session key is in the registry claims), and a random ID.
type ConsoleClaims struct {
	RegistryClaims
	KeyID string `json:"k,omitempty"`
	ID    string `json:"i"`
}

// consoleScope is where a console token's shared state is kept.
func (c ConsoleClaims) consoleScope() metadata.Scope {
	return metadata.Scope{Account: c.Account, Region: c.Region}
}

// IssueConsoleSignIn returns a one-time sign-in token for p acting in
// region, valid for ConsoleSignInTTL; keyID is the access key the
// caller signed its request with.
func (s *Service) IssueConsoleSignIn(p Principal, region, keyID string) (token string, expires time.Time) {
	c := s.consoleClaims(p, region, keyID, ConsoleSignInTTL)
	return s.sealConsole(consoleSignInPurpose, c), c.ExpiresAt
}

// errSignInUsed refuses a sign-in URL that was redeemed before.
var errSignInUsed = fmt.Errorf("%w: this sign-in URL was used already; each works once: ask for a new one with ecrd console-url", ErrInvalidToken)

// PeekConsoleSignIn checks a sign-in token without using it, so that the
// sign-in page can ask "sign in as ...?" before a POST redeems it: a
// link alone never changes whose session a browser holds.
func (s *Service) PeekConsoleSignIn(ctx context.Context, token string) (ConsoleClaims, error) {
	c, err := s.openConsole(ctx, consoleSignInPurpose, token)
	if err != nil {
		return c, err
	}
	if _, err := s.meta.AccountSetting(ctx, c.consoleScope(), settingConsoleUsed+c.ID); err == nil {
		return c, errSignInUsed
	} else if !errors.Is(err, metadata.ErrNotFound) {
		return c, err
	}
	return c, nil
}

// RedeemConsoleSignIn checks a sign-in token and marks it used: a second
// redemption, here or on another replica, is refused.
func (s *Service) RedeemConsoleSignIn(ctx context.Context, token string) (ConsoleClaims, error) {
	c, err := s.openConsole(ctx, consoleSignInPurpose, token)
	if err != nil {
		return c, err
	}
	used := false
	now := s.now()
	err = s.meta.Update(ctx, func(tx metadata.Tx) error {
		used = false
		if _, err := tx.AccountSetting(ctx, c.consoleScope(), settingConsoleUsed+c.ID); err == nil {
			used = true
			return nil
		} else if !errors.Is(err, metadata.ErrNotFound) {
			return err
		}
		if err := sweepConsoleMarkers(ctx, tx, c.consoleScope(), now); err != nil {
			return err
		}
		return tx.PutAccountSetting(ctx, c.consoleScope(), settingConsoleUsed+c.ID, c.ExpiresAt.Format(time.RFC3339))
	})
	if err != nil {
		return c, err
	}
	if used {
		return c, errSignInUsed
	}
	return c, nil
}

// IssueConsoleSession returns a session cookie value for the principal
// of claims (a redeemed sign-in, or keys checked by CheckAccessKey).
func (s *Service) IssueConsoleSession(p Principal, region, keyID string) (string, ConsoleClaims) {
	c := s.consoleClaims(p, region, keyID, ConsoleSessionTTL)
	return s.sealConsole(consoleSessionPurpose, c), c
}

// VerifyConsoleSession checks a session cookie: its MAC and expiry, its
// principal and access key still current, and that it was not ended.
func (s *Service) VerifyConsoleSession(ctx context.Context, cookie string) (ConsoleClaims, error) {
	c, err := s.openConsole(ctx, consoleSessionPurpose, cookie)
	if err != nil {
		return c, err
	}
	if _, err := s.meta.AccountSetting(ctx, c.consoleScope(), settingConsoleEnded+c.ID); err == nil {
		return c, fmt.Errorf("%w: the session was signed out", ErrInvalidToken)
	} else if !errors.Is(err, metadata.ErrNotFound) {
		return c, err
	}
	return c, nil
}

// EndConsoleSession signs a session out, for every replica.
func (s *Service) EndConsoleSession(ctx context.Context, c ConsoleClaims) error {
	now := s.now()
	return s.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := sweepConsoleMarkers(ctx, tx, c.consoleScope(), now); err != nil {
			return err
		}
		return tx.PutAccountSetting(ctx, c.consoleScope(), settingConsoleEnded+c.ID, c.ExpiresAt.Format(time.RFC3339))
	})
}

// sweepConsoleMarkers removes the markers of a registry whose token
// expired before now: such a token is refused for its age whatever the
// marker says. A marker whose value does not parse is left alone.
func sweepConsoleMarkers(ctx context.Context, tx metadata.Tx, scope metadata.Scope, now time.Time) error {
	for _, prefix := range []string{settingConsoleUsed, settingConsoleEnded} {
		markers, err := tx.AccountSettings(ctx, scope, prefix)
		if err != nil {
			return err
		}
		for name, value := range markers {
			if exp, err := time.Parse(time.RFC3339, value); err == nil && exp.Before(now) {
				if err := tx.DeleteAccountSetting(ctx, scope, name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CheckAccessKey returns the principal of an access key whose secret is
// secret (compared in constant time), as the console's sign-in form
// checks keys. Any failure is the same ErrUnknownAccessKey, so that the
// form does not tell which keys exist.
func (s *Service) CheckAccessKey(ctx context.Context, keyID, secret string) (Principal, error) {
	want, p, err := s.LookupAccessKey(ctx, keyID)
	if err != nil && !errors.Is(err, ErrUnknownAccessKey) && !errors.Is(err, ErrInactiveKey) {
		return Principal{}, err
	}
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		return Principal{}, ErrUnknownAccessKey
	}
	return p, nil
}

func (s *Service) consoleClaims(p Principal, region, keyID string, ttl time.Duration) ConsoleClaims {
	id := make([]byte, 16)
	rand.Read(id)
	c := ConsoleClaims{RegistryClaims: claimsOf(p, region, s.now().Add(ttl).Truncate(time.Second).UTC()), ID: base64.RawURLEncoding.EncodeToString(id)}
	if p.Session == nil {
		c.KeyID = keyID
	}
	return c
}

// sealConsole writes claims as v1.<claims>.<key id>.<mac>, base64url.
func (s *Service) sealConsole(purpose string, c ConsoleClaims) string {
	payload, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain strings and an integer always marshal
	}
	body := "v1." + base64.RawURLEncoding.EncodeToString(payload)
	kid, mac := s.keys.MAC(purpose, []byte(body))
	return body + "." + kid + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// openConsole checks a console token's MAC, expiry, session and
// principal, and the access key it came from.
func (s *Service) openConsole(ctx context.Context, purpose, v string) (ConsoleClaims, error) {
	var c ConsoleClaims
	if len(v) > 8192 {
		return c, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	parts := strings.Split(v, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return c, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil {
		return c, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	body := parts[0] + "." + parts[1]
	if err := s.keys.VerifyMAC(parts[2], purpose, []byte(body), mac); err != nil {
		return c, fmt.Errorf("%w: it was not issued by this registry, or its server key was removed", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil || json.NewDecoder(bytes.NewReader(payload)).Decode(&c) != nil || c.ID == "" {
		return c, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	c.ExpiresAt = time.Unix(c.Expires, 0).UTC()
	if !s.now().Before(c.ExpiresAt) {
		return c, fmt.Errorf("%w: it expired at %s", ErrInvalidToken, c.ExpiresAt.Format(time.RFC3339))
	}
	if err := s.openClaimsSession(&c.RegistryClaims); err != nil {
		return c, err
	}
	if err := s.checkCurrent(c.RegistryClaims); err != nil {
		return c, err
	}
	if c.KeyID != "" {
		_, p, err := s.LookupAccessKey(ctx, c.KeyID)
		if errors.Is(err, ErrUnknownAccessKey) || errors.Is(err, ErrInactiveKey) || (err == nil && p.UserID != c.UserID) {
			return c, fmt.Errorf("%w: the access key %s it was signed in with is no longer active", ErrInvalidToken, c.KeyID)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}
