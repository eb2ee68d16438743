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

// auditIndexed are the attributes with an index of their own, led by
// (account, region): event ID's is unique, the others end in (at, seq).
var auditIndexed = map[string]bool{
	metadata.AuditByEventID:      true,
	metadata.AuditByEventName:    true,
	metadata.AuditByUsername:     true,
	metadata.AuditByResourceName: true,
}

func (r *reader) AuditEvents(ctx context.Context, q metadata.AuditQuery) ([]metadata.AuditEvent, error) {
	query, args, err := auditEventsSQL(q)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, query, args...)
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

// auditEventsSQL is AuditEvents's query and its arguments. Each lookup
// is one range scan of an index ending in (at, seq), newest first: an
// attribute's, or audit_events_at (plan_test checks).
func auditEventsSQL(q metadata.AuditQuery) (string, []any, error) {
	var (
		sb   strings.Builder
		args = []any{q.Scope.Account, q.Scope.Region}
	)
	sb.WriteString(`SELECT seq, event_id, account, region, at, event_name, event_source, username, access_key_id,
		read_only, resource_type, resource_name, document FROM audit_events WHERE `)
	if auditIndexed[q.Attribute] {
		sb.WriteString("account = ? AND region = ?")
	} else {
		// "+" keeps SQLite from seeking an attribute's index by its
		// (account, region) prefix and sorting: the time index, walked
		// newest first, is the plan.
		sb.WriteString("+account = ? AND +region = ?")
	}
	if q.Attribute != "" {
		col, ok := auditColumns[q.Attribute]
		if !ok {
			return "", nil, fmt.Errorf("no lookup attribute %q", q.Attribute)
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
	return sb.String(), args, nil
}

// auditInsertRows is how many records one INSERT statement carries: the
// trail writes a record per request, and per statement costs (binding
// through database/sql, stepping, resetting) weighed more than the rows.
// 64 rows of 12 values stay far below SQLite's limit of parameters.
const auditInsertRows = 64

// auditInsertFull is the INSERT of a full chunk, built once.
var auditInsertFull = auditInsert(auditInsertRows)

func (w *writeTx) AppendAuditEvents(ctx context.Context, events []metadata.AuditEvent) error {
	var args []any
	for len(events) > 0 {
		chunk := events[:min(len(events), auditInsertRows)]
		events = events[len(chunk):]
		args = args[:0]
		for _, e := range chunk {
			args = append(args, e.ID, e.Scope.Account, e.Scope.Region, nanos(e.Time), e.Name, e.Source, e.Username, e.AccessKeyID,
				e.ReadOnly, e.ResourceType, e.ResourceName, e.Document)
		}
		// Prepared once by the writer's statement cache (stmtcache.go):
		// compiling a statement of 768 parameters per batch cost more
		// than a tenth of a record's insert.
		query := auditInsertFull
		if len(chunk) < auditInsertRows {
			query = auditInsert(len(chunk)) // the rest of a batch
		}
		if _, err := w.tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

// auditInsert is the INSERT of n records.
func auditInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_events (event_id, account, region, at, event_name, event_source,
		username, access_key_id, read_only, resource_type, resource_name, document) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(" ON CONFLICT (event_id) DO NOTHING")
	return b.String()
}

func (w *writeTx) PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return rowsAffected(w.tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq IN
		(SELECT seq FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)`, nanos(before), limit))
}
