package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ecrd/ecrd/internal/metadata"
)

// auditColumns are the columns that hold each lookup attribute.
var auditColumns = map[string]string{
	metadata.AuditByEventID:      "event_id",
	metadata.AuditByEventName:    "event_name",
	metadata.AuditByReadOnly:     "read_only",
	metadata.AuditByUsername:     "username",
	metadata.AuditByResourceType: "resource_type",
	metadata.AuditByResourceName: "resource_name",
	metadata.AuditByEventSource:  "event_source",
	metadata.AuditByAccessKeyID:  "access_key_id",
}

func (r *reader) AuditEvents(ctx context.Context, q metadata.AuditQuery) ([]metadata.AuditEvent, error) {
	var (
		sb   strings.Builder
		args = []any{q.Scope.Account, q.Scope.Region}
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sb.WriteString(`SELECT seq, event_id, account, region, at, event_name, event_source, username, access_key_id,
		read_only, resource_type, resource_name, document FROM audit_events WHERE account = $1 AND region = $2`)
	if q.Attribute != "" {
		col, ok := auditColumns[q.Attribute]
		if !ok {
			return nil, fmt.Errorf("no lookup attribute %q", q.Attribute)
		}
		var v any = q.Value
		if q.Attribute == metadata.AuditByReadOnly {
			v = q.Value == "true"
		}
		sb.WriteString(" AND " + col + " = " + arg(v))
	}
	if !q.Start.IsZero() {
		sb.WriteString(" AND at >= " + arg(q.Start))
	}
	if !q.End.IsZero() {
		sb.WriteString(" AND at <= " + arg(q.End))
	}
	if q.After != nil {
		sb.WriteString(" AND (at, seq) < (" + arg(q.After.Time) + ", " + arg(q.After.Seq) + ")")
	}
	sb.WriteString(" ORDER BY at DESC, seq DESC LIMIT " + arg(q.Limit))
	rows, err := r.q.Query(ctx, sb.String(), args...)
	return scanAll(rows, err, func(sc scanner) (metadata.AuditEvent, error) {
		var (
			e  metadata.AuditEvent
			at pgtype.Timestamptz
		)
		err := sc.Scan(&e.Seq, &e.ID, &e.Scope.Account, &e.Scope.Region, &at, &e.Name, &e.Source, &e.Username,
			&e.AccessKeyID, &e.ReadOnly, &e.ResourceType, &e.ResourceName, &e.Document)
		e.Time = tm(at)
		return e, err
	})
}

// AppendAuditEvents inserts a batch in one statement, from arrays.
func (w *writeTx) AppendAuditEvents(ctx context.Context, events []metadata.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		ids, accounts, regions, names, sources = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		users, keys, types, resources          = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at                                     = make([]time.Time, n)
		readOnly                               = make([]bool, n)
		docs                                   = make([][]byte, n)
	)
	for i, e := range events {
		ids[i], accounts[i], regions[i], at[i], names[i], sources[i] = e.ID, e.Scope.Account, e.Scope.Region, e.Time, e.Name, e.Source
		users[i], keys[i], readOnly[i], types[i], resources[i], docs[i] = e.Username, e.AccessKeyID, e.ReadOnly, e.ResourceType, e.ResourceName, e.Document
	}
	_, err := w.q.Exec(ctx, `INSERT INTO audit_events (event_id, account, region, at, event_name, event_source,
			username, access_key_id, read_only, resource_type, resource_name, document)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::boolean[], $10::text[], $11::text[], $12::bytea[])
		ON CONFLICT (event_id) DO NOTHING`,
		ids, accounts, regions, at, names, sources, users, keys, readOnly, types, resources, docs)
	return err
}

func (w *writeTx) PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return affected(w.q.Exec(ctx, `DELETE FROM audit_events WHERE seq IN
		(SELECT seq FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)`, before, limit))
}
