package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/ecrd/ecrd/internal/metadata"
)

func (r *reader) IAMEntity(ctx context.Context, account, kind, name string) (metadata.IAMEntity, error) {
	e := metadata.IAMEntity{Account: account, Kind: kind}
	var doc string
	err := r.q.QueryRow(ctx, `SELECT name, document FROM iam_entities WHERE account = $1 AND kind = $2 AND name_key = $3`,
		account, kind, strings.ToLower(name)).Scan(&e.Name, &doc)
	if err != nil {
		return e, notFound(err, "IAM %s %s of account %s", kind, name, account)
	}
	e.Document = []byte(doc)
	return e, nil
}

func (r *reader) IAMEntities(ctx context.Context, account, kind string) ([]metadata.IAMEntity, error) {
	rows, err := r.q.Query(ctx, `SELECT name, document FROM iam_entities WHERE account = $1 AND kind = $2 ORDER BY name_key`, account, kind)
	return scanAll(rows, err, func(sc scanner) (metadata.IAMEntity, error) {
		e := metadata.IAMEntity{Account: account, Kind: kind}
		var doc string
		err := sc.Scan(&e.Name, &doc)
		e.Document = []byte(doc)
		return e, err
	})
}

func (w *writeTx) DeleteAccessKey(ctx context.Context, id string) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM access_keys WHERE id = $1`, id))("access key %s", id)
}

func (w *writeTx) CreateIAMEntity(ctx context.Context, e metadata.IAMEntity) error {
	// The account is checked in the statement rather than left to the
	// foreign key, whose violation would abort the transaction.
	n, err := affected(w.q.Exec(ctx, `INSERT INTO iam_entities (account, kind, name_key, name, document)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::text WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1)
		ON CONFLICT DO NOTHING`,
		e.Account, e.Kind, strings.ToLower(e.Name), e.Name, string(e.Document)))
	if err != nil || n == 1 {
		return err
	}
	if _, err := w.Account(ctx, e.Account); err != nil {
		return err
	}
	return fmt.Errorf("IAM %s %s of account %s: %w", e.Kind, e.Name, e.Account, metadata.ErrExists)
}

func (w *writeTx) UpdateIAMEntity(ctx context.Context, e metadata.IAMEntity) error {
	return expectOne(w.q.Exec(ctx, `UPDATE iam_entities SET document = $1 WHERE account = $2 AND kind = $3 AND name_key = $4`,
		string(e.Document), e.Account, e.Kind, strings.ToLower(e.Name)))("IAM %s %s of account %s", e.Kind, e.Name, e.Account)
}

func (w *writeTx) DeleteIAMEntity(ctx context.Context, account, kind, name string) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM iam_entities WHERE account = $1 AND kind = $2 AND name_key = $3`,
		account, kind, strings.ToLower(name)))("IAM %s %s of account %s", kind, name, account)
}
