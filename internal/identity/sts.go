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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/webidentity"
)

// Session is a role session that AssumeRole or AssumeRoleWithWebIdentity
// issued, or a session of a user or root of its own (GetSessionToken). It
// travels inside its session token, sealed under the server keyring, so
// that any replica holding the keyring verifies a request signed with it
// without a lookup.
type Session struct {
	KeyID      string            `json:"k"`
	Secret     string            `json:"s"`
	Account    string            `json:"a"`
	Role       string            `json:"r,omitempty"`  // the role's name
	RoleARN    string            `json:"ra,omitempty"` // with its path
	RoleID     string            `json:"ri,omitempty"` // AROA...
	Name       string            `json:"n,omitempty"`  // the session name
	Policy     string            `json:"p,omitempty"`
	PolicyARNs []string          `json:"pa,omitempty"`
	Tags       map[string]string `json:"t,omitempty"`
	// Transitive are the keys of Tags that pass on to the sessions this
	// one assumes (role chaining), lower-case.
	Transitive []string `json:"tt,omitempty"`
	// SourceIdentity is set once, by the session that starts a chain, and
	// carried by every session assumed from it (aws:SourceIdentity).
	SourceIdentity string `json:"si,omitempty"`
	// User, UserARN and UserID name the user of a GetSessionToken session;
	// Root marks one of an account's root. Role sessions have neither.
	User    string `json:"u,omitempty"`
	UserARN string `json:"ua,omitempty"`
	UserID  string `json:"ui,omitempty"`
	Root    bool   `json:"rt,omitempty"`
	Issued  int64  `json:"i"`
	Expires int64  `json:"e"`
	// WebIdentity records the token a web identity session came from,
	// for the audit trail.
	WebIdentity *WebIdentity `json:"w,omitempty"`

	policies []iampolicy.Named // Policy, compiled
	// managed are the session's policies with PolicyARNs compiled, as of
	// an IAM generation: a managed policy may change while the session
	// lasts.
	managed atomic.Pointer[sessionPolicies]
	token   string // the session token it was opened from
}

