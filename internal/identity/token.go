package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// RegistryTokenTTL is how long a registry token lives: 12 hours, as ECR's.
const RegistryTokenTTL = 12 * time.Hour

// RegistryClaims is what a registry token says: who obtained it, for which
// account and region, until when. The principal's permissions are checked
// on every request; the token only names the principal (and carries a
// role session's own token, whose session policies still apply).
type RegistryClaims struct {
	Account      string    `json:"a"`
	Region       string    `json:"r"`
	ARN          string    `json:"p"`
	UserID       string    `json:"u"`
	Type         string    `json:"t,omitempty"`
	Name         string    `json:"n,omitempty"`
	SessionKey   string    `json:"sk,omitempty"`
	SessionToken string    `json:"st,omitempty"`
	ExpiresAt    time.Time `json:"-"`
	Expires      int64     `json:"e"`

	session *Session
}

// claimsOf describes a principal in a token or download URL.
func claimsOf(p Principal, region string, expires time.Time) RegistryClaims {
	c := RegistryClaims{Account: p.Account, Region: region, ARN: p.ARN, UserID: p.UserID, Type: p.Type, Name: p.Name, Expires: expires.Unix()}
	if p.Session != nil {
		c.SessionKey, c.SessionToken = p.Session.KeyID, p.Session.token
		if p.Session.Expires < c.Expires {
			c.Expires = p.Session.Expires // a token never outlives its session
		}
	}
	c.ExpiresAt = time.Unix(c.Expires, 0).UTC()
	return c
}

// Principal returns the principal the token names.
func (c RegistryClaims) Principal() Principal {
	if c.session != nil {
		return c.session.Principal()
	}
	return Principal{Account: c.Account, ARN: c.ARN, UserID: c.UserID, Type: c.Type, Name: c.Name}.normalized()
}

// openClaimsSession checks the session a token carries, if any.
func (s *Service) openClaimsSession(c *RegistryClaims) error {
	if c.SessionToken == "" {
		return nil
	}
	sess, err := s.openSession(context.Background(), c.SessionKey, c.SessionToken)
	if err != nil {
		return fmt.Errorf("%w: its session: %v", ErrInvalidToken, err)
	}
	c.session = sess
	return nil
}

// checkCurrent refuses claims whose user or role is no longer the one
// they were issued to (deleted, perhaps created again under the same
// name): credentials never outlive their principal.
func (s *Service) checkCurrent(c RegistryClaims) error {
	p := c.Principal()
	ok, err := s.current(context.Background(), p)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the principal %s it was issued to no longer exists (it was deleted, or deleted and created again); log in again", ErrInvalidToken, p.ARN)
	}
	return nil
}

// ErrInvalidToken means a registry password is malformed, forged or
// expired; the message says which.
var ErrInvalidToken = errors.New("invalid registry token")

const tokenPurpose = "registry-token"

// IssueRegistryToken returns a registry password for a principal, valid
// for RegistryTokenTTL. Its form is v1.<claims>.<key id>.<mac>, all
// base64url: no colon, so that `AWS:<password>` splits in two.
func (s *Service) IssueRegistryToken(p Principal, region string) (password string, expires time.Time) {
	c := claimsOf(p, region, s.now().Add(RegistryTokenTTL).Truncate(time.Second).UTC())
	expires = c.ExpiresAt
	payload, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain strings and an integer always marshal
	}
	body := "v1." + base64.RawURLEncoding.EncodeToString(payload)
	kid, mac := s.keys.MAC(tokenPurpose, []byte(body))
	return body + "." + kid + "." + base64.RawURLEncoding.EncodeToString(mac), expires
}

