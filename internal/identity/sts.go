package identity

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/webidentity"
)

// Session is a role session that AssumeRole or AssumeRoleWithWebIdentity
// issued. It travels inside its session token, sealed under the server
// keyring, so that any replica holding the keyring verifies a request
// signed with it without a lookup.
type Session struct {
	KeyID      string            `json:"k"`
	Secret     string            `json:"s"`
	Account    string            `json:"a"`
	Role       string            `json:"r"`  // the role's name
	RoleARN    string            `json:"ra"` // with its path
	RoleID     string            `json:"ri"` // AROA...
	Name       string            `json:"n"`  // the session name
	Policy     string            `json:"p,omitempty"`
	PolicyARNs []string          `json:"pa,omitempty"`
	Tags       map[string]string `json:"t,omitempty"`
	Issued     int64             `json:"i"`
	Expires    int64             `json:"e"`
	// WebIdentity records the token a web identity session came from,
	// for the audit trail.
	WebIdentity *WebIdentity `json:"w,omitempty"`

	policies []iampolicy.Named // Policy and PolicyARNs, compiled
	token    string            // the session token it was opened from
}

// WebIdentity is who a web identity session was issued to.
type WebIdentity struct {
	Provider string   `json:"p"` // the IAM OIDC provider's ARN
	Issuer   string   `json:"i"`
	Subject  string   `json:"s"`
	Audience []string `json:"a"`
}

// ExpiresAt returns when the session ends.
func (s *Session) ExpiresAt() time.Time { return time.Unix(s.Expires, 0).UTC() }

// Principal returns the assumed-role principal the session acts as.
func (s *Session) Principal() Principal {
	return Principal{
		Account: s.Account,
		ARN:     "arn:aws:sts::" + s.Account + ":assumed-role/" + s.Role + "/" + s.Name,
		UserID:  s.RoleID + ":" + s.Name,
		Type:    TypeAssumedRole,
		Name:    s.Role,
		Session: s,
	}
}

// Credentials are temporary credentials, as STS returns them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// AssumedRole is the answer to AssumeRole and AssumeRoleWithWebIdentity.
type AssumedRole struct {
	Credentials Credentials
	Principal   Principal
	// PackedPolicySize is the session policies' share of the token's
	// policy budget, in percent.
	PackedPolicySize int
}

// AssumeRoleInput is what AssumeRole and AssumeRoleWithWebIdentity take.
type AssumeRoleInput struct {
	RoleARN     string
	SessionName string
	Duration    time.Duration // 0: an hour
	Policy      string        // inline session policy
	PolicyARNs  []string      // managed session policies
	Tags        []Tag         // session tags (AssumeRole)
	Region      string        // where the call was made, for the role's last use
}

// Limits of AssumeRole's input, from the STS API reference.
const (
	maxSessionPolicy     = 2048
	maxSessionPolicyARNs = 10
	roleChainingMax      = time.Hour
)

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// sessionTokenPrefix starts every session token, so that a token of
// another registry or format is refused before decryption.
const sessionTokenPrefix = "ecrd1"

// AssumeRole issues a session of a role to the context's principal, if
// the role's trust policy (and, where AWS requires it, the caller's
// identity policies) allow sts:AssumeRole.
func (s *Service) AssumeRole(ctx context.Context, in AssumeRoleInput) (AssumedRole, error) {
	caller, ok := FromContext(ctx)
	if !ok {
		return AssumedRole{}, iamError(CodeAccessDenied, "AssumeRole requires signed credentials")
	}
	role, err := s.sessionRole(ctx, &in)
	if err != nil {
		return AssumedRole{}, err
	}
	maxDur := time.Duration(role.MaxSessionDuration) * time.Second
	if caller.normalized().Type == TypeAssumedRole {
		maxDur = roleChainingMax // role chaining: at most an hour, as AWS
	}
	if err := checkDuration(in.Duration, maxDur); err != nil {
		return AssumedRole{}, err
	}
	if err := validTags(in.Tags); err != nil {
		return AssumedRole{}, err
	}
	trust, err := parsePolicy(role.TrustPolicy, iampolicy.Trust)
	if err != nil {
		return AssumedRole{}, fmt.Errorf("the trust policy of role %s does not compile: %w", role.Name, err)
	}
	d, req, err := s.Authorize(ctx, Check{
		Action: "sts:AssumeRole", Resource: role.ARN, ResourceAccount: accountOfARN(role.ARN),
		Policy: &iampolicy.Named{Name: "trust policy", Policy: trust},
		Keys: func(set func(k, v string)) {
			set("sts:RoleSessionName", in.SessionName)
			for _, t := range in.Tags {
				set("aws:RequestTag/"+t.Key, t.Value)
				set("aws:TagKeys", t.Key)
			}
		},
	})
	if err != nil {
		return AssumedRole{}, err
	}
	if !d.Allowed {
		return AssumedRole{}, iamError(CodeAccessDenied, "%s", d.Message(req))
	}
	sess := &Session{Tags: map[string]string{}}
	for _, t := range in.Tags {
		sess.Tags[t.Key] = t.Value
	}
	return s.issueSession(ctx, role, in, sess)
}

