package identity

import (
	"cmp"
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/metadata"
)

// An IAM change is authorized before its transaction, never inside it:
// Authorize reads the store and this process's caches, and the function
// of a write transaction may run more than once (metadata.Store). What
// IAM decides an action on a user, role or group by is the entity's ARN
// (its path and name; the root path's for one that does not exist), read
// before the transaction. The transaction reads the entity again: if its
// ARN is not the one decided on (it was renamed, moved, deleted or
// created meanwhile), the change is decided and tried again, once, on
// what the store holds then, which answers as if it had come after the
// other change. A second race in a row answers ConcurrentModification,
// as IAM does when changes of one object collide, and the client tries
// again. (Who the caller is and what its own policies say are read
// outside any transaction, as every request's are.)

// errMoved is how a transaction says that what its change was decided on
// is no longer what the store holds.
var errMoved = errors.New("the entity a change was authorized on changed before its transaction")

func concurrentModification() error {
	return awserr.Errorf(CodeConcurrentModification, "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")
}

// decideThenUpdate runs a change decided outside its transaction: decide
// authorizes it and returns the change to record and the ARN it decided
// on; fn makes it in the transaction, and returns errMoved when the
// entity no longer has that ARN. The whole is tried twice at most.
func (s *Service) decideThenUpdate(ctx context.Context, decide func() (change, string, error), fn func(tx metadata.Tx, decided string) ([]string, error)) error {
	for range 2 {
		c, decided, err := decide()
		if err != nil {
			return err
		}
		err = s.update(ctx, c, func(tx metadata.Tx) ([]string, error) { return fn(tx, decided) })
		if !errors.Is(err, errMoved) {
			return err
		}
	}
	return concurrentModification()
}

// entity is a user, role or group: what IAM calls name, and act on by
// their ARNs.
type entity interface {
	User | Role | Group
	entityName() string
	entityARN() string
}

func (u User) entityName() string  { return u.Name }
func (u User) entityARN() string   { return u.ARN }
func (r Role) entityName() string  { return r.Name }
func (r Role) entityARN() string   { return r.ARN }
func (g Group) entityName() string { return g.Name }
func (g Group) entityARN() string  { return g.ARN }

// target reads a user, role or group of an account (kind metadata.IAMUser,
// metadata.IAMRole or KindGroup) and the ARN a decision on it names: its
// own, or, when it does not exist, the one it would have at the root
// path (what a denial names: a caller may not learn whether it exists).
func target[T entity](ctx context.Context, r metadata.Reader, account, kind, name string) (T, string, error) {
	v, err := loadEntity[T](ctx, r, account, kind, name)
	arn := v.entityARN()
	if arn == "" {
		arn = arnOf(account, kind, "/", name)
	}
	return v, arn, err
}

// readEntity authorizes action on a user, role or group of an account
// and returns it.
func readEntity[T entity](ctx context.Context, s *Service, account, kind, name, action string) (T, error) {
	v, arn, err := target[T](ctx, s.meta, account, kind, name)
	if err2 := s.allow(ctx, action, arn); err2 != nil {
		var none T
		return none, err2
	}
	return v, err
}

// same reads, in a transaction, the entity a change was decided on:
// errMoved if its ARN is not the one decided, NoSuchEntity if it is gone.
func same[T entity](ctx context.Context, tx metadata.Tx, account, kind, name, decided string) (T, error) {
	v, arn, err := target[T](ctx, tx, account, kind, name)
	if arn != decided {
		return v, errMoved
	}
	return v, err
}

// changeEntity runs c on a user, role or group: decide authorizes it on
// the entity as a read before the transaction finds it (zero, with its
// root-path ARN, when it does not exist; NoSuchEntity then follows a
// decision that allows), and fn makes it in a transaction that records
// c, on the entity as the transaction reads it.
func changeEntity[T entity](ctx context.Context, s *Service, c change, account, kind, name string,
	decide func(v T, arn string) error, fn func(tx metadata.Tx, v T) ([]string, error)) error {
	return s.decideThenUpdate(ctx, func() (change, string, error) {
		v, arn, err := target[T](ctx, s.meta, account, kind, name)
		if err2 := decide(v, arn); err2 != nil {
			return c, "", err2
		}
		return c, arn, err
	}, func(tx metadata.Tx, decided string) ([]string, error) {
		v, err := same[T](ctx, tx, account, kind, name, decided)
		if err != nil {
			return nil, err
		}
		return fn(tx, v)
	})
}

// renamed is the name, path and ARN a user or group of an account (kind
// "user" or "group") has once renamed to newName and moved to newPath (an
// empty one keeps its name or path).
func renamed(account, kind, name, path, newName, newPath string) (string, string, string) {
	name, path = cmp.Or(newName, name), cmp.Or(newPath, path)
	return name, path, arnOf(account, kind, path, name)
}

// allowOn is the decision of most changes of a user, role or group:
// the caller may take action on its ARN.
func allowOn[T entity](ctx context.Context, s *Service, action string) func(T, string) error {
	return func(_ T, arn string) error { return s.allow(ctx, action, arn) }
}

// editEntity authorizes c's action on a user, role or group, lets fn
// change it and saves it, in one transaction that records c.
func editEntity[T entity](ctx context.Context, s *Service, c change, account, kind, name string, fn func(tx metadata.Tx, v *T) error) error {
	return changeEntity(ctx, s, c, account, kind, name, allowOn[T](ctx, s, c.action), func(tx metadata.Tx, v T) ([]string, error) {
		if err := fn(tx, &v); err != nil {
			return nil, err
		}
		return []string{v.entityARN()}, saveEntity(ctx, tx, account, kind, v.entityName(), v, false)
	})
}
