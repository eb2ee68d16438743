package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/ecrd/ecrd/internal/metadata"
)

func (r *reader) IAMEntity(ctx context.Context, account, kind, name string) (metadata.IAMEntity, error) {
	e := metadata.IAMEntity{Account: account, Kind: kind}
	var doc string
	err := r.q.QueryRowContext(ctx, `SELECT name, document FROM iam_entities WHERE account = ? AND kind = ? AND name_key = ?`,
		account, kind, strings.ToLower(name)).Scan(&e.Name, &doc)
	if err != nil {
		return e, notFound(err, "IAM %s %s of account %s", kind, name, account)
	}
	e.Document = []byte(doc)
	return e, nil
}

func (r *reader) IAMEntities(ctx context.Context, account, kind string) ([]metadata.IAMEntity, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT name, document FROM iam_entities WHERE account = ? AND kind = ? ORDER BY name_key`, account, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.IAMEntity
	for rows.Next() {
		e := metadata.IAMEntity{Account: account, Kind: kind}
		var doc string
		if err := rows.Scan(&e.Name, &doc); err != nil {
			return nil, err
		}
		e.Document = []byte(doc)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (w *writeTx) DeleteAccessKey(ctx context.Context, id string) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM access_keys WHERE id = ?`, id))("access key %s", id)
}

func (w *writeTx) CreateIAMEntity(ctx context.Context, e metadata.IAMEntity) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO iam_entities (account, kind, name_key, name, document) VALUES (?, ?, ?, ?, ?)`,
		e.Account, e.Kind, strings.ToLower(e.Name), e.Name, string(e.Document))
	if isConstraint(err) {
		if _, aerr := w.Account(ctx, e.Account); aerr != nil {
			return fmt.Errorf("account %s: %w", e.Account, metadata.ErrNotFound)
		}
		return fmt.Errorf("IAM %s %s of account %s: %w", e.Kind, e.Name, e.Account, metadata.ErrExists)
	}
	return err
}

func (w *writeTx) UpdateIAMEntity(ctx context.Context, e metadata.IAMEntity) error {
	return expectOne(w.tx.ExecContext(ctx, `UPDATE iam_entities SET document = ? WHERE account = ? AND kind = ? AND name_key = ?`,
		string(e.Document), e.Account, e.Kind, strings.ToLower(e.Name)))("IAM %s %s of account %s", e.Kind, e.Name, e.Account)
}

func (w *writeTx) DeleteIAMEntity(ctx context.Context, account, kind, name string) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM iam_entities WHERE account = ? AND kind = ? AND name_key = ?`,
		account, kind, strings.ToLower(name)))("IAM %s %s of account %s", kind, name, account)
}
