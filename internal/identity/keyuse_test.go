package identity

import (
	"testing"
	"time"
)

// TestAccessKeyLastUsed: a key's use is noted in memory at most once a
// minute and written by a flush; another replica reads it from the store;
// a key never used has none; deleting the key deletes its record.
func TestAccessKeyLastUsed(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	if _, err := s.CreateUser(rc, UserInput{Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	k, _, err := s.CreateUserAccessKey(rc, "ci")
	if err != nil {
		t.Fatal(err)
	}
	user, _, used, err := s.AccessKeyLastUsed(rc, k.ID)
	if err != nil || used || user != "ci" {
		t.Fatalf("a key never used: %q %v %v", user, used, err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	s.NoteKeyUse(acct, k.ID, "ecr", "eu-west-1")
	now = now.Add(30 * time.Second)
	s.NoteKeyUse(acct, k.ID, "iam", "us-east-1") // within the minute: not noted
	_, use, used, err := s.AccessKeyLastUsed(rc, k.ID)
	if err != nil || !used || use.Service != "ecr" || use.Region != "eu-west-1" || !use.Date.Equal(now.Add(-30*time.Second)) {
		t.Fatalf("after a use: %+v %v %v", use, used, err)
	}
	other := guarded(t, s.meta, s.keys)
	if _, _, used, _ := other.AccessKeyLastUsed(rc, k.ID); used {
		t.Fatal("the use reached the store before a flush")
	}
	if err := s.FlushKeyUse(ctx); err != nil {
		t.Fatal(err)
	}
	_, use, used, err = other.AccessKeyLastUsed(rc, k.ID)
	if err != nil || !used || use.Service != "ecr" {
		t.Fatalf("another replica after the flush: %+v %v %v", use, used, err)
	}
	now = now.Add(time.Minute)
	s.NoteKeyUse(acct, k.ID, "sts", "us-east-1")
	if err := s.FlushKeyUse(ctx); err != nil {
		t.Fatal(err)
	}
	if _, use, _, _ := other.AccessKeyLastUsed(rc, k.ID); use.Service != "sts" || !use.Date.Equal(now) {
		t.Fatalf("a later use, flushed: %+v", use)
	}
	_, _, _, err = s.AccessKeyLastUsed(rc, "AKIANOSUCHKEY0000000")
	wantIAMError(t, "an unknown key", err, CodeNoSuchEntity, "The Access Key with id AKIANOSUCHKEY0000000 cannot be found.")
	if err := s.DeleteAccessKey(rc, "ci", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.meta.IAMEntity(ctx, acct, kindKeyUse, k.ID); err == nil {
		t.Fatal("the deleted key's last use is still stored")
	}
	// A use noted for a key deleted before the flush is dropped.
	s.NoteKeyUse(acct, "AKIAGONE000000000000", "ecr", "us-east-1")
	if err := s.FlushKeyUse(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.meta.IAMEntity(ctx, acct, kindKeyUse, "AKIAGONE000000000000"); err == nil {
		t.Fatal("a use of a key that does not exist was stored")
	}
}
