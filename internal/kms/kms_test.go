package kms

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/identity/identitytest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/testutil"
)

const (
	acct   = "123456789012"
	other  = "210987654321"
	region = "us-east-1"
)

var (
	bg    = context.Background()
	scope = Scope{Account: acct, Region: region}
)

// fixture is a KMS service over a real SQLite store and identity service,
// with a clock the test moves. Every write transaction runs twice, as a
// backend that retries transactions may run it: the service must not
// depend on a transaction running once. Its logger, its store's reads
// and its authorizer fail the test when used inside a transaction.
type fixture struct {
	svc   *Service
	ids   *identity.Service
	guard *guardedIDs // svc's authorizer
	meta  metadata.Store
	clock time.Time
	root  context.Context // the account's root
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	meta, keys, log := identitytest.Store(t, ""), testutil.Keyring(t), identitytest.Logger(t)
	ids := identity.New(meta, keys, log)
	for _, a := range []string{acct, other} {
		if _, err := ids.EnsureAccount(bg, a); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{ids: ids, meta: meta, clock: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), root: identity.NewContext(bg, identity.Root(acct))}
	f.guard = &guardedIDs{Authorizer: ids, tb: t}
	f.svc = New(meta, keys, f.guard, log)
	f.svc.now = func() time.Time { return f.clock }
	return f
}

// guardedIDs is an authorizer that fails the test when asked inside a
// transaction. Each of its next authorizations first runs one of
// meanwhile (see fixture.meanwhile).
type guardedIDs struct {
	Authorizer
	tb        testing.TB
	meanwhile []func()
	changing  bool
}

func (g *guardedIDs) Authorize(ctx context.Context, c identity.Check) (iampolicy.Decision, iampolicy.Request, error) {
	metadatatest.OutsideTx(g.tb, "Authorize")
	if len(g.meanwhile) > 0 && !g.changing { // a change's own authorizations run none
		change := g.meanwhile[0]
		g.meanwhile = g.meanwhile[1:]
		g.changing = true
		change()
		g.changing = false
	}
	return g.Authorizer.Authorize(ctx, c)
}

func (g *guardedIDs) DenialMessage(d iampolicy.Decision, req iampolicy.Request) string {
	metadatatest.OutsideTx(g.tb, "DenialMessage")
	return g.Authorizer.DenialMessage(d, req)
}

// user creates an IAM user of acct with an inline policy (none if empty)
// and returns a context acting as it.
func (f *fixture) user(t testing.TB, name, policy string) context.Context {
	t.Helper()
	u, err := f.ids.CreateUser(f.root, identity.UserInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		if err := f.ids.PutInlinePolicy(f.root, identity.Grantee{Kind: metadata.IAMUser, Name: name}, "inline", policy); err != nil {
			t.Fatal(err)
		}
	}
	return identity.NewContext(bg, identity.Principal{Account: acct, ARN: u.ARN, UserID: u.ID, Type: identity.TypeUser, Name: name})
}

func (f *fixture) createKey(t testing.TB, in CreateKeyInput) Key {
	t.Helper()
	k, err := f.svc.CreateKey(f.root, scope, in)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k
}

// wantErr checks that err is a KMS error with code and, unless message
// is empty, a message containing it.
func wantErr(t testing.TB, what string, err error, code, message string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: got %v, want %s", what, err, code)
		return
	}
	if e.Code != code || !strings.Contains(e.Message, message) {
		t.Errorf("%s: got %s %q, want %s containing %q", what, e.Code, e.Message, code, message)
	}
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreateAndDescribeKey(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{Description: "repository key", Tags: []Tag{{"team", "platform"}}})
	if !awsid.ValidUUID(k.ID) || k.ID[14] != '4' || k.ARN != "arn:aws:kms:us-east-1:"+acct+":key/"+k.ID {
		t.Fatalf("ID %q ARN %q", k.ID, k.ARN)
	}
	if !k.Enabled() || k.State != StateEnabled || k.KeyUsage != UsageEncryptDecrypt || k.KeySpec != SpecSymmetric ||
		k.Origin != OriginAWSKMS || k.KeyManager != ManagerCustomer || k.MultiRegion || k.Description != "repository key" ||
		!k.CreationDate.Equal(f.clock) || len(k.CurrentMaterialID) != 64 || k.Rotation.Enabled || k.Rotation.PeriodInDays != 365 {
		t.Fatalf("CreateKey = %+v", k)
	}
	if k.Policy != DefaultKeyPolicy(acct) {
		t.Fatalf("policy %s", k.Policy)
	}
	for _, ref := range []string{k.ID, strings.ToUpper(k.ID), k.ARN} {
		d, err := f.svc.DescribeKey(f.root, scope, ref)
		if err != nil || d.ARN != k.ARN || d.Description != "repository key" || len(d.Tags) != 1 {
			t.Errorf("DescribeKey(%s) = %+v, %v", ref, d, err)
		}
	}
	// The stored document holds the material sealed, never in clear.
	e, err := f.meta.IAMEntity(bg, acct, metadata.KMSKey, region+"/"+k.ID)
	must(t, "reading the document", err)
	if !strings.Contains(string(e.Document), `"sealed"`) {
		t.Fatalf("document %s", e.Document)
	}
}