// AssumeRoleWithWebIdentity issues a role session for an OpenID Connect
// token: the token must verify against an OIDC provider registered in the
// role's account, and the role's trust policy must allow its claims.
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, in AssumeRoleInput, token string) (AssumedRole, *webidentity.Claims, error) {
	role, err := s.sessionRole(ctx, &in)
	if err != nil {
		return AssumedRole{}, nil, err
	}
	if err := checkDuration(in.Duration, time.Duration(role.MaxSessionDuration)*time.Second); err != nil {
		return AssumedRole{}, nil, err
	}
	if len(token) < 4 || len(token) > 20000 {
		return AssumedRole{}, nil, iamError(CodeValidation, "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000")
	}
	iss, err := webidentity.Issuer(token)
	if err != nil {
		return AssumedRole{}, nil, webError(err)
	}
	account := accountOfARN(role.ARN)
	url := webidentity.ProviderURL(iss)
	prov, err := loadEntity[OIDCProvider](ctx, s.meta, account, metadata.IAMOIDCProvider, url)
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) && ie.Code == CodeNoSuchEntity {
			return AssumedRole{}, nil, iamError(CodeInvalidIdentity, "No OpenIDConnect provider found in your account for %s", iss)
		}
		return AssumedRole{}, nil, err
	}
	if s.webID == nil {
		return AssumedRole{}, nil, iamError(CodeIDPCommunication, "this registry has no web identity verifier configured")
	}
	claims, err := s.webID.Verify(ctx, webidentity.Provider{URL: prov.URL, ClientIDs: prov.ClientIDs, Thumbprints: prov.Thumbprints}, token)
	if err != nil {
		return AssumedRole{}, nil, webError(err)
	}
	trust, err := parsePolicy(role.TrustPolicy, iampolicy.Trust)
	if err != nil {
		return AssumedRole{}, nil, fmt.Errorf("the trust policy of role %s does not compile: %w", role.Name, err)
	}
	keys := claims.ConditionKeys(prov.URL, prov.ARN)
	req := iampolicy.Request{
		Action: "sts:AssumeRoleWithWebIdentity", Resource: role.ARN, ResourceAccount: account,
		Principal: iampolicy.Principal{Type: "WebIdentity", Provider: prov.ARN},
		Context:   keys,
	}
	req.Context["sts:RoleSessionName"] = []string{in.SessionName}
	if o, ok := OriginFromContext(ctx); ok {
		req.Context["aws:SourceIp"] = []string{o.SourceIP}
		req.Context["aws:SecureTransport"] = []string{fmt.Sprint(o.Secure)}
	}
	req.Context["aws:CurrentTime"] = []string{time.Now().UTC().Format(time.RFC3339)}
	d := iampolicy.Evaluate(req, iampolicy.Policies{Resource: &iampolicy.Named{Name: "trust policy", Policy: trust}})
	if !d.Allowed {
		return AssumedRole{}, nil, iamError(CodeAccessDenied, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	}
	sess := &Session{WebIdentity: &WebIdentity{Provider: prov.ARN, Issuer: claims.Issuer, Subject: claims.Subject, Audience: claims.Audience}}
	out, err := s.issueSession(ctx, role, in, sess)
	return out, claims, err
}

