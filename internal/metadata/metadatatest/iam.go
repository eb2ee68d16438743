package metadatatest

import (
	"errors"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

// iamTests are the tests of the IAM entities and access key removal.
var iamTests = []storeTest{
	{"IAMEntities", testIAMEntities},
	{"DeleteAccessKey", testDeleteAccessKey},
}

func testIAMEntities(t *testing.T, s metadata.Store) {
	const acct = "123456789012"
	role := func(name, doc string) metadata.IAMEntity {
		return metadata.IAMEntity{Account: acct, Kind: metadata.IAMRole, Name: name, Document: []byte(doc)}
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.CreateIAMEntity(ctx, role("ci", "{}")) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("creating an entity of an account that does not exist = %v, want ErrNotFound", err)
	}
	update(t, s, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: acct, CreatedAt: now})
	})
	update(t, s, func(tx metadata.Tx) error { return tx.CreateIAMEntity(ctx, role("CI-Push", `{"v":1}`)) })
	update(t, s, func(tx metadata.Tx) error { return tx.CreateIAMEntity(ctx, role("admin", `{"v":2}`)) })
	// Same name as a user is another entity.
	update(t, s, func(tx metadata.Tx) error {
		return tx.CreateIAMEntity(ctx, metadata.IAMEntity{Account: acct, Kind: metadata.IAMUser, Name: "admin", Document: []byte("{}")})
	})
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.CreateIAMEntity(ctx, role("ci-push", "{}")) }); !errors.Is(err, metadata.ErrExists) {
		t.Fatalf("a name differing only in case = %v, want ErrExists", err)
	}
	e, err := s.IAMEntity(ctx, acct, metadata.IAMRole, "ci-PUSH")
	if err != nil || e.Name != "CI-Push" || string(e.Document) != `{"v":1}` {
		t.Fatalf("IAMEntity = %+v, %v", e, err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.UpdateIAMEntity(ctx, role("ci-push", `{"v":3}`)) })
	list, err := s.IAMEntities(ctx, acct, metadata.IAMRole)
	if err != nil || len(list) != 2 || list[0].Name != "admin" || list[1].Name != "CI-Push" || string(list[1].Document) != `{"v":3}` {
		t.Fatalf("IAMEntities = %+v, %v", list, err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.UpdateIAMEntity(ctx, role("nobody", "{}")) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("updating a missing entity = %v", err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteIAMEntity(ctx, acct, metadata.IAMRole, "ci-push") })
	if _, err := s.IAMEntity(ctx, acct, metadata.IAMRole, "CI-Push"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("after delete = %v", err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteIAMEntity(ctx, acct, metadata.IAMRole, "ci-push") }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleting twice = %v", err)
	}
	if users, err := s.IAMEntities(ctx, acct, metadata.IAMUser); err != nil || len(users) != 1 {
		t.Fatalf("users = %+v, %v", users, err)
	}
}

func testDeleteAccessKey(t *testing.T, s metadata.Store) {
	const acct = "123456789012"
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.CreateAccount(ctx, metadata.Account{ID: acct, CreatedAt: now}); err != nil {
			return err
		}
		return tx.PutAccessKey(ctx, metadata.AccessKey{ID: "AKIAEXAMPLE000000001", Account: acct, Principal: "arn:aws:iam::" + acct + ":user/dev", Secret: []byte("x"), Status: "Active", CreatedAt: now})
	})
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteAccessKey(ctx, "AKIAEXAMPLE000000001") })
	if _, err := s.AccessKey(ctx, "AKIAEXAMPLE000000001"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("after delete = %v", err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteAccessKey(ctx, "AKIAEXAMPLE000000001") }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleting twice = %v", err)
	}
}
