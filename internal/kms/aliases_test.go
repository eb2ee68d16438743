package kms

import (
	"strings"
	"sync"
	"testing"
)

func TestAliases(t *testing.T) {
	f := newFixture(t)
	a := f.createKey(t, CreateKeyInput{})
	b := f.createKey(t, CreateKeyInput{})
	must(t, "CreateAlias by ID", f.svc.CreateAlias(f.root, scope, "alias/app", a.ID))
	must(t, "CreateAlias by ARN", f.svc.CreateAlias(f.root, scope, "alias/team/b", b.ARN))
	for _, c := range []struct {
		name, alias, target, code, message string
	}{
		{"exists", "alias/app", b.ID, CodeAlreadyExists, "An alias with the name arn:aws:kms:us-east-1:" + acct + ":alias/app already exists"},
		{"no prefix", "app", a.ID, CodeValidation, `Alias must start with the prefix "alias/".`},
		{"bare prefix", "alias/", a.ID, CodeValidation, `Alias must start with the prefix "alias/".`},
		{"reserved", "alias/aws/mine", a.ID, CodeInvalidAliasName, "reserved for AWS managed keys"},
		{"pattern", "alias/a b", a.ID, CodeValidation, "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"long", "alias/" + strings.Repeat("a", 251), a.ID, CodeValidation, "Member must have length less than or equal to 256"},
		{"target alias", "alias/x", "alias/app", CodeNotFound, "Invalid keyId 'alias/app'"},
		{"missing target", "alias/x", "0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59", CodeNotFound, "does not exist"},
		{"empty target", "alias/x", "", CodeValidation, "at 'targetKeyId' failed to satisfy constraint"},
	} {
		wantErr(t, "CreateAlias "+c.name, f.svc.CreateAlias(f.root, scope, c.alias, c.target), c.code, c.message)
	}

	aliases, next, err := f.svc.ListAliases(f.root, scope, "", nil, "")
	if err != nil || next != "" || len(aliases) != 2 || aliases[0].Name != "alias/app" || aliases[0].TargetKeyID != a.ID ||
		aliases[0].ARN != "arn:aws:kms:us-east-1:"+acct+":alias/app" || !aliases[0].Created.Equal(f.clock) || aliases[1].Name != "alias/team/b" {
		t.Fatalf("ListAliases = %+v %q %v", aliases, next, err)
	}
	aliases, next, _ = f.svc.ListAliases(f.root, scope, "", ptr(1), "")
	if len(aliases) != 1 || next != "alias/app" {
		t.Fatalf("first page %+v %q", aliases, next)
	}
	aliases, next, _ = f.svc.ListAliases(f.root, scope, "", ptr(1), next)
	if len(aliases) != 1 || aliases[0].Name != "alias/team/b" || next != "" {
		t.Fatalf("second page %+v %q", aliases, next)
	}
	aliases, _, err = f.svc.ListAliases(f.root, scope, b.ARN, nil, "")
	if err != nil || len(aliases) != 1 || aliases[0].Name != "alias/team/b" {
		t.Fatalf("ListAliases of b = %+v, %v", aliases, err)
	}
	_, _, err = f.svc.ListAliases(f.root, scope, "0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59", nil, "")
	wantErr(t, "ListAliases of a missing key", err, CodeNotFound, "does not exist")

	f.clock = f.clock.Add(60)
	must(t, "UpdateAlias", f.svc.UpdateAlias(f.root, scope, "alias/app", b.ID))
	d, err := f.svc.DescribeKey(f.root, scope, "alias/app")
	if err != nil || d.ID != b.ID {
		t.Fatalf("alias/app after UpdateAlias names %s, %v", d.ID, err)
	}
	aliases, _, _ = f.svc.ListAliases(f.root, scope, b.ID, nil, "")
	if len(aliases) != 2 || !aliases[0].Updated.Equal(f.clock) || aliases[0].Created.Equal(f.clock) {
		t.Fatalf("aliases of b after UpdateAlias: %+v", aliases)
	}
	wantErr(t, "UpdateAlias of a missing alias", f.svc.UpdateAlias(f.root, scope, "alias/none", a.ID), CodeNotFound,
		"Alias arn:aws:kms:us-east-1:"+acct+":alias/none is not found.")
	must(t, "DeleteAlias", f.svc.DeleteAlias(f.root, scope, "alias/app"))
	wantErr(t, "DeleteAlias twice", f.svc.DeleteAlias(f.root, scope, "alias/app"), CodeNotFound, "is not found.")
	wantErr(t, "DeleteAlias of the managed alias", f.svc.DeleteAlias(f.root, scope, ECRAlias), CodeInvalidAliasName, "reserved")
	// The key stays.
	if _, err := f.svc.DescribeKey(f.root, scope, b.ID); err != nil {
		t.Fatal(err)
	}
	// Aliases are regional.
	_, err = f.svc.DescribeKey(f.root, Scope{Account: acct, Region: "eu-west-1"}, "alias/team/b")
	wantErr(t, "an alias in another region", err, CodeNotFound, "alias/team/b is not found.")
}

func TestECRManagedKey(t *testing.T) {
	f := newFixture(t)
	// Concurrent first uses make one key.
	var wg sync.WaitGroup
	keys := make([]Key, 8)
	errs := make([]error, 8)
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = f.svc.ECRManagedKey(bg, acct, region) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || keys[i].ID != keys[0].ID {
			t.Fatalf("ECRManagedKey %d = %s, %v (first %s)", i, keys[i].ID, errs[i], keys[0].ID)
		}
	}
	k := keys[0]
	if k.KeyManager != ManagerAWS || k.Description != "Default key for ECR" || !k.Rotation.Enabled || !strings.Contains(k.Policy, `"kms:ViaService":"ecr.us-east-1.amazonaws.com"`) {
		t.Fatalf("managed key %+v", k)
	}
	d, err := f.svc.DescribeKey(f.root, scope, ECRAlias)
	if err != nil || d.ID != k.ID {
		t.Fatalf("DescribeKey alias/aws/ecr = %s, %v", d.ID, err)
	}
	aliases, _, _ := f.svc.ListAliases(f.root, scope, "", nil, "")
	if len(aliases) != 1 || aliases[0].Name != ECRAlias || aliases[0].TargetKeyID != k.ID {
		t.Fatalf("aliases %+v", aliases)
	}
	// The account may read the key, not change it, nor use it directly:
	// only through ECR.
	if _, err := f.svc.KeyPolicy(f.root, scope, k.ID, ""); err != nil {
		t.Fatalf("GetKeyPolicy of the managed key: %v", err)
	}
	wantErr(t, "DisableKey of the managed key", f.svc.DisableKey(f.root, scope, k.ID), CodeAccessDenied,
		"is not authorized to perform: kms:DisableKey on resource: "+k.ARN+" because no resource-based policy allows the kms:DisableKey action")
	_, err = f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: ECRAlias, Plaintext: []byte("x")})
	wantErr(t, "Encrypt directly with the managed key", err, CodeAccessDenied, "kms:Encrypt")
	wantErr(t, "CreateAlias to the managed key", f.svc.CreateAlias(f.root, scope, "alias/mine", k.ID), CodeAccessDenied, "kms:CreateAlias")
	pt, ct, err := f.svc.DataKey(bg, k.ARN, map[string]string{"repository": "app"})
	must(t, "DataKey", err)
	got, arn, err := f.svc.DecryptDataKey(bg, ct, map[string]string{"repository": "app"})
	if err != nil || arn != k.ARN || string(got) != string(pt) {
		t.Fatalf("DecryptDataKey = %x %s %v", got, arn, err)
	}
	// Describing alias/aws/ecr creates the key in a new region, as AWS
	// does, for the account's own principals.
	west := Scope{Account: acct, Region: "us-west-2"}
	d, err = f.svc.DescribeKey(f.root, west, ECRAlias)
	if err != nil || d.KeyManager != ManagerAWS || d.Region != "us-west-2" || d.ID == k.ID {
		t.Fatalf("DescribeKey alias/aws/ecr in us-west-2 = %+v, %v", d, err)
	}
	// Not for another account's principals.
	otherRoot := rootOf(other)
	_, err = f.svc.DescribeKey(otherRoot, Scope{Account: other, Region: region}, "arn:aws:kms:eu-west-1:"+acct+":alias/aws/ecr")
	wantErr(t, "another region's ARN", err, CodeNotFound, "Invalid arn eu-west-1")
	_, err = f.svc.DescribeKey(otherRoot, Scope{Account: other, Region: "eu-west-1"}, "arn:aws:kms:eu-west-1:"+acct+":alias/aws/ecr")
	wantErr(t, "another account's managed alias", err, CodeNotFound, "is not found.")
}

func TestKeyUsable(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	must(t, "CreateAlias", f.svc.CreateAlias(f.root, scope, "alias/repo", k.ID))
	for _, ref := range []string{k.ID, k.ARN, "alias/repo", "arn:aws:kms:us-east-1:" + acct + ":alias/repo"} {
		got, err := f.svc.KeyUsable(bg, ref, acct, region)
		if err != nil || got.ID != k.ID {
			t.Errorf("KeyUsable(%s) = %s, %v", ref, got.ID, err)
		}
	}
	m, err := f.svc.KeyUsable(bg, ECRAlias, acct, region)
	if err != nil || m.KeyManager != ManagerAWS {
		t.Fatalf("KeyUsable(alias/aws/ecr) = %+v, %v", m, err)
	}
	must(t, "DisableKey", f.svc.DisableKey(f.root, scope, k.ID))
	_, err = f.svc.KeyUsable(bg, "alias/repo", acct, region)
	wantErr(t, "KeyUsable of a disabled key", err, CodeDisabled, k.ARN+" is disabled.")
	_, err = f.svc.KeyUsable(bg, "alias/none", acct, region)
	wantErr(t, "KeyUsable of a missing alias", err, CodeNotFound, "is not found.")
}