// sessionPolicies are a session's policies, compiled at a generation.
type sessionPolicies struct {
	policies   []iampolicy.Named
	generation int64
	loaded     time.Time
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

// FromGetSessionToken reports whether the session is a user's or root's
// own (GetSessionToken) rather than a role's.
func (s *Session) FromGetSessionToken() bool { return s.RoleARN == "" }

// Principal returns the principal the session acts as: the assumed role,
// or the user or root that asked for a session of its own.
func (s *Session) Principal() Principal {
	switch {
	case s.Root:
		p := Root(s.Account)
		p.Session = s
		return p
	case s.User != "":
		return Principal{Account: s.Account, ARN: s.UserARN, UserID: s.UserID, Type: TypeUser, Name: s.User, Session: s}
	}
	return Principal{
		Account: s.Account,
		ARN:     awsid.AssumedRole(s.Account, s.Role, s.Name),
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
	// TransitiveTagKeys are keys of Tags that pass on to chained sessions.
	TransitiveTagKeys []string
	ExternalID        string // sts:ExternalId, for a third party's role
	SourceIdentity    string // sts:SourceIdentity; immutable once a chain has one
	Region            string // where the call was made, for the role's last use
}

// Limits of AssumeRole's input, from the STS API reference.
const (
	maxSessionPolicy     = 2048
	maxSessionPolicyARNs = 10
	maxSessionTags       = 50
	roleChainingMax      = time.Hour
	// GetSessionToken: 15 minutes to 36 hours for users, 12 by default;
	// a root's sessions last an hour at most.
	maxUserSessionSeconds     = 129600
	defaultUserSessionSeconds = 43200
)

var (
	sessionNameRE    = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDRE     = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sourceIdentityRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// sessionTokenPrefix starts every session token, so that a token of
// another registry or format is refused before decryption.
const sessionTokenPrefix = "ecrd1"

// AssumeRole issues a session of a role to the context's principal, if
// the role's trust policy (and, where AWS requires it, the caller's
// identity policies) allow sts:AssumeRole, and sts:TagSession when it
// passes session tags, and sts:SetSourceIdentity when the session has a
// source identity. A session assuming a role (role chaining) passes on
// its transitive tags and its source identity.
func (s *Service) AssumeRole(ctx context.Context, in AssumeRoleInput) (AssumedRole, error) {
	caller, ok := FromContext(ctx)
	if !ok {
		return AssumedRole{}, awserr.Errorf(CodeAccessDenied, "AssumeRole requires signed credentials")
	}
	caller = caller.normalized()
	if err := checkSessionInput(ctx, s.meta, &in); err != nil {
		return AssumedRole{}, err
	}
	if err := checkDuration(in.Duration, maxSessionSeconds*time.Second); err != nil {
		return AssumedRole{}, err
	}
	chained := caller.Session != nil && !caller.Session.FromGetSessionToken()
	if chained && in.Duration > roleChainingMax {
		// Role chaining: at most an hour, as AWS.
		return AssumedRole{}, awserr.Errorf(CodeValidation, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	sess, err := chainedSession(caller, &in)
	if err != nil {
		return AssumedRole{}, err
	}
	account, _, _ := splitRoleARN(in.RoleARN)
	role, found, err := s.sessionRole(ctx, in.RoleARN)
	if err != nil {
		return AssumedRole{}, err
	}
	if !found {
		// The same answer as a trust policy that does not allow: AWS does
		// not tell a caller whether a role it may not assume exists.
		req := iampolicy.Request{Action: "sts:AssumeRole", Resource: in.RoleARN, ResourceAccount: account, Principal: noGrants.principal(caller)}
		return AssumedRole{}, s.stsDenial(iampolicy.Decision{Reason: iampolicy.NoResourceAllow}, req)
	}
	trust, err := parsePolicy(role.TrustPolicy, iampolicy.Trust)
	if err != nil {
		return AssumedRole{}, fmt.Errorf("the trust policy of role %s does not compile: %w", role.Name, err)
	}
	keys := func(set func(k, v string)) {
		set("sts:RoleSessionName", in.SessionName)
		for _, t := range in.Tags {
			set("aws:RequestTag/"+t.Key, t.Value)
			set("aws:TagKeys", t.Key)
		}
		for _, k := range in.TransitiveTagKeys {
			set("sts:TransitiveTagKeys", k)
		}
		if in.ExternalID != "" {
			set("sts:ExternalId", in.ExternalID)
		}
		if sess.SourceIdentity != "" {
			set("sts:SourceIdentity", sess.SourceIdentity)
		}
	}
	// sts:AssumeRole, then what the request adds to the session, each
	// decided by the trust policy (and the caller's identity policies).
	actions := []string{"sts:AssumeRole"}
	if len(in.Tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if sess.SourceIdentity != "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	for _, action := range actions {
		d, req, err := s.Authorize(ctx, Check{
			Action: action, Resource: role.ARN, ResourceAccount: accountOfARN(role.ARN),
			Policy: &iampolicy.Named{Name: "trust policy", Policy: trust}, Keys: keys,
		})
		if err != nil {
			return AssumedRole{}, err
		}
		if !d.Allowed {
			return AssumedRole{}, s.stsDenial(d, req)
		}
	}
	if !chained {
		if err := checkRoleDuration(in.Duration, role); err != nil {
			return AssumedRole{}, err
		}
	}
	return s.issueSession(ctx, role, in, sess)
}

// chainedSession starts the session AssumeRole issues: the request's
// tags and transitive keys, and what the calling session passes on (its
// transitive tags, which the request cannot change, and its source
// identity, which it cannot either).
func chainedSession(caller Principal, in *AssumeRoleInput) (*Session, error) {
	sess := &Session{Tags: map[string]string{}, SourceIdentity: in.SourceIdentity}
	requested := map[string]bool{}
	for _, t := range in.Tags {
		requested[strings.ToLower(t.Key)] = true
	}
	for _, k := range in.TransitiveTagKeys {
		if !requested[strings.ToLower(k)] {
			return nil, awserr.Errorf(CodeInvalidParameter, "The specified transitive tag key must be included in the requested tags.")
		}
	}
	if from := caller.Session; from != nil {
		for _, k := range from.Transitive {
			if requested[k] {
				return nil, awserr.Errorf(CodeInvalidParameter, "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.")
			}
			for tk, v := range from.Tags {
				if strings.EqualFold(tk, k) {
					sess.Tags[tk] = v
				}
			}
			sess.Transitive = append(sess.Transitive, k)
		}
		if from.SourceIdentity != "" {
			if in.SourceIdentity != "" && in.SourceIdentity != from.SourceIdentity {
				return nil, awserr.Errorf(CodeInvalidParameter, "The source identity %s of the calling session cannot be changed to %s: a source identity is set once, for the whole role chain.", from.SourceIdentity, in.SourceIdentity)
			}
			sess.SourceIdentity = from.SourceIdentity
		}
	}
	for _, t := range in.Tags {
		sess.Tags[t.Key] = t.Value
	}
	for _, k := range in.TransitiveTagKeys {
		if k = strings.ToLower(k); !slices.Contains(sess.Transitive, k) {
			sess.Transitive = append(sess.Transitive, k)
		}
	}
	return sess, nil
}

// stsDenial is STS's AccessDenied for a role it will not give: AWS's
// words name the caller, the action and the role, and not why (nor
// whether the role exists), with the encoded explanation.
func (s *Service) stsDenial(d iampolicy.Decision, req iampolicy.Request) error {
	who := req.Principal.ARN
	if who == "" {
		who = "anonymous"
	}
	msg := "User: " + who + " is not authorized to perform: " + req.Action + " on resource: " + req.Resource
	return awserr.Errorf(CodeAccessDenied, "%s", s.withEncoded(msg, d, req))
}

// AssumeRoleWithWebIdentity issues a role session for an OpenID Connect
// token: the token must verify against an OIDC provider registered in the
// role's account, and the role's trust policy must allow its claims. The
// token is checked before the role is looked at, so that a caller without
// a valid token learns nothing about the account's roles.
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, in AssumeRoleInput, token string) (AssumedRole, *webidentity.Claims, error) {
	if err := checkSessionInput(ctx, s.meta, &in); err != nil {
		return AssumedRole{}, nil, err
	}
	if err := checkDuration(in.Duration, maxSessionSeconds*time.Second); err != nil {
		return AssumedRole{}, nil, err
	}
	if len(token) < 4 || len(token) > 20000 {
		return AssumedRole{}, nil, awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000")
	}
	iss, err := webidentity.Issuer(token)
	if err != nil {
		return AssumedRole{}, nil, webError(err)
	}
	account, _, _ := splitRoleARN(in.RoleARN)
	url := webidentity.ProviderURL(iss)
	prov, err := loadEntity[OIDCProvider](ctx, s.meta, account, metadata.IAMOIDCProvider, url)
	if err != nil {
		if isNoSuchEntity(err) {
			return AssumedRole{}, nil, awserr.Errorf(CodeInvalidIdentity, "No OpenIDConnect provider found in your account for %s", iss)
		}
		return AssumedRole{}, nil, err
	}
	if s.webID == nil {
		return AssumedRole{}, nil, awserr.Errorf(CodeIDPCommunication, "this registry has no web identity verifier configured")
	}
	claims, err := s.webID.Verify(ctx, webidentity.Provider{URL: prov.URL, ClientIDs: prov.ClientIDs, Thumbprints: prov.Thumbprints}, token)
	if err != nil {
		return AssumedRole{}, nil, webError(err)
	}
	denied := awserr.Errorf(CodeAccessDenied, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	role, found, err := s.sessionRole(ctx, in.RoleARN)
	if err != nil {
		return AssumedRole{}, nil, err
	}
	if !found {
		return AssumedRole{}, nil, denied
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
		return AssumedRole{}, nil, denied
	}
	if err := checkRoleDuration(in.Duration, role); err != nil {
		return AssumedRole{}, nil, err
	}
	sess := &Session{WebIdentity: &WebIdentity{Provider: prov.ARN, Issuer: claims.Issuer, Subject: claims.Subject, Audience: claims.Audience}}
	out, err := s.issueSession(ctx, role, in, sess)
	return out, claims, err
}

// webError turns a web identity verification failure into STS's error.
func webError(err error) error {
	var we *webidentity.Error
	if errors.As(err, &we) {
		return &awserr.Error{Code: we.Code, Message: we.Message}
	}
	return err
}

// checkSessionInput validates what the AssumeRole calls share, before
// anything is looked up.
func checkSessionInput(ctx context.Context, r metadata.Reader, in *AssumeRoleInput) error {
	if !sessionNameRE.MatchString(in.SessionName) {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", in.SessionName)
	}
	if len(in.Policy) > maxSessionPolicy {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionPolicy)
	}
	if len(in.PolicyARNs) > maxSessionPolicyARNs {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionPolicyARNs)
	}
	if in.ExternalID != "" && (len(in.ExternalID) < 2 || len(in.ExternalID) > 1224 || !externalIDRE.MatchString(in.ExternalID)) {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:\\/-]*", in.ExternalID)
	}
	if in.SourceIdentity != "" && !sourceIdentityRE.MatchString(in.SourceIdentity) {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", in.SourceIdentity)
	}
	if len(in.Tags) > maxSessionTags {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionTags)
	}
	if len(in.TransitiveTagKeys) > maxSessionTags {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionTags)
	}
	if err := validTags(in.Tags); err != nil {
		return err
	}
	if in.Policy != "" {
		if _, err := parsePolicy(in.Policy, iampolicy.Identity); err != nil {
			return err
		}
	}
	for _, arn := range in.PolicyARNs {
		if _, err := managedPolicy(ctx, r, arn); err != nil {
			return err
		}
	}
	if _, _, ok := splitRoleARN(in.RoleARN); !ok {
		return awserr.Errorf(CodeValidation, "%s is invalid: give a role ARN, arn:aws:iam::ACCOUNT:role/NAME", in.RoleARN)
	}
	return nil
}