func TestCreateKeyErrors(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("d", 8193)
	tooMany := make([]Tag, 51)
	for i := range tooMany {
		tooMany[i] = Tag{Key: "k" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Value: "v"}
	}
	for _, c := range []struct {
		name          string
		in            CreateKeyInput
		code, message string
	}{
		{"asymmetric without a usage", CreateKeyInput{KeySpec: "RSA_2048"}, CodeValidation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."},
		{"ECC encryption", CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "ENCRYPT_DECRYPT"}, CodeValidation, "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256"},
		{"HMAC", CreateKeyInput{CustomerMasterKeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"}, CodeUnsupported, "KeySpec HMAC_256 with KeyUsage GENERATE_VERIFY_MAC"},
		{"secp256k1", CreateKeyInput{KeySpec: "ECC_SECG_P256K1", KeyUsage: "SIGN_VERIFY"}, CodeUnsupported, "ECC_SECG_P256K1"},
		{"key agreement", CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "KEY_AGREEMENT"}, CodeUnsupported, "KeyUsage KEY_AGREEMENT"},
		{"both specs", CreateKeyInput{KeySpec: "SYMMETRIC_DEFAULT", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT"}, CodeValidation, "CustomerMasterKeySpec is deprecated"},
		{"bad spec", CreateKeyInput{KeySpec: "AES"}, CodeValidation, "1 validation error detected: Value 'AES' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048"},
		{"bad usage", CreateKeyInput{KeyUsage: "RANDOM"}, CodeValidation, "Value 'RANDOM' at 'keyUsage'"},
		{"sign usage", CreateKeyInput{KeyUsage: "SIGN_VERIFY"}, CodeValidation, "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT"},
		{"multi-region", CreateKeyInput{MultiRegion: true}, CodeUnsupported, "multi-Region"},
		{"external", CreateKeyInput{Origin: "EXTERNAL"}, CodeUnsupported, "Origin EXTERNAL"},
		{"key store", CreateKeyInput{CustomKeyStoreID: "cks-1"}, CodeUnsupported, "custom key stores"},
		{"description", CreateKeyInput{Description: long}, CodeValidation, "at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"},
		{"two errors", CreateKeyInput{Description: long, KeyUsage: "X"}, CodeValidation, "2 validation errors detected: "},
		{"policy", CreateKeyInput{Policy: `{"Statement":[]}`}, CodeMalformedPolicy, "Syntax errors in policy."},
		{"no principal", CreateKeyInput{Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}, CodeMalformedPolicy, "Missing required field Principal"},
		{"lockout", CreateKeyInput{Policy: policyFor("arn:aws:iam::" + acct + ":user/someone-else")}, CodeMalformedPolicy, "The new key policy will not allow you to update the key policy in the future."},
		{"aws tag", CreateKeyInput{Tags: []Tag{{"aws:x", "y"}}}, CodeTag, "Tags beginning with aws: are reserved"},
		{"duplicate tag", CreateKeyInput{Tags: []Tag{{"a", "1"}, {"a", "2"}}}, CodeTag, "Duplicate tag keys"},
		{"too many tags", CreateKeyInput{Tags: tooMany}, CodeTag, "Too many tags"},
		{"long tag key", CreateKeyInput{Tags: []Tag{{strings.Repeat("k", 129), ""}}}, CodeValidation, "at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"empty tag key", CreateKeyInput{Tags: []Tag{{"", "v"}}}, CodeValidation, "at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	} {
		_, err := f.svc.CreateKey(f.root, scope, c.in)
		wantErr(t, c.name, err, c.code, c.message)
	}
	// The lockout check can be bypassed.
	k, err := f.svc.CreateKey(f.root, scope, CreateKeyInput{Policy: policyFor("arn:aws:iam::" + acct + ":user/someone-else"), BypassPolicyLockoutSafetyCheck: true})
	must(t, "CreateKey bypassing the lockout check", err)
	_, err = f.svc.DescribeKey(f.root, scope, k.ID)
	wantErr(t, "the root on a key whose policy names only a user", err, CodeAccessDenied,
		"User: arn:aws:iam::"+acct+":root is not authorized to perform: kms:DescribeKey on resource: "+k.ARN+" because no resource-based policy allows the kms:DescribeKey action")
	keys, _, err := f.svc.ListKeys(f.root, scope, nil, "")
	if err != nil || len(keys) != 1 {
		t.Fatalf("refused creations made keys: %v, %v", keys, err)
	}
}

// policyFor is a key policy allowing one principal everything.
func policyFor(principal string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"kms:*","Resource":"*"}]}`
}

func TestKeyReferences(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	must(t, "CreateAlias", f.svc.CreateAlias(f.root, scope, "alias/app", k.ID))
	missing := "0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59"
	for _, c := range []struct {
		ref, code, message string
	}{
		{"fake-key-id", CodeNotFound, "Invalid keyId 'fake-key-id'"},
		{"134f2428cec14b25a1ae9048164dba47", CodeNotFound, "Invalid keyId '134f2428cec14b25a1ae9048164dba47'"},
		{missing, CodeNotFound, "Key 'arn:aws:kms:us-east-1:" + acct + ":key/" + missing + "' does not exist"},
		{"arn:aws:kms:us-east-1:" + acct + ":key/" + missing, CodeNotFound, "Key 'arn:aws:kms:us-east-1:" + acct + ":key/" + missing + "' does not exist"},
		{"arn:aws:kms:eu-west-1:" + acct + ":key/" + k.ID, CodeNotFound, "Invalid arn eu-west-1"},
		{"arn:aws:kms:us-east-1:" + acct + ":nope/" + k.ID, CodeInvalidArn, "is not a KMS key or alias ARN"},
		{"arn:aws:s3:::bucket", CodeInvalidArn, "is not a KMS key or alias ARN"},
		{"alias/nope", CodeNotFound, "Alias arn:aws:kms:us-east-1:" + acct + ":alias/nope is not found."},
		{"", CodeValidation, "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	} {
		_, err := f.svc.DescribeKey(f.root, scope, c.ref)
		wantErr(t, "DescribeKey "+c.ref, err, c.code, c.message)
	}
	for _, ref := range []string{"alias/app", "arn:aws:kms:us-east-1:" + acct + ":alias/app"} {
		d, err := f.svc.DescribeKey(f.root, scope, ref)
		if err != nil || d.ID != k.ID {
			t.Errorf("DescribeKey(%s) = %v, %v", ref, d.ID, err)
		}
	}
	// Management operations take key IDs and ARNs only.
	wantErr(t, "DisableKey by alias", f.svc.DisableKey(f.root, scope, "alias/app"), CodeNotFound, "Invalid keyId 'alias/app'")
	// And only in the caller's account.
	err := f.svc.DisableKey(f.root, scope, "arn:aws:kms:us-east-1:"+other+":key/"+missing)
	wantErr(t, "DisableKey of another account's key", err, CodeNotFound, "does not exist")
}

func TestListKeysPages(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for range 5 {
		ids = append(ids, f.createKey(t, CreateKeyInput{}).ID)
	}
	// Another region's keys are not listed.
	_, err := f.svc.CreateKey(f.root, Scope{Account: acct, Region: "eu-west-1"}, CreateKeyInput{})
	must(t, "CreateKey in eu-west-1", err)
	var got []string
	marker := ""
	for pages := 0; ; pages++ {
		keys, next, err := f.svc.ListKeys(f.root, scope, ptr(2), marker)
		must(t, "ListKeys", err)
		for _, k := range keys {
			got = append(got, k.ID)
		}
		if next == "" {
			if pages != 2 {
				t.Fatalf("%d pages", pages+1)
			}
			break
		}
		marker = next
	}
	if len(got) != 5 {
		t.Fatalf("listed %v, created %v", got, ids)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1] >= got[i] {
			t.Fatalf("not in ID order: %v", got)
		}
	}
	_, _, err = f.svc.ListKeys(f.root, scope, ptr(0), "")
	wantErr(t, "ListKeys limit 0", err, CodeValidation, "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
	_, _, err = f.svc.ListKeys(f.root, scope, ptr(1001), "")
	wantErr(t, "ListKeys limit 1001", err, CodeValidation, "Member must have value less than or equal to 1000")
}

func TestKeyPolicy(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	pol, err := f.svc.KeyPolicy(f.root, scope, k.ID, "default")
	if err != nil || pol != DefaultKeyPolicy(acct) {
		t.Fatalf("KeyPolicy = %s, %v", pol, err)
	}
	if names, err := f.svc.ListKeyPolicies(f.root, scope, k.ARN); err != nil || len(names) != 1 || names[0] != "default" {
		t.Fatalf("ListKeyPolicies = %v, %v", names, err)
	}
	_, err = f.svc.KeyPolicy(f.root, scope, k.ID, "other")
	wantErr(t, "KeyPolicy other", err, CodeNotFound, "No such policy exists")
	_, err = f.svc.KeyPolicy(f.root, scope, k.ID, "no-dash")
	wantErr(t, "KeyPolicy bad name", err, CodeValidation, `at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\w]+$`)

	next := `{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},` +
		`{"Sid":"ci","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/ci"},"Action":"kms:Encrypt","Resource":"*"}]}`
	must(t, "PutKeyPolicy", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", next, false))
	if pol, _ := f.svc.KeyPolicy(f.root, scope, k.ID, ""); pol != next {
		t.Fatalf("policy after PutKeyPolicy: %s", pol)
	}
	wantErr(t, "PutKeyPolicy malformed", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", "{", false), CodeMalformedPolicy, "Syntax errors in policy.")
	wantErr(t, "PutKeyPolicy locking the caller out", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", policyFor("arn:aws:iam::"+acct+":user/ci"), false),
		CodeMalformedPolicy, "will not allow you to update the key policy")
	wantErr(t, "PutKeyPolicy empty", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", "", false), CodeValidation, "at 'policy' failed to satisfy constraint")
}

func TestRotationSettings(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	st, err := f.svc.KeyRotationStatus(f.root, scope, k.ID)
	if err != nil || st.Rotation.Enabled {
		t.Fatalf("rotation of a new key: %+v, %v", st.Rotation, err)
	}
	must(t, "EnableKeyRotation", f.svc.EnableKeyRotation(f.root, scope, k.ID, nil))
	st, _ = f.svc.KeyRotationStatus(f.root, scope, k.ARN)
	if !st.Rotation.Enabled || st.Rotation.PeriodInDays != 365 || !st.Rotation.NextRotation.Equal(f.clock.Add(365*24*time.Hour)) {
		t.Fatalf("after EnableKeyRotation: %+v", st.Rotation)
	}
	must(t, "EnableKeyRotation 90", f.svc.EnableKeyRotation(f.root, scope, k.ID, ptr(90)))
	st, _ = f.svc.KeyRotationStatus(f.root, scope, k.ID)
	if st.Rotation.PeriodInDays != 90 {
		t.Fatalf("period %d", st.Rotation.PeriodInDays)
	}
	wantErr(t, "period 89", f.svc.EnableKeyRotation(f.root, scope, k.ID, ptr(89)), CodeValidation,
		"1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90")
	wantErr(t, "period 2561", f.svc.EnableKeyRotation(f.root, scope, k.ID, ptr(2561)), CodeValidation, "Member must have value less than or equal to 2560")
	must(t, "DisableKeyRotation", f.svc.DisableKeyRotation(f.root, scope, k.ID))
	st, _ = f.svc.KeyRotationStatus(f.root, scope, k.ID)
	if st.Rotation.Enabled || !st.Rotation.NextRotation.IsZero() {
		t.Fatalf("after DisableKeyRotation: %+v", st.Rotation)
	}
	must(t, "DisableKey", f.svc.DisableKey(f.root, scope, k.ID))
	wantErr(t, "EnableKeyRotation of a disabled key", f.svc.EnableKeyRotation(f.root, scope, k.ID, nil), CodeDisabled, k.ARN+" is disabled.")
}

func TestKeyStates(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	must(t, "DisableKey", f.svc.DisableKey(f.root, scope, k.ID))
	if d, _ := f.svc.DescribeKey(f.root, scope, k.ID); d.State != StateDisabled || d.Enabled() {
		t.Fatalf("state %s", d.State)
	}
	must(t, "EnableKey", f.svc.EnableKey(f.root, scope, k.ID))
	_, err := f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, ptr(6))
	wantErr(t, "window 6", err, CodeValidation, "Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7")
	_, err = f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, ptr(31))
	wantErr(t, "window 31", err, CodeValidation, "Member must have value less than or equal to 30")
	d, err := f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, nil)
	if err != nil || d.State != StatePendingDeletion || d.PendingWindowInDays != 30 || !d.DeletionDate.Equal(f.clock.Add(30*24*time.Hour)) {
		t.Fatalf("ScheduleKeyDeletion = %+v, %v", d, err)
	}
	pendingMsg := k.ARN + " is pending deletion."
	for name, err := range map[string]error{
		"EnableKey":            f.svc.EnableKey(f.root, scope, k.ID),
		"DisableKey":           f.svc.DisableKey(f.root, scope, k.ID),
		"UpdateKeyDescription": f.svc.UpdateKeyDescription(f.root, scope, k.ID, "x"),
		"TagResource":          f.svc.TagResource(f.root, scope, k.ID, []Tag{{"a", "b"}}),
		"UntagResource":        f.svc.UntagResource(f.root, scope, k.ID, []string{"a"}),
		"EnableKeyRotation":    f.svc.EnableKeyRotation(f.root, scope, k.ID, nil),
		"CreateAlias":          f.svc.CreateAlias(f.root, scope, "alias/gone", k.ID),
	} {
		wantErr(t, name+" of a key pending deletion", err, CodeInvalidState, pendingMsg)
	}
	_, err = f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, nil)
	wantErr(t, "ScheduleKeyDeletion twice", err, CodeInvalidState, pendingMsg)
	// Reads still work while the key waits.
	if _, err := f.svc.KeyPolicy(f.root, scope, k.ID, ""); err != nil {
		t.Fatalf("KeyPolicy of a key pending deletion: %v", err)
	}
	d, err = f.svc.CancelKeyDeletion(f.root, scope, k.ID)
	if err != nil || d.State != StateDisabled || !d.DeletionDate.IsZero() || d.PendingWindowInDays != 0 {
		t.Fatalf("CancelKeyDeletion = %+v, %v", d, err)
	}
	_, err = f.svc.CancelKeyDeletion(f.root, scope, k.ID)
	wantErr(t, "CancelKeyDeletion of a disabled key", err, CodeInvalidState, k.ARN+" is not pending deletion.")

	// Once the date passes, the key is gone, and so are its aliases.
	must(t, "CreateAlias", f.svc.CreateAlias(f.root, scope, "alias/doomed", k.ID))
	_, err = f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, ptr(7))
	must(t, "ScheduleKeyDeletion", err)
	f.clock = f.clock.Add(7 * 24 * time.Hour)
	_, err = f.svc.DescribeKey(f.root, scope, k.ID)
	wantErr(t, "DescribeKey after deletion", err, CodeNotFound, "Key '"+k.ARN+"' does not exist")
	aliases, _, err := f.svc.ListAliases(f.root, scope, "", nil, "")
	if err != nil || len(aliases) != 0 {
		t.Fatalf("aliases of a deleted key: %v, %v", aliases, err)
	}
	f.createKey(t, CreateKeyInput{}) // reclaims the deleted key's documents
	if _, err := f.meta.IAMEntity(bg, acct, metadata.KMSKey, region+"/"+k.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("the deleted key's document: %v", err)
	}
}

func TestDescriptionAndTags(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{Tags: []Tag{{"b", "1"}}})
	must(t, "UpdateKeyDescription", f.svc.UpdateKeyDescription(f.root, scope, k.ID, "new"))
	if d, _ := f.svc.DescribeKey(f.root, scope, k.ID); d.Description != "new" {
		t.Fatalf("description %q", d.Description)
	}
	wantErr(t, "long description", f.svc.UpdateKeyDescription(f.root, scope, k.ID, strings.Repeat("x", 8193)), CodeValidation, "'description'")
	must(t, "TagResource", f.svc.TagResource(f.root, scope, k.ID, []Tag{{"a", "2"}, {"b", "3"}, {"B", "4"}}))
	tags, next, err := f.svc.ListResourceTags(f.root, scope, k.ID, nil, "")
	if err != nil || next != "" || len(tags) != 3 || tags[0] != (Tag{"B", "4"}) || tags[1] != (Tag{"a", "2"}) || tags[2] != (Tag{"b", "3"}) {
		t.Fatalf("ListResourceTags = %v %q %v", tags, next, err)
	}
	tags, next, err = f.svc.ListResourceTags(f.root, scope, k.ID, ptr(2), "")
	if err != nil || len(tags) != 2 || next != "a" {
		t.Fatalf("first page %v %q %v", tags, next, err)
	}
	tags, next, _ = f.svc.ListResourceTags(f.root, scope, k.ID, ptr(2), next)
	if len(tags) != 1 || tags[0].Key != "b" || next != "" {
		t.Fatalf("second page %v %q", tags, next)
	}
	must(t, "UntagResource", f.svc.UntagResource(f.root, scope, k.ID, []string{"a", "missing"}))
	tags, _, _ = f.svc.ListResourceTags(f.root, scope, k.ID, nil, "")
	if len(tags) != 2 {
		t.Fatalf("after UntagResource: %v", tags)
	}
	wantErr(t, "UntagResource empty key", f.svc.UntagResource(f.root, scope, k.ID, []string{""}), CodeValidation, "at 'tagKeys.1.member'")
	var many []Tag
	for i := range 49 {
		many = append(many, Tag{Key: "k" + strings.Repeat("x", i), Value: ""})
	}
	wantErr(t, "TagResource past 50", f.svc.TagResource(f.root, scope, k.ID, many), CodeTag, "Too many tags")
}

// TestChangeDecidedOnTheKeyItChanges: a change of a key is decided before
// its transaction; when the key policy changes in between, the change is
// decided again on the policy now in force, as if it came second, and a
// second race in a row is ConflictException. Nothing is changed on a
// stale decision.
func TestChangeDecidedOnTheKeyItChanges(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	ciARN := "arn:aws:iam::" + acct + ":user/ci"
	ci := f.user(t, "ci", "")
	policy := func(sid string, ciMayTag bool) string {
		p := `{"Version":"2012-10-17","Statement":[{"Sid":"` + sid + `","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"}`
		if ciMayTag {
			p += `,{"Sid":"ci","Effect":"Allow","Principal":{"AWS":"` + ciARN + `"},"Action":"kms:TagResource","Resource":"*"}`
		}
		return p + `]}`
	}
	put := func(p string) func() {
		return func() { must(t, "PutKeyPolicy meanwhile", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", p, false)) }
	}
	tags := func() []Tag {
		t.Helper()
		d, err := f.svc.readKey(bg, scope, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Tags
	}
	tag := []Tag{{Key: "team", Value: "a"}}
	must(t, "PutKeyPolicy", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", policy("root", true), false))

	// The policy stops allowing ci after its call was allowed: decided
	// again, it is denied.
	f.guard.meanwhile = []func(){put(policy("root", false))}
	wantErr(t, "TagResource on a policy changed meanwhile", f.svc.TagResource(ci, scope, k.ID, tag), CodeAccessDenied, "kms:TagResource")
	if got := tags(); len(got) != 0 {
		t.Fatalf("tagged on a stale decision: %v", got)
	}

	// Changed between each decision and its transaction: ConflictException.
	must(t, "PutKeyPolicy", f.svc.PutKeyPolicy(f.root, scope, k.ID, "", policy("root", true), false))
	f.guard.meanwhile = []func(){put(policy("a", true)), put(policy("b", true))}
	wantErr(t, "TagResource on a policy changed twice meanwhile", f.svc.TagResource(ci, scope, k.ID, tag), CodeConflict, "Retry the request.")
	if got := tags(); len(got) != 0 {
		t.Fatalf("tagged after ConflictException: %v", got)
	}
	f.guard.meanwhile = nil

	// Changed once: decided again, and made.
	f.guard.meanwhile = []func(){put(policy("c", true))}
	must(t, "TagResource on a policy changed once meanwhile", f.svc.TagResource(ci, scope, k.ID, tag))
	if got := tags(); len(got) != 1 {
		t.Fatalf("tags = %v, want one", got)
	}
}
