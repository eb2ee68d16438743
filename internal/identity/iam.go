package identity

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/awsmanaged"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// IAM's and STS's error codes: the Code of the *awserr.Error the service
// returns. The API adapters give each code its HTTP status.
const (
	CodeNoSuchEntity     = "NoSuchEntity"
	CodeEntityExists     = "EntityAlreadyExists"
	CodeDeleteConflict   = "DeleteConflict"
	CodeLimitExceeded    = "LimitExceeded"
	CodeMalformedPolicy  = "MalformedPolicyDocument"
	CodeInvalidInput     = "InvalidInput"
	CodeValidation       = "ValidationError"
	CodeAccessDenied     = "AccessDenied"
	CodeExpiredToken     = "ExpiredToken"
	CodeInvalidIdentity  = "InvalidIdentityToken"
	CodeIDPCommunication = "IDPCommunicationError"
	CodeInvalidParameter = "InvalidParameterValue"
	// CodeConcurrentModification answers a change whose user, role or
	// group kept changing while it was being made (see authorized.go).
	CodeConcurrentModification = "ConcurrentModification"
	// CodeInvalidMessage answers DecodeAuthorizationMessage for a message
	// this server did not encode for the caller's account.
	CodeInvalidMessage = "InvalidAuthorizationMessageException"
)

// Tag is a tag on an IAM entity.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// InlinePolicy is a policy embedded in one user or role.
type InlinePolicy struct {
	Name     string `json:"name"`
	Document string `json:"doc"`
}

// Grants are what an IAM user or role is given.
type Grants struct {
	Inline   []InlinePolicy `json:"inline,omitempty"`
	Attached []string       `json:"attached,omitempty"` // managed policy ARNs, in attachment order
	Boundary string         `json:"boundary,omitempty"` // the permissions boundary's policy ARN
}

// User is an IAM user: a person or tool with its own access keys.
type User struct {
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	ID        string    `json:"id"`
	ARN       string    `json:"arn"`
	CreatedAt time.Time `json:"created"`
	Tags      []Tag     `json:"tags,omitempty"`
	// Groups names the groups the user is a member of, in the order it
	// joined them. Membership lives on the user alone, so that computing
	// a user's permissions reads the user and its groups, and renaming a
	// user keeps its memberships.
	Groups []string `json:"groups,omitempty"`
	Grants
}

// Group is an IAM group: users that share its inline and attached
// policies (a group has no permissions boundary and no tags).
type Group struct {
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	ID        string    `json:"id"`
	ARN       string    `json:"arn"`
	CreatedAt time.Time `json:"created"`
	Grants
}

// KindGroup is the metadata kind IAM groups are stored under (the store
// keeps any kind the identity core defines), and a Grantee's Kind for a
// group.
const KindGroup = "group"

// Role is an IAM role, assumed through STS by those its trust policy
// names.
type Role struct {
	Name               string    `json:"name"`
	Path               string    `json:"path"`
	ID                 string    `json:"id"`
	ARN                string    `json:"arn"`
	Description        string    `json:"description,omitempty"`
	CreatedAt          time.Time `json:"created"`
	MaxSessionDuration int       `json:"maxSession"`
	TrustPolicy        string    `json:"trust"`
	Tags               []Tag     `json:"tags,omitempty"`
	LastUsed           time.Time `json:"lastUsed,omitzero"`
	LastUsedRegion     string    `json:"lastUsedRegion,omitempty"`
	Grants
}

// ManagedPolicy is a customer managed policy, or an AWS managed one
// (AWSManaged, read-only).
type ManagedPolicy struct {
	Name           string          `json:"name"`
	Path           string          `json:"path"`
	ID             string          `json:"id"`
	ARN            string          `json:"arn"`
	Description    string          `json:"description,omitempty"`
	CreatedAt      time.Time       `json:"created"`
	UpdatedAt      time.Time       `json:"updated"`
	DefaultVersion string          `json:"default"`
	Versions       []PolicyVersion `json:"versions"` // newest first
	NextVersion    int             `json:"next"`
	Attachments    int             `json:"attachments"`
	BoundaryUses   int             `json:"boundaryUses"`
	Tags           []Tag           `json:"tags,omitempty"`
	AWSManaged     bool            `json:"-"`
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID        string    `json:"id"`
	Document  string    `json:"doc"`
	CreatedAt time.Time `json:"created"`
}

// Version returns a version by ID.
func (p *ManagedPolicy) Version(id string) (PolicyVersion, bool) {
	for _, v := range p.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return PolicyVersion{}, false
}

// Document returns the default version's document.
func (p *ManagedPolicy) Document() string {
	v, _ := p.Version(p.DefaultVersion)
	return v.Document
}

