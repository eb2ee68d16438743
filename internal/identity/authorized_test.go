package identity

import (
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

// meanwhile makes each of the next len(changes) authorizations of s run
// one of changes first: a change another request commits after this
// one's authorization read the store and before its transaction runs.
func meanwhile(s *Service, changes ...func()) {
	before := s.authorizing
	s.authorizing = func() {
		before()
		if len(changes) > 0 {
			change := changes[0]
			changes = changes[1:]
			change()
		}
	}
}

// TestChangeDecidedOnWhatItChanges: a change is decided before its
// transaction, on the entity as read then; when another change moves the
// entity in between, the change is decided again on where it is now, as
// if it came second, and a second race in a row is
// ConcurrentModification. Nothing is changed on a stale decision.
func TestChangeDecidedOnWhatItChanges(t *testing.T) {
	s := newService(t)
	other := guarded(t, s.meta, s.keys) // another process on the database
	rc := NewContext(ctx, asRoot(t, s))
	bob := Grantee{Kind: metadata.IAMUser, Name: "bob"}
	if _, err := s.CreateUser(rc, UserInput{Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	alice, err := s.CreateUser(rc, UserInput{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Alice may tag bob where he is, on the root path, and nowhere else.
	if err := s.PutInlinePolicy(rc, Grantee{Kind: metadata.IAMUser, Name: "alice"}, "tag-bob",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::`+acct+`:user/bob"}]}`); err != nil {
		t.Fatal(err)
	}
	as := NewContext(ctx, alice.principal(acct))
	moveBob := func(path string) func() {
		return func() {
			if err := other.UpdateUser(rc, "bob", "", path); err != nil {
				t.Fatal(err)
			}
		}
	}
	bobsTags := func() []Tag {
		t.Helper()
		tags, err := s.Tags(rc, bob)
		if err != nil {
			t.Fatal(err)
		}
		return tags
	}
	tag := []Tag{{Key: "team", Value: "a"}}

	// Bob moves to /team/ after Alice's call was allowed on /bob: decided
	// again, it is denied on user/team/bob.
	meanwhile(s, moveBob("/team/"))
	wantIAMError(t, "TagUser of a user moved meanwhile", s.Tag(as, bob, tag), CodeAccessDenied,
		"is not authorized to perform: iam:TagUser on resource: arn:aws:iam::"+acct+":user/team/bob")
	if got := bobsTags(); len(got) != 0 {
		t.Fatalf("bob was tagged on a stale decision: %v", got)
	}

	// Moved again between each decision and its transaction: the root's
	// call is ConcurrentModification, and changes nothing.
	meanwhile(s, moveBob("/a/"), moveBob("/b/"))
	wantIAMError(t, "TagUser of a user moved twice meanwhile", s.Tag(rc, bob, tag), CodeConcurrentModification,
		"The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")
	if got := bobsTags(); len(got) != 0 {
		t.Fatalf("tagged after ConcurrentModification: %v", got)
	}
	// Moved once: decided again, on /b/, and made.
	meanwhile(s, moveBob("/c/"))
	if err := s.Tag(rc, bob, tag); err != nil {
		t.Fatal(err)
	}
	if u, err := s.User(rc, "bob", "iam:GetUser"); err != nil || u.Path != "/c/" || len(u.Tags) != 1 {
		t.Fatalf("bob = %+v, %v; want him on /c/, tagged", u, err)
	}

	// A user deleted after the call to make it an access key was allowed
	// gets none.
	if _, err := s.CreateUser(rc, UserInput{Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	meanwhile(s, func() {
		if err := other.DeleteUser(rc, "carol"); err != nil {
			t.Fatal(err)
		}
	})
	_, _, err = s.CreateUserAccessKey(rc, "carol")
	wantIAMError(t, "CreateAccessKey for a user deleted meanwhile", err, CodeNoSuchEntity, "The user with name carol cannot be found.")
	keys, err := s.AccessKeys(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasSuffix(k.Principal, ":user/carol") {
			t.Fatalf("an access key of the deleted user carol: %+v", k)
		}
	}
}
