package metadata

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Image scan statuses. ScanPending and ScanInProgress are the states of a
// queued scan job; the others are outcomes, as ECR's imageScanStatus names
// them.
const (
	ScanPending     = "PENDING"
	ScanInProgress  = "IN_PROGRESS"
	ScanComplete    = "COMPLETE"
	ScanFailed      = "FAILED"
	ScanUnsupported = "UNSUPPORTED_IMAGE"
)

// ImageScan is an image's vulnerability scan: a job while it is pending or
// in progress, its outcome afterwards. The registry core gives the fields
// meaning; the store keeps them and hands out jobs (Tx.ClaimImageScans).
type ImageScan struct {
	RepoID int64
	Digest digest.Digest
	// Repo is filled when a scan is read.
	Repo        RepoKey
	Status      string
	Description string
	// RequestedAt is when a scan was last asked for (by a push or on
	// demand).
	RequestedAt time.Time
	// The job: attempts made so far, when it may next run, and which
	// process holds it until when.
	Attempts   int
	NotBefore  time.Time
	Holder     string
	LeaseUntil time.Time
	// The outcome: when the scan completed, the vulnerability data it was
	// matched against (its version and update time), the findings per
	// severity, the findings and the image's package list (the registry's
	// documents). Findings and Packages are left empty by listings.
	CompletedAt     time.Time
	SourceVersion   string
	SourceUpdatedAt time.Time
	Counts          map[string]int
	Findings        []byte
	Packages        []byte
}

// ScanCursor is a position in the order of (repository ID, digest).
type ScanCursor struct {
	RepoID int64
	Digest digest.Digest
}

// Event is a change recorded in the outbox, in the order of the commits
// that recorded them: every change to the registry, IAM or KMS appends
// one in its own transaction (see internal/outbox, which defines the
// document: EventBridge's envelope).
type Event struct {
	// ID is assigned when the event is recorded. IDs only grow in commit
	// order: an event is never committed with an ID lower than one a
	// reader has seen, so a follower that reads after the last ID it saw
	// misses nothing.
	ID       int64
	Scope    Scope
	Time     time.Time
	Source   string // the envelope's source: aws.ecr, aws.iam, aws.kms
	Type     string // the envelope's detail-type
	Resource string // the ARN of the resource that changed, if one did
	Document []byte
}
