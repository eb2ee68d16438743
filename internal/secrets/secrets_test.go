package secrets

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/identity/identitytest"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
)

var (
	bg    = context.Background()
	scope = Scope{Account: acct, Region: region}
)

// guarded fails the test when asked inside a transaction.
type guarded struct {
	Authorizer
	tb testing.TB
}

func (g guarded) Authorize(ctx context.Context, c identity.Check) (iampolicy.Decision, iampolicy.Request, error) {
	metadatatest.OutsideTx(g.tb, "Authorize")
	return g.Authorizer.Authorize(ctx, c)
}

// newService is the service over a SQLite store whose write transactions
// each run twice, with a real KMS; and the account root's context.
func newService(t *testing.T) (*Service, *kms.Service, metadata.Store, context.Context) {
	t.Helper()
	meta, keys, log := identitytest.Store(t, ""), testutil.Keyring(t), identitytest.Logger(t)
	ids := identity.New(meta, keys, log)
	if _, err := ids.EnsureAccount(bg, acct); err != nil {
		t.Fatal(err)
	}
	k := kms.New(meta, keys, ids, log)
	return New(meta, k, guarded{ids, t}, log), k, meta, identity.NewContext(bg, identity.Root(acct))
}

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, what string, err error, code, message string) {
	t.Helper()
	if awserr.Code(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	if message != "" && err.(*awserr.Error).Message != message {
		t.Errorf("%s: message %q, want %q", what, err.(*awserr.Error).Message, message)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func token(c byte) *string { return ptr(strings.Repeat(string(c), 32)) }

// TestVersionsAndStages creates a secret, adds versions, and reads them
// by ID and label; AWSCURRENT moves and leaves AWSPREVIOUS behind. The
// stored document and the outbox hold no value.
func TestVersionsAndStages(t *testing.T) {
	s, _, meta, ctx := newService(t)
	w := must[Written](t, "CreateSecret")(s.CreateSecret(ctx, scope, CreateInput{Name: "ecr-pullthroughcache/Upstream", Token: token('a'),
		Description: ptr("creds"), Value: Value{String: ptr("first-value")}, Tags: []Tag{{"team", "a"}}}))
	if !strings.HasPrefix(w.ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/Upstream-") || len(w.ARN) != len("arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/Upstream-")+6 {
		t.Errorf("ARN %s", w.ARN)
	}
	if w.VersionID != *token('a') {
		t.Errorf("version %s", w.VersionID)
	}
	// A retry with the same token and value answers the same secret.
	again := must[Written](t, "CreateSecret again")(s.CreateSecret(ctx, scope, CreateInput{Name: "ecr-pullthroughcache/Upstream", Token: token('a'), Value: Value{String: ptr("first-value")}}))
	if again.ARN != w.ARN {
		t.Errorf("retry answered %s", again.ARN)
	}
	_, err := s.CreateSecret(ctx, scope, CreateInput{Name: "ecr-pullthroughcache/Upstream", Token: token('a'), Value: Value{String: ptr("other")}})
	wantCode(t, "same token, other value", err, CodeExists, "You can't modify an existing version, you can only create a new version.")
	_, err = s.CreateSecret(ctx, scope, CreateInput{Name: "ecr-pullthroughcache/Upstream", Value: Value{String: ptr("x")}})
	wantCode(t, "existing name", err, CodeExists, "The operation failed because the secret ecr-pullthroughcache/Upstream already exists.")
	// Names are case-sensitive.
	must[Written](t, "CreateSecret lower")(s.CreateSecret(ctx, scope, CreateInput{Name: "ecr-pullthroughcache/upstream"}))
	// The first version of a secret made without a value is current
	// whatever labels it is given.
	if w := must[Written](t, "PutSecretValue first")(s.PutSecretValue(ctx, scope, PutValueInput{SecretID: "ecr-pullthroughcache/upstream", Value: Value{String: ptr("lower-value")}, Stages: []string{"MINE"}})); !slices.Equal(w.Stages, []string{"MINE", StageCurrent}) {
		t.Errorf("the first version's labels: %v", w.Stages)
	}

	p := must[Written](t, "PutSecretValue")(s.PutSecretValue(ctx, scope, PutValueInput{SecretID: w.ARN, Token: token('b'), Value: Value{String: ptr("second-value")}}))
	if !slices.Equal(p.Stages, []string{StageCurrent}) {
		t.Errorf("stages %v", p.Stages)
	}
	must[Written](t, "PutSecretValue binary")(s.PutSecretValue(ctx, scope, PutValueInput{SecretID: "ecr-pullthroughcache/Upstream", Token: token('c'), Value: Value{Binary: []byte{0, 1, 2}}, Stages: []string{"PENDING"}}))

	cur := must[SecretValue](t, "GetSecretValue")(s.GetSecretValue(ctx, scope, GetValueInput{SecretID: "ecr-pullthroughcache/Upstream"}))
	if deref(cur.String) != "second-value" || cur.VersionID != *token('b') {
		t.Errorf("current %q %s", deref(cur.String), cur.VersionID)
	}
	prev := must[SecretValue](t, "GetSecretValue previous")(s.GetSecretValue(ctx, scope, GetValueInput{SecretID: w.ARN, VersionStage: ptr(StagePrevious)}))
	if deref(prev.String) != "first-value" {
		t.Errorf("previous %q", deref(prev.String))
	}
	pend := must[SecretValue](t, "GetSecretValue by ID")(s.GetSecretValue(ctx, scope, GetValueInput{SecretID: w.ARN, VersionID: token('c')}))
	if !bytes.Equal(pend.Binary, []byte{0, 1, 2}) || pend.String != nil || !slices.Equal(pend.Stages, []string{"PENDING"}) {
		t.Errorf("binary %v %v", pend.Binary, pend.Stages)
	}
	_, err = s.GetSecretValue(ctx, scope, GetValueInput{SecretID: w.ARN, VersionStage: ptr("NONE")})
	wantCode(t, "no such label", err, CodeNotFound, "Secrets Manager can't find the specified secret value for staging label: NONE")

	// Moving AWSCURRENT to the pending version.
	_, err = s.UpdateSecretVersionStage(ctx, scope, UpdateStageInput{SecretID: w.ARN, Stage: StageCurrent, MoveToVersionID: token('c')})
	wantCode(t, "move without RemoveFromVersionId", err, CodeInvalidParameter, "")
	must[Written](t, "UpdateSecretVersionStage")(s.UpdateSecretVersionStage(ctx, scope, UpdateStageInput{SecretID: w.ARN, Stage: StageCurrent, MoveToVersionID: token('c'), RemoveFromVersionID: token('b')}))
	_, err = s.UpdateSecretVersionStage(ctx, scope, UpdateStageInput{SecretID: w.ARN, Stage: StageCurrent, RemoveFromVersionID: token('c')})
	wantCode(t, "remove AWSCURRENT", err, CodeInvalidParameter, "You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.")
	sec := must[*Secret](t, "DescribeSecret")(s.DescribeSecret(ctx, scope, w.ARN))
	stages := map[string][]string{}
	for _, v := range sec.Versions {
		stages[v.ID[:1]] = v.Stages
	}
	if !slices.Equal(stages["c"], []string{"PENDING", StageCurrent}) || !slices.Equal(stages["b"], []string{StagePrevious}) || len(stages["a"]) != 0 {
		t.Errorf("stages after the move: %v", stages)
	}
	page := must[VersionsPage](t, "ListSecretVersionIds")(s.ListSecretVersionIds(ctx, scope, w.ARN, false, ptr(1), nil))
	if len(page.Versions) != 1 || page.Next == "" {
		t.Fatalf("first page %+v", page)
	}
	page = must[VersionsPage](t, "ListSecretVersionIds 2")(s.ListSecretVersionIds(ctx, scope, w.ARN, false, ptr(5), &page.Next))
	if len(page.Versions) != 1 {
		t.Errorf("second page: %d versions (the unlabelled one is left out)", len(page.Versions))
	}

	es, err := meta.IAMEntities(bg, acct, metadata.Secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if bytes.Contains(e.Document, []byte("first-value")) || bytes.Contains(e.Document, []byte("second-value")) || bytes.Contains(e.Document, []byte("lower-value")) {
			t.Errorf("the stored document holds a value: %s", e.Document)
		}
	}
	evs, err := meta.Events(bg, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Source == outbox.SourceSecretsManager {
			n++
			if bytes.Contains(e.Document, []byte("-value")) {
				t.Errorf("a record holds a value: %s", e.Document)
			}
		}
	}
	if n != 6 {
		t.Errorf("%d Secrets Manager records, want 6 (two creates, three puts, one stage move)", n)
	}
}

// TestDeletion schedules a deletion, which refuses reads, restores,
// forces a deletion and makes the name again.
func TestDeletion(t *testing.T) {
	s, _, _, ctx := newService(t)
	w := must[Written](t, "CreateSecret")(s.CreateSecret(ctx, scope, CreateInput{Name: "db", Value: Value{String: ptr("v")}}))
	_, err := s.DeleteSecret(ctx, scope, "db", ptr[int64](6), nil)
	wantCode(t, "window 6", err, CodeInvalidParameter, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	_, err = s.DeleteSecret(ctx, scope, "db", ptr[int64](7), ptr(true))
	wantCode(t, "window and force", err, CodeInvalidParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	d := must[Deleted](t, "DeleteSecret")(s.DeleteSecret(ctx, scope, "db", nil, nil))
	if got := time.Until(d.Date); got < 29*24*time.Hour || got > 31*24*time.Hour {
		t.Errorf("deletion date in %v", got)
	}
	_, err = s.GetSecretValue(ctx, scope, GetValueInput{SecretID: "db"})
	wantCode(t, "read of a deleted secret", err, CodeInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
	if sec := must[*Secret](t, "DescribeSecret")(s.DescribeSecret(ctx, scope, "db")); sec.Deleted == nil {
		t.Error("DescribeSecret: no DeletedDate")
	}
	if _, err := s.ValueForService(bg, acct, w.ARN); !errors.Is(err, ErrSecretAccess) {
		t.Errorf("ValueForService of a deleted secret: %v", err)
	}
	_, err = s.CreateSecret(ctx, scope, CreateInput{Name: "db"})
	wantCode(t, "create over a scheduled deletion", err, CodeInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
	must[Written](t, "RestoreSecret")(s.RestoreSecret(ctx, scope, "db"))
	if v := must[SecretValue](t, "GetSecretValue")(s.GetSecretValue(ctx, scope, GetValueInput{SecretID: "db"})); deref(v.String) != "v" {
		t.Errorf("restored value %q", deref(v.String))
	}
	must[Deleted](t, "DeleteSecret force")(s.DeleteSecret(ctx, scope, w.ARN, nil, ptr(true)))
	_, err = s.DescribeSecret(ctx, scope, "db")
	wantCode(t, "describe after force", err, CodeNotFound, "Secrets Manager can't find the specified secret.")
	w2 := must[Written](t, "CreateSecret again")(s.CreateSecret(ctx, scope, CreateInput{Name: "db"}))
	if w2.ARN == w.ARN {
		t.Error("a secret made again has the old ARN")
	}
	_, err = s.DescribeSecret(ctx, scope, w.ARN)
	wantCode(t, "the old ARN", err, CodeNotFound, "")

	// A deletion whose date has passed leaves no secret.
	must[Deleted](t, "DeleteSecret")(s.DeleteSecret(ctx, scope, "db", ptr[int64](7), nil))
	s.now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	_, err = s.DescribeSecret(ctx, scope, "db")
	wantCode(t, "describe after the window", err, CodeNotFound, "")
	must[Written](t, "CreateSecret after the window")(s.CreateSecret(ctx, scope, CreateInput{Name: "db"}))
}

// TestValueForService reads a credential secret as ECR does, and its
// errors.
func TestValueForService(t *testing.T) {
	s, k, _, ctx := newService(t)
	w := must[Written](t, "CreateSecret")(s.CreateSecret(ctx, scope, CreateInput{Name: "ecr-pullthroughcache/hub", Value: Value{String: ptr(`{"username":"u","accessToken":"t"}`)}}))
	v, err := s.ValueForService(bg, acct, w.ARN)
	if err != nil || v != `{"username":"u","accessToken":"t"}` {
		t.Fatalf("ValueForService: %q %v", v, err)
	}
	if _, err := s.ValueForService(bg, acct, w.ARN+"x"); !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("unknown ARN: %v", err)
	}
	if _, err := s.ValueForService(bg, "210987654321", w.ARN); !errors.Is(err, ErrSecretAccess) {
		t.Errorf("another account: %v", err)
	}
	empty := must[Written](t, "CreateSecret empty")(s.CreateSecret(ctx, scope, CreateInput{Name: "empty"}))
	if _, err := s.ValueForService(bg, acct, empty.ARN); !errors.Is(err, ErrSecretAccess) {
		t.Errorf("no value: %v", err)
	}
	// A customer key, disabled: the value no longer decrypts.
	key := must[kms.Key](t, "CreateKey")(k.CreateKey(ctx, scope, kms.CreateKeyInput{}))
	c := must[Written](t, "CreateSecret with key")(s.CreateSecret(ctx, scope, CreateInput{Name: "keyed", KmsKeyID: ptr(key.ARN), Value: Value{String: ptr("v")}}))
	if v, err := s.ValueForService(bg, acct, c.ARN); err != nil || v != "v" {
		t.Fatalf("with a customer key: %q %v", v, err)
	}
	if err := k.DisableKey(ctx, scope, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ValueForService(bg, acct, c.ARN); !errors.Is(err, ErrSecretDecrypt) {
		t.Errorf("disabled key: %v", err)
	}
	_, err = s.GetSecretValue(ctx, scope, GetValueInput{SecretID: "keyed"})
	wantCode(t, "GetSecretValue with the key disabled", err, CodeDecryptionFailure, "")
	_, err = s.PutSecretValue(ctx, scope, PutValueInput{SecretID: "keyed", Value: Value{String: ptr("w")}})
	wantCode(t, "PutSecretValue with the key disabled", err, CodeEncryptionFailure, "")
}

// TestValidation checks requests Secrets Manager refuses.
func TestValidation(t *testing.T) {
	s, _, _, ctx := newService(t)
	_, err := s.CreateSecret(ctx, scope, CreateInput{Name: "bad name"})
	wantCode(t, "name with a space", err, CodeInvalidParameter, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	_, err = s.CreateSecret(ctx, scope, CreateInput{Name: "both", Value: Value{String: ptr("a"), Binary: []byte("b")}})
	wantCode(t, "both values", err, CodeInvalidParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	_, err = s.CreateSecret(ctx, scope, CreateInput{Name: "tok", Token: ptr("short")})
	wantCode(t, "short token", err, CodeValidation, "")
	_, err = s.GetSecretValue(ctx, scope, GetValueInput{SecretID: "nothing"})
	wantCode(t, "no secret", err, CodeNotFound, "Secrets Manager can't find the specified secret.")
	must[Written](t, "CreateSecret")(s.CreateSecret(ctx, scope, CreateInput{Name: "p"}))
	_, err = s.GetSecretValue(ctx, scope, GetValueInput{SecretID: "p"})
	wantCode(t, "no value", err, CodeNotFound, "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
	_, err = s.PutResourcePolicy(ctx, scope, "p", `{"Version":"2012-10-17"`, nil)
	wantCode(t, "bad JSON policy", err, CodeMalformedPolicy, "")
	_, err = s.PutResourcePolicy(ctx, scope, "p", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`, nil)
	wantCode(t, "public policy", err, CodePublicPolicy, "")
	_, _, err = s.ListSecrets(ctx, scope, ListInput{Filters: []Filter{{Key: "colour", Values: []string{"x"}}}})
	wantCode(t, "unknown filter", err, CodeValidation, "")
}

// TestListSecrets pages and filters.
func TestListSecrets(t *testing.T) {
	s, _, _, ctx := newService(t)
	for _, n := range []string{"a/one", "a/two", "b/three"} {
		must[Written](t, "CreateSecret")(s.CreateSecret(ctx, scope, CreateInput{Name: n, Tags: []Tag{{"env", n[:1]}}}))
	}
	must[Deleted](t, "DeleteSecret")(s.DeleteSecret(ctx, scope, "a/two", nil, nil))
	var names []string
	var tok *string
	for {
		list, next, err := s.ListSecrets(ctx, scope, ListInput{MaxResults: ptr(1), NextToken: tok, SortOrder: "asc", IncludePlannedDeletion: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range list {
			names = append(names, sec.Name)
		}
		if next == "" {
			break
		}
		tok = &next
	}
	if !slices.Equal(names, []string{"a/one", "a/two", "b/three"}) {
		t.Errorf("pages: %v", names)
	}
	list := must[[]*Secret](t, "ListSecrets filtered")(func() ([]*Secret, error) {
		l, _, err := s.ListSecrets(ctx, scope, ListInput{Filters: []Filter{{Key: "name", Values: []string{"a/"}}}})
		return l, err
	}())
	if len(list) != 1 || list[0].Name != "a/one" {
		t.Errorf("name a/ without planned deletions: %d", len(list))
	}
	list = must[[]*Secret](t, "ListSecrets tag")(func() ([]*Secret, error) {
		l, _, err := s.ListSecrets(ctx, scope, ListInput{Filters: []Filter{{Key: "tag-value", Values: []string{"!a"}}}})
		return l, err
	}())
	if len(list) != 1 || list[0].Name != "b/three" {
		t.Errorf("tag-value !a: %d", len(list))
	}
}

// TestVersionLimit keeps at most 100 versions: unlabelled ones go first,
// and when every version has a label a new one is LimitExceededException.
func TestVersionLimit(t *testing.T) {
	s, _, _, ctx := newService(t)
	must[Written](t, "CreateSecret")(s.CreateSecret(ctx, scope, CreateInput{Name: "many", Value: Value{String: ptr("v")}}))
	for i := 1; i < maxVersions; i++ {
		must[Written](t, "PutSecretValue")(s.PutSecretValue(ctx, scope, PutValueInput{SecretID: "many", Value: Value{String: ptr("v")}, Stages: []string{"L" + itoa(i)}}))
	}
	_, err := s.PutSecretValue(ctx, scope, PutValueInput{SecretID: "many", Value: Value{String: ptr("v")}, Stages: []string{"ONE-TOO-MANY"}})
	wantCode(t, "the 101st labelled version", err, CodeLimitExceeded, "")
	must[Written](t, "UpdateSecretVersionStage")(s.UpdateSecretVersionStage(ctx, scope, UpdateStageInput{SecretID: "many", Stage: "L1", RemoveFromVersionID: func() *string {
		sec := must[*Secret](t, "DescribeSecret")(s.DescribeSecret(ctx, scope, "many"))
		return &sec.Versions[1].ID
	}()}))
	must[Written](t, "PutSecretValue after a label is removed")(s.PutSecretValue(ctx, scope, PutValueInput{SecretID: "many", Value: Value{String: ptr("v")}, Stages: []string{"ONE-TOO-MANY"}}))
	if sec := must[*Secret](t, "DescribeSecret")(s.DescribeSecret(ctx, scope, "many")); len(sec.Versions) != maxVersions {
		t.Errorf("%d versions", len(sec.Versions))
	}
}