// webError turns a web identity verification failure into STS's error.
func webError(err error) error {
	var we *webidentity.Error
	if errors.As(err, &we) {
		return &Error{Code: we.Code, Message: we.Message}
	}
	return err
}

// sessionRole validates what both AssumeRole calls share and loads the
// role.
func (s *Service) sessionRole(ctx context.Context, in *AssumeRoleInput) (Role, error) {
	if !sessionNameRE.MatchString(in.SessionName) {
		return Role{}, iamError(CodeValidation, "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", in.SessionName)
	}
	if len(in.Policy) > maxSessionPolicy {
		return Role{}, iamError(CodeValidation, "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionPolicy)
	}
	if len(in.PolicyARNs) > maxSessionPolicyARNs {
		return Role{}, iamError(CodeValidation, "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionPolicyARNs)
	}
	if in.Policy != "" {
		if _, err := parsePolicy(in.Policy, iampolicy.Identity); err != nil {
			return Role{}, err
		}
	}
	for _, arn := range in.PolicyARNs {
		if _, err := managedPolicy(ctx, s.meta, arn); err != nil {
			return Role{}, err
		}
	}
	account, name, ok := splitRoleARN(in.RoleARN)
	if !ok {
		return Role{}, iamError(CodeValidation, "%s is invalid: give a role ARN, arn:aws:iam::ACCOUNT:role/NAME", in.RoleARN)
	}
	role, err := loadEntity[Role](ctx, s.meta, account, metadata.IAMRole, name)
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) && ie.Code == CodeNoSuchEntity {
			// AWS does not tell a caller whether a role it may not assume exists.
			return Role{}, iamError(CodeAccessDenied, "Not authorized to perform sts:AssumeRole on %s: the role does not exist", in.RoleARN)
		}
		return Role{}, err
	}
	if role.ARN != in.RoleARN {
		return Role{}, iamError(CodeAccessDenied, "Not authorized to perform sts:AssumeRole on %s: the role's ARN is %s", in.RoleARN, role.ARN)
	}
	return role, nil
}