// sessionRole loads the role a role ARN names; found is false when there
// is none (with that path).
func (s *Service) sessionRole(ctx context.Context, arn string) (Role, bool, error) {
	account, name, _ := splitRoleARN(arn)
	role, err := loadEntity[Role](ctx, s.meta, account, metadata.IAMRole, name)
	if isNoSuchEntity(err) {
		return Role{}, false, nil
	}
	if err != nil {
		return Role{}, false, err
	}
	return role, role.ARN == arn, nil
}

// checkDuration checks DurationSeconds against the API's bounds (0 is
// the default, an hour).
func checkDuration(d, max time.Duration) error {
	if d == 0 {
		return nil
	}
	if d < minSessionSeconds*time.Second {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", int(d.Seconds()), minSessionSeconds)
	}
	if d > max {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", int(d.Seconds()), int(max.Seconds()))
	}
	return nil
}

// checkRoleDuration checks DurationSeconds against the role's limit.
func checkRoleDuration(d time.Duration, role Role) error {
	if d > time.Duration(role.MaxSessionDuration)*time.Second {
		return awserr.Errorf(CodeValidation, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return nil
}

// issueSession makes a role session's credentials and seals its token.
func (s *Service) issueSession(ctx context.Context, role Role, in AssumeRoleInput, sess *Session) (AssumedRole, error) {
	d := in.Duration
	if d == 0 {
		d = defaultSessionSeconds * time.Second
	}
	sess.Account = accountOfARN(role.ARN)
	sess.Role, sess.RoleARN, sess.RoleID, sess.Name = role.Name, role.ARN, role.ID, in.SessionName
	sess.Policy, sess.PolicyARNs = in.Policy, in.PolicyARNs
	if len(sess.Tags) == 0 {
		sess.Tags = nil
	}
	creds, err := s.sealSession(sess, d)
	if err != nil {
		return AssumedRole{}, err
	}
	s.recordRoleUse(ctx, role, in.Region)
	size := (len(in.Policy) + 200*len(in.PolicyARNs)) * 100 / maxSessionPolicy
	return AssumedRole{Credentials: creds, Principal: sess.Principal(), PackedPolicySize: size}, nil
}

// sealSession gives a session its key and secret, makes it last d, and
// seals it into its session token.
func (s *Service) sealSession(sess *Session, d time.Duration) (Credentials, error) {
	now := s.now()
	sess.KeyID = newSessionKeyID()
	sess.Secret = newSecret()
	sess.Issued, sess.Expires = now.Unix(), now.Add(d).Unix()
	payload, err := json.Marshal(sess)
	if err != nil {
		return Credentials{}, err
	}
	token := sessionTokenPrefix + base64.RawURLEncoding.EncodeToString(s.keys.Seal(payload, []byte(sess.KeyID)))
	sess.token = token // what a registry token issued to the session carries
	return Credentials{AccessKeyID: sess.KeyID, SecretAccessKey: sess.Secret, SessionToken: token, Expiration: sess.ExpiresAt()}, nil
}

// GetSessionToken issues temporary credentials of the calling user or
// root itself, with its permissions (the session adds no policy).
// duration 0 is the default: 12 hours for a user, one for the root,
// whose sessions last an hour at most, as on AWS. ecrd has no MFA
// devices, so a serial number never validates. Like AWS, such a session
// may not call IAM (ecrd has no MFA to allow it), nor STS other than
// AssumeRole and GetCallerIdentity; the adapters enforce that.
func (s *Service) GetSessionToken(ctx context.Context, duration time.Duration, serialNumber string) (Credentials, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Credentials{}, awserr.Errorf(CodeAccessDenied, "GetSessionToken requires signed credentials")
	}
	p = p.normalized()
	if p.Session != nil {
		return Credentials{}, awserr.Errorf(CodeAccessDenied, "Cannot call GetSessionToken with session credentials")
	}
	if err := checkDuration(duration, maxUserSessionSeconds*time.Second); err != nil {
		return Credentials{}, err
	}
	if serialNumber != "" {
		return Credentials{}, awserr.Errorf(CodeAccessDenied, "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.")
	}
	sess := &Session{Account: p.Account}
	switch p.Type {
	case TypeRoot:
		sess.Root = true
		if duration == 0 || duration > time.Hour {
			duration = time.Hour
		}
	case TypeUser:
		sess.User, sess.UserARN, sess.UserID = p.Name, p.ARN, p.UserID
		if duration == 0 {
			duration = defaultUserSessionSeconds * time.Second
		}
	default:
		return Credentials{}, awserr.Errorf(CodeAccessDenied, "Cannot call GetSessionToken with session credentials")
	}
	return s.sealSession(sess, duration)
}

// recordRoleUse notes when a role was last assumed (GetRole's
// RoleLastUsed), at most once a minute per role.
func (s *Service) recordRoleUse(ctx context.Context, role Role, region string) {
	now := s.now().UTC()
	if now.Sub(role.LastUsed) < time.Minute {
		return
	}
	// Bookkeeping, not a change anyone follows: nothing is recorded.
	err := s.meta.Update(ctx, func(tx metadata.Tx) error {
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
	// Gone means the session's role (or user) was deleted, perhaps
	// created again since: the session is another principal's.
	Gone    bool
	Message string
}

func (e *SessionError) Error() string { return e.Message }

// errInvalidToken is AWS's answer for a session token it cannot use.
const errInvalidToken = "The security token included in the request is invalid."

// VerifySession opens a session token presented with an access key ID
// and returns its session, if its role (or user) is still the one it was
// issued for: a session of a role deleted since, even if one of the same
// name exists now, is refused as an invalid token. Opened tokens are
// remembered until they expire, so that a client signing every request
// with the same token costs a map lookup (and the check of its role a
// lookup in the cache of its grants).
func (s *Service) VerifySession(ctx context.Context, keyID, token string) (*Session, error) {
	sess, err := s.openSession(ctx, keyID, token)
	if err != nil {
		return nil, err
	}
	if ok, err := s.current(ctx, sess.Principal()); err != nil {
		return nil, err
	} else if !ok {
		return nil, &SessionError{Gone: true, Message: errInvalidToken}
	}
	return sess, nil
}

// openSession opens a session token, without checking its principal.
func (s *Service) openSession(ctx context.Context, keyID, token string) (*Session, error) {
	if sess, ok := s.sessions.get(token); ok && sess.KeyID == keyID {
		if s.now().Unix() >= sess.Expires {
			return nil, &SessionError{Expired: true, Message: "The security token included in the request is expired"}
		}
		return sess, nil
	}
	invalid := &SessionError{Message: errInvalidToken}
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
	sess.token = token
	s.sessions.put(token, sess)
	return sess, nil
}

// sessionPolicies returns a session's policies: its inline policy, and
// its managed policies' current default versions, compiled again after
// an IAM change (Changed) or cacheTTL.
func (s *Service) sessionPolicies(ctx context.Context, sess *Session) []iampolicy.Named {
	if len(sess.PolicyARNs) == 0 || s == nil {
		return sess.policies
	}
	gen := s.generation.Load()
	if c := sess.managed.Load(); c != nil && c.generation == gen && time.Since(c.loaded) < cacheTTL {
		return c.policies
	}
	out := slices.Clip(sess.policies)
	for _, arn := range sess.PolicyARNs {
		n, ok := s.compiledManaged(ctx, arn)
		if !ok {
			n = iampolicy.Named{Name: arn, Policy: denyAll} // allows nothing, rather than everything
		}
		out = append(out, n)
	}
	sess.managed.Store(&sessionPolicies{policies: out, generation: gen, loaded: time.Now()})
	return out
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

// current reports whether the user or role a principal acts as is still
// the one its credentials were issued to: its unique ID is the same (a
// principal deleted and created again under its name has another). The
// root never changes. It reads the grants cache, which Authorize reads
// next anyway.
func (s *Service) current(ctx context.Context, p Principal) (bool, error) {
	if s == nil {
		return true, nil
	}
	p = p.normalized()
	var want string
	switch p.Type {
	case TypeUser:
		want = p.UserID
	case TypeAssumedRole:
		want, _, _ = strings.Cut(p.UserID, ":")
		if p.Session != nil {
			want = p.Session.RoleID
		}
	default:
		return true, nil
	}
	g, err := s.grantsOf(ctx, p)
	if err != nil {
		return false, err
	}
	return g.id != "" && g.id == want, nil
}

// splitRoleARN reads arn:aws:iam::ACCOUNT:role/PATH/NAME.
func splitRoleARN(arn string) (account, name string, ok bool) {
	a, ok := awsid.Parse(arn)
	if !ok || a.Partition != awsid.Partition || a.Service != "iam" || a.Region != "" {
		return "", "", false
	}
	res, ok := strings.CutPrefix(a.Resource, "role/")
	if !ok || res == "" || strings.HasSuffix(res, "/") {
		return "", "", false
	}
	return a.AccountID, res[strings.LastIndex(res, "/")+1:], true
}

// accountOfARN returns the account of an ARN, or "" if it names none.
func accountOfARN(arn string) string {
	a, _ := awsid.Parse(arn)
	return a.AccountID
}

// WebIdentityVerifier verifies OpenID Connect tokens against a registered
// provider; internal/webidentity's Verifier is the one ecrd uses.
type WebIdentityVerifier interface {
	Verify(ctx context.Context, p webidentity.Provider, token string) (*webidentity.Claims, error)
}

// SetWebIdentityVerifier sets the verifier AssumeRoleWithWebIdentity uses.
func (s *Service) SetWebIdentityVerifier(v WebIdentityVerifier) { s.webID = v }
