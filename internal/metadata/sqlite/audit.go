package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

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
	sb.WriteString(`SELECT seq, event_id, account, region, at, event_name, event_source, username, access_key_id,
		read_only, resource_type, resource_name, document FROM audit_events WHERE account = ? AND region = ?`)
	if q.Attribute != "" {
		col, ok := auditColumns[q.Attribute]
		if !ok {
			return nil, fmt.Errorf("no lookup attribute %q", q.Attribute)
		}
		var v any = q.Value
		if q.Attribute == metadata.AuditByReadOnly {
			v = q.Value == "true"
		}
		sb.WriteString(" AND " + col + " = ?")
		args = append(args, v)
	}
	if !q.Start.IsZero() {
		sb.WriteString(" AND at >= ?")
		args = append(args, nanos(q.Start))
	}
	if !q.End.IsZero() {
		sb.WriteString(" AND at <= ?")
		args = append(args, nanos(q.End))
	}
	if q.After != nil {
		sb.WriteString(" AND (at, seq) < (?, ?)")
		args = append(args, nanos(q.After.Time), q.After.Seq)
	}
	sb.WriteString(" ORDER BY at DESC, seq DESC LIMIT ?")
	args = append(args, q.Limit)
	rows, err := r.q.QueryContext(ctx, sb.String(), args...)
	return scanAll(rows, err, func(sc scanner) (metadata.AuditEvent, error) {
		var (
			e  metadata.AuditEvent
			at int64
		)
		err := sc.Scan(&e.Seq, &e.ID, &e.Scope.Account, &e.Scope.Region, &at, &e.Name, &e.Source, &e.Username,
			&e.AccessKeyID, &e.ReadOnly, &e.ResourceType, &e.ResourceName, &e.Document)
		e.Time = fromNanos(sql.NullInt64{Int64: at, Valid: true})
		return e, err
	})
}

func (w *writeTx) AppendAuditEvents(ctx context.Context, events []metadata.AuditEvent) error {
	// One statement prepared for the batch: the trail writes a record per
	// request, and parsing the insert each time cost more than running it.
	return w.each(ctx, `INSERT INTO audit_events (event_id, account, region, at, event_name, event_source,
			username, access_key_id, read_only, resource_type, resource_name, document)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`, len(events), func(st *sql.Stmt, i int) error {
		e := events[i]
		_, err := st.ExecContext(ctx, e.ID, e.Scope.Account, e.Scope.Region, nanos(e.Time), e.Name, e.Source, e.Username, e.AccessKeyID,
			e.ReadOnly, e.ResourceType, e.ResourceName, e.Document)
		return err
	})
}

func (w *writeTx) PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return rowsAffected(w.tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq IN
		(SELECT seq FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)`, nanos(before), limit))
}