// OIDCProvider is an OpenID Connect identity provider: web identity
// tokens it issues can assume roles that trust it.
type OIDCProvider struct {
	URL         string    `json:"url"` // without https://
	ARN         string    `json:"arn"`
	ClientIDs   []string  `json:"clientIDs"`
	Thumbprints []string  `json:"thumbprints"`
	CreatedAt   time.Time `json:"created"`
	Tags        []Tag     `json:"tags,omitempty"`
}

// IAM's quotas and input limits, from the IAM user guide's "IAM and AWS
// STS quotas" and the API reference.
const (
	maxManagedPerEntity   = 10    // PoliciesPerRole, PoliciesPerUser, PoliciesPerGroup
	maxGroupsPerUser      = 10    // GroupsPerUser
	maxPolicyVersions     = 5     // versions of one managed policy
	maxAccessKeysPerUser  = 2     // AccessKeysPerUser
	maxTags               = 50    // tags per entity
	maxRolePolicySize     = 10240 // RolePolicySize: all inline policies of a role
	maxUserPolicySize     = 2048  // UserPolicySize
	maxGroupPolicySize    = 5120  // GroupPolicySize
	maxManagedPolicySize  = 6144  // PolicySize
	maxTrustPolicySize    = 2048  // ACLSizePerRole
	maxDescription        = 1000
	defaultSessionSeconds = 3600
	minSessionSeconds     = 900
	maxSessionSeconds     = 43200
)

var (
	entityNameRE = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathRE       = regexp.MustCompile(`^(/|/[\x21-\x7e]+/)$`)
	tagKeyRE     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
)

// validName checks a user, role or policy name: IAM's pattern and length.
func validName(param, name string, max int) error {
	if len(name) < 1 || len(name) > max {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", name, param, max)
	}
	if !entityNameRE.MatchString(name) {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, param)
	}
	return nil
}