func checkDuration(d, max time.Duration) error {
	if d == 0 {
		d = defaultSessionSeconds * time.Second
	}
	if d < minSessionSeconds*time.Second {
		return iamError(CodeValidation, "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", int(d.Seconds()), minSessionSeconds)
	}
	if d > max {
		return iamError(CodeValidation, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return nil
}

// issueSession makes the session's credentials and seals its token.
func (s *Service) issueSession(ctx context.Context, role Role, in AssumeRoleInput, sess *Session) (AssumedRole, error) {
	d := in.Duration
	if d == 0 {
		d = defaultSessionSeconds * time.Second
	}
	now := s.now()
	sess.KeyID = newSessionKeyID()
	sess.Secret = newSecret()
	sess.Account = accountOfARN(role.ARN)
	sess.Role, sess.RoleARN, sess.RoleID, sess.Name = role.Name, role.ARN, role.ID, in.SessionName
	sess.Policy, sess.PolicyARNs = in.Policy, in.PolicyARNs
	sess.Issued, sess.Expires = now.Unix(), now.Add(d).Unix()
	if len(sess.Tags) == 0 {
		sess.Tags = nil
	}
	payload, err := json.Marshal(sess)
	if err != nil {
		return AssumedRole{}, err
	}
	token := sessionTokenPrefix + base64.RawURLEncoding.EncodeToString(s.keys.Seal(payload, []byte(sess.KeyID)))
	s.recordRoleUse(ctx, role, in.Region)
	size := (len(in.Policy) + 200*len(in.PolicyARNs)) * 100 / maxSessionPolicy
	return AssumedRole{
		Credentials:      Credentials{AccessKeyID: sess.KeyID, SecretAccessKey: sess.Secret, SessionToken: token, Expiration: sess.ExpiresAt()},
		Principal:        sess.Principal(),
		PackedPolicySize: size,
	}, nil
}

// recordRoleUse notes when a role was last assumed (GetRole's
// RoleLastUsed), at most once a minute per role.
func (s *Service) recordRoleUse(ctx context.Context, role Role, region string) {
	now := s.now().UTC()
	if now.Sub(role.LastUsed) < time.Minute {
		return
	}
	err := s.update(ctx, func(tx metadata.Tx) error {
		r, err := loadEntity[Role](ctx, tx, accountOfARN(role.ARN), metadata.IAMRole, role.Name)
		if err != nil {
			return err
		}
		r.LastUsed, r.LastUsedRegion = now, region
		return saveEntity(ctx, tx, accountOfARN(r.ARN), metadata.IAMRole, r.Name, r, false)
	})
	if err != nil {
		s.log.Warn("recording a role's last use", "role", role.ARN, "err", err)
	}
}

// SessionError is why a session token was refused.
type SessionError struct {
	Expired bool
	Message string
}

func (e *SessionError) Error() string { return e.Message }

// VerifySession opens a session token presented with an access key ID
// and returns its session. Opened tokens are remembered until they
// expire, so that a client signing every request with the same token
// costs a map lookup.
func (s *Service) VerifySession(ctx context.Context, keyID, token string) (*Session, error) {
	if sess, ok := s.sessions.get(token); ok && sess.KeyID == keyID {
		if s.now().Unix() >= sess.Expires {
			return nil, &SessionError{Expired: true, Message: "The security token included in the request is expired"}
		}
		return sess, nil
	}
	invalid := &SessionError{Message: "The security token included in the request is invalid."}
	body, ok := strings.CutPrefix(token, sessionTokenPrefix)
	if !ok || len(token) > 16384 {
		return nil, invalid
	}
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, invalid
	}
	payload, err := s.keys.Open(sealed, []byte(keyID))
	if err != nil {
		return nil, invalid
	}
	sess := &Session{}
	if err := json.Unmarshal(payload, sess); err != nil || sess.KeyID != keyID {
		return nil, invalid
	}
	if s.now().Unix() >= sess.Expires {
		return nil, &SessionError{Expired: true, Message: "The security token included in the request is expired"}
	}
	if sess.Policy != "" {
		p, err := iampolicy.Parse(sess.Policy, iampolicy.Identity)
		if err != nil {
			return nil, invalid
		}
		sess.policies = append(sess.policies, iampolicy.Named{Name: "session policy", Policy: p})
	}
	for _, arn := range sess.PolicyARNs {
		n, ok := s.compiledManaged(ctx, arn)
		if !ok {
			n = iampolicy.Named{Name: arn, Policy: denyAll}
		}
		sess.policies = append(sess.policies, n)
	}
	sess.token = token
	s.sessions.put(token, sess)
	return sess, nil
}

// sessionCache remembers opened session tokens, bounded.
type sessionCache struct {
	m     sync.Map
	count atomic.Int64
}

func (c *sessionCache) get(token string) (*Session, bool) {
	v, ok := c.m.Load(token)
	if !ok {
		return nil, false
	}
	return v.(*Session), true
}

func (c *sessionCache) put(token string, sess *Session) {
	if c.count.Add(1) > maxCachedTokens {
		c.m.Clear()
		c.count.Store(1)
	}
	c.m.Store(token, sess)
}

// newSessionKeyID makes an ID shaped like AWS's temporary keys: ASIA and
// 16 characters of base32.
func newSessionKeyID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "ASIA" + base32.StdEncoding.EncodeToString(b)
}

// splitRoleARN reads arn:aws:iam::ACCOUNT:role/PATH/NAME.
func splitRoleARN(arn string) (account, name string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return "", "", false
	}
	account, res, ok := strings.Cut(rest, ":role/")
	if !ok || !accountRE.MatchString(account) || res == "" || strings.HasSuffix(res, "/") {
		return "", "", false
	}
	return account, res[strings.LastIndex(res, "/")+1:], true
}

// accountOfARN returns the account field of an ARN.
func accountOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// WebIdentityVerifier verifies OpenID Connect tokens against a registered
// provider; internal/webidentity's Verifier is the one ecrd uses.
type WebIdentityVerifier interface {
	Verify(ctx context.Context, p webidentity.Provider, token string) (*webidentity.Claims, error)
}

// SetWebIdentityVerifier sets the verifier AssumeRoleWithWebIdentity uses.
func (s *Service) SetWebIdentityVerifier(v WebIdentityVerifier) { s.webID = v }