// VerifyRegistryToken checks a registry password and returns its claims;
// a password of a principal that no longer exists (its unique ID is gone)
// is refused. Verified passwords are remembered until they expire, so
// that a client sending the same password on every request costs a map
// lookup (and the check of its principal a lookup in the grants cache).
func (s *Service) VerifyRegistryToken(password string) (RegistryClaims, error) {
	if v, ok := s.tokens.Load(password); ok {
		c := v.(RegistryClaims)
		if s.now().Before(c.ExpiresAt) {
			return c, s.checkCurrent(c)
		}
		s.tokens.Delete(password)
	}
	c, err := s.verifyRegistryToken(password)
	if err != nil {
		return c, err
	}
	if s.tokenCount.Add(1) > maxCachedTokens {
		s.tokens.Clear() // crude but bounded; refills from verification
		s.tokenCount.Store(1)
	}
	s.tokens.Store(password, c)
	return c, s.checkCurrent(c)
}

// maxCachedTokens bounds the verified-token cache.
const maxCachedTokens = 10_000

func (s *Service) verifyRegistryToken(password string) (RegistryClaims, error) {
	var c RegistryClaims
	if len(password) > 4096 {
		return c, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	parts := strings.Split(password, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return c, fmt.Errorf("%w: not an ecrd registry token; get one with aws ecr get-login-password", ErrInvalidToken)
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil {
		return c, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	body := parts[0] + "." + parts[1]
	if err := s.keys.VerifyMAC(parts[2], tokenPurpose, []byte(body), mac); err != nil {
		return c, fmt.Errorf("%w: it was not issued by this registry, or its server key was removed", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	c.ExpiresAt = time.Unix(c.Expires, 0).UTC()
	if !s.now().Before(c.ExpiresAt) {
		return c, fmt.Errorf("%w: it expired at %s; get a new one with aws ecr get-login-password", ErrInvalidToken, c.ExpiresAt.Format(time.RFC3339))
	}
	return c, s.openClaimsSession(&c)
}

const downloadPurpose = "download-url"

// Query parameters of a signed download URL.
const (
	DownloadCredentialParam = "X-Ecrd-Credential"
	DownloadSignatureParam  = "X-Ecrd-Signature"
)

// SignDownloadURL returns the query that lets anyone GET path until ttl
// has passed, as principal p acting in region: ECR's
// GetDownloadUrlForLayer hands out such time-limited URLs.
func (s *Service) SignDownloadURL(p Principal, region, path string, ttl time.Duration) url.Values {
	c := claimsOf(p, region, s.now().Add(ttl))
	payload, _ := json.Marshal(c)
	cred := base64.RawURLEncoding.EncodeToString(payload)
	kid, mac := s.keys.MAC(downloadPurpose, []byte("GET\n"+path+"\n"+cred))
	return url.Values{
		DownloadCredentialParam: {cred},
		DownloadSignatureParam:  {kid + "." + base64.RawURLEncoding.EncodeToString(mac)},
	}
}

// VerifyDownloadURL checks a signed download URL's query for path.
func (s *Service) VerifyDownloadURL(path string, q url.Values) (RegistryClaims, error) {
	var c RegistryClaims
	cred, sig := q.Get(DownloadCredentialParam), q.Get(DownloadSignatureParam)
	kid, macText, ok := strings.Cut(sig, ".")
	mac, err := base64.RawURLEncoding.Strict().DecodeString(macText)
	if !ok || err != nil || len(cred) > 4096 {
		return c, fmt.Errorf("%w: malformed download URL signature", ErrInvalidToken)
	}
	if err := s.keys.VerifyMAC(kid, downloadPurpose, []byte("GET\n"+path+"\n"+cred), mac); err != nil {
		return c, fmt.Errorf("%w: the download URL's signature does not match", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(cred)
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return c, fmt.Errorf("%w: malformed download URL credential", ErrInvalidToken)
	}
	c.ExpiresAt = time.Unix(c.Expires, 0).UTC()
	if !s.now().Before(c.ExpiresAt) {
		return c, fmt.Errorf("%w: the download URL expired at %s; ask for a new one", ErrInvalidToken, c.ExpiresAt.Format(time.RFC3339))
	}
	if err := s.openClaimsSession(&c); err != nil {
		return c, err
	}
	return c, s.checkCurrent(c)
}