// cleanPath defaults an empty path to "/" and checks it.
func cleanPath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	if len(path) > 512 || !pathRE.MatchString(path) {
		return "", awserr.Errorf(CodeValidation, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return path, nil
}

func validTags(tags []Tag) error {
	if len(tags) > maxTags {
		return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for TagsPerRole: %d.", maxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 || !tagKeyRE.MatchString(t.Key) || len(t.Value) > 256 {
			return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'tags' failed to satisfy constraint: a tag key must be 1 to 128 characters of letters, digits, spaces and _.:/=+-@, and its value at most 256", t.Key)
		}
		if k := strings.ToLower(t.Key); seen[k] {
			return awserr.Errorf(CodeInvalidInput, "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		} else {
			seen[k] = true
		}
	}
	return nil
}

// mergeTags adds or replaces tags by key (case-insensitively, as IAM).
func mergeTags(have, add []Tag) []Tag {
	out := append([]Tag(nil), have...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].Key, t.Key) {
				out[i], replaced = t, true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}

func removeTags(have []Tag, keys []string) []Tag {
	var out []Tag
	for _, t := range have {
		drop := false
		for _, k := range keys {
			drop = drop || strings.EqualFold(t.Key, k)
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}

// parsePolicy compiles a policy document of a kind, answering IAM's
// MalformedPolicyDocument for a document IAM would refuse.
func parsePolicy(doc string, kind iampolicy.Kind) (*iampolicy.Policy, error) {
	p, err := iampolicy.Parse(doc, kind)
	var me *iampolicy.MalformedError
	if errors.As(err, &me) {
		return nil, awserr.Errorf(CodeMalformedPolicy, "%s", me.Message)
	}
	return p, err
}

// uniqueID makes an IAM unique ID: a prefix (AIDA users, AROA roles, AGPA
// groups, ANPA policies) and 17 characters of base32, as IAM's are 21 in all.
func uniqueID(prefix string) string {
	b := make([]byte, 11)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base32.StdEncoding.EncodeToString(b)[:17]
}

// arnOf makes an IAM ARN: arn:aws:iam::ACCOUNT:KIND PATH NAME.
func arnOf(account, kind, path, name string) string {
	return awsid.IAM(account, kind+path+name)
}

// loadEntity reads an entity's document into v, or answers NoSuchEntity
// with IAM's message for its kind.
func loadEntity[T any](ctx context.Context, r metadata.Reader, account, kind, name string) (T, error) {
	var v T
	e, err := r.IAMEntity(ctx, account, kind, name)
	if errors.Is(err, metadata.ErrNotFound) {
		return v, noSuchEntity(account, kind, name)
	}
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(e.Document, &v); err != nil {
		return v, fmt.Errorf("reading IAM %s %s: %w", kind, name, err)
	}
	return v, nil
}

func noSuchEntity(account, kind, name string) error {
	switch kind {
	case metadata.IAMUser:
		return awserr.Errorf(CodeNoSuchEntity, "The user with name %s cannot be found.", name)
	case metadata.IAMRole:
		return awserr.Errorf(CodeNoSuchEntity, "The role with name %s cannot be found.", name)
	case KindGroup:
		return awserr.Errorf(CodeNoSuchEntity, "The group with name %s cannot be found.", name)
	case metadata.IAMPolicy:
		return awserr.Errorf(CodeNoSuchEntity, "Policy %s was not found.", arnOf(account, "policy", "/", name))
	case metadata.IAMOIDCProvider:
		return awserr.Errorf(CodeNoSuchEntity, "OpenIDConnect provider not found for arn %s", arnOf(account, "oidc-provider/", "", name))
	}
	return awserr.Errorf(CodeNoSuchEntity, "%s %s cannot be found.", kind, name)
}

// listEntities reads every entity of a kind in an account.
func listEntities[T any](ctx context.Context, r metadata.Reader, account, kind string) ([]T, error) {
	es, err := r.IAMEntities(ctx, account, kind)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(es))
	for i, e := range es {
		if err := json.Unmarshal(e.Document, &out[i]); err != nil {
			return nil, fmt.Errorf("reading IAM %s %s: %w", kind, e.Name, err)
		}
	}
	return out, nil
}

// saveEntity writes an entity's document, creating it if create is set.
func saveEntity(ctx context.Context, tx metadata.Tx, account, kind, name string, v any, create bool) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e := metadata.IAMEntity{Account: account, Kind: kind, Name: name, Document: doc}
	if !create {
		return tx.UpdateIAMEntity(ctx, e)
	}
	err = tx.CreateIAMEntity(ctx, e)
	if errors.Is(err, metadata.ErrExists) {
		switch kind {
		case metadata.IAMUser:
			return awserr.Errorf(CodeEntityExists, "User with name %s already exists.", name)
		case metadata.IAMRole:
			return awserr.Errorf(CodeEntityExists, "Role with name %s already exists.", name)
		case KindGroup:
			return awserr.Errorf(CodeEntityExists, "Group with name %s already exists.", name)
		case metadata.IAMPolicy:
			return awserr.Errorf(CodeEntityExists, "A policy called %s already exists. Duplicate names are not allowed.", name)
		case metadata.IAMOIDCProvider:
			return awserr.Errorf(CodeEntityExists, "Provider with url https://%s already exists.", name)
		}
	}
	return err
}

// managedPolicy resolves a managed policy ARN: an AWS managed policy, or
// a customer managed one of the account the ARN names.
func managedPolicy(ctx context.Context, r metadata.Reader, arn string) (ManagedPolicy, error) {
	if p, ok := awsmanaged.Lookup(arn); ok {
		return awsManaged(p), nil
	}
	if strings.HasPrefix(arn, awsid.AWSManagedPolicyPrefix) {
		return ManagedPolicy{}, awserr.Errorf(CodeNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	}
	account, path, name, ok := splitPolicyARN(arn)
	if !ok {
		return ManagedPolicy{}, awserr.Errorf(CodeInvalidInput, "ARN %s is not valid.", arn)
	}
	p, err := loadEntity[ManagedPolicy](ctx, r, account, metadata.IAMPolicy, name)
	if err != nil {
		if isNoSuchEntity(err) {
			return p, awserr.Errorf(CodeNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
		}
		return p, err
	}
	if p.Path != path {
		return p, awserr.Errorf(CodeNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

func awsManaged(p awsmanaged.Policy) ManagedPolicy {
	return ManagedPolicy{
		Name: p.Name, Path: "/", ID: p.ID(), ARN: p.ARN(), Description: p.Description,
		CreatedAt: p.Updated, UpdatedAt: p.Updated, DefaultVersion: p.Version,
		Versions:   []PolicyVersion{{ID: p.Version, Document: p.Document, CreatedAt: p.Updated}},
		AWSManaged: true,
	}
}

// splitPolicyARN reads arn:aws:iam::ACCOUNT:policy/PATH/NAME.
func splitPolicyARN(arn string) (account, path, name string, ok bool) {
	a, ok := awsid.Parse(arn)
	if !ok || a.Partition != awsid.Partition || a.Service != "iam" || a.Region != "" {
		return "", "", "", false
	}
	res, ok := strings.CutPrefix(a.Resource, "policy/")
	if !ok || res == "" {
		return "", "", "", false
	}
	i := strings.LastIndex(res, "/")
	return a.AccountID, "/" + res[:i+1], res[i+1:], true
}
