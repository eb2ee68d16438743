package metadata

import (
	"context"
	"time"
)

// AuditEvent is one record of the audit trail: CloudTrail's record of an
// API call (Document, the JSON record as CloudTrail writes it), with the
// values LookupEvents selects by.
type AuditEvent struct {
	// Seq is given by the store when the event is appended; it orders the
	// events of one Time (newest first: the greater Seq).
	Seq   int64
	ID    string // the record's eventID
	Scope Scope  // recipientAccountId and awsRegion
	Time  time.Time
	// Name and Source are the record's eventName and eventSource.
	Name, Source string
	// Username is CloudTrail's Username lookup value: an IAM user's name,
	// a role session's name, "root".
	Username    string
	AccessKeyID string
	ReadOnly    bool
	// ResourceType (AWS::ECR::Repository) and ResourceName (its name or
	// ARN) are of the record's first resource, "" without one.
	ResourceType, ResourceName string
	Document                   []byte
}

// Audit lookup attributes: the AuditEvent value an AuditQuery selects by.
const (
	AuditByEventID      = "EventId"
	AuditByEventName    = "EventName"
	AuditByReadOnly     = "ReadOnly" // Value "true" or "false"
	AuditByUsername     = "Username"
	AuditByResourceType = "ResourceType"
	AuditByResourceName = "ResourceName"
	AuditByEventSource  = "EventSource"
	AuditByAccessKeyID  = "AccessKeyId"
)

// AuditQuery selects audit events of one registry scope, newest first.
type AuditQuery struct {
	Scope Scope
	// Attribute (one of the AuditBy constants, or "" for every event)
	// and the Value it must equal.
	Attribute, Value string
	// Start and End bound the events' Time, both included; a zero time
	// leaves that side open.
	Start, End time.Time
	// After, if set, continues a listing after that event (by Time, Seq).
	After *AuditCursor
	Limit int
}

// AuditCursor is the position of an event in the newest-first order.
type AuditCursor struct {
	Time time.Time
	Seq  int64
}

// AuditReader is the read side of the audit trail.
type AuditReader interface {
	// AuditEvents lists the events q selects, newest first (by Time,
	// then Seq), at most q.Limit of them.
	AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
}

// AuditWriter is the write side of the audit trail.
type AuditWriter interface {
	// AppendAuditEvents adds events; one whose ID is already recorded is
	// left as it is. It keeps nothing of events once it returns: the
	// trail's writer reuses their documents' bytes for its next batch.
	AppendAuditEvents(ctx context.Context, events []AuditEvent) error
	// PruneAuditEvents deletes up to limit events older than before and
	// says how many it deleted.
	PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int, error)
}
