package outbox

import (
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// More of ECR's own detail types.
const (
	// TypeReferrerAction is ECR's event of a referrer (a manifest with a
	// subject: signature, SBOM, attestation) whose storage class changed.
	TypeReferrerAction = "ECR Referrer Action"
	// TypeArtifactAction is that event for a non-image artifact.
	TypeArtifactAction = "ECR Artifact Action"
	// TypeScanResourceChange is ECR's event of repositories whose
	// enhanced scanning frequency changed.
	TypeScanResourceChange = "ECR Scan Resource Change"
	// TypeServiceEvent is a change a service made on its own, delivered
	// via CloudTrail (a lifecycle policy's actions).
	TypeServiceEvent = "AWS Service Event via CloudTrail"
)

// StorageClassChange is an image archived, or restored from archive.
type StorageClassChange struct {
	RepositoryARN, Repository string
	Digest, Tag               string
	// Kind is TypeImageAction, TypeReferrerAction or TypeArtifactAction.
	Kind               string
	ManifestMediaType  string
	ArtifactMediaType  string
	TargetStorageClass string // ARCHIVE or STANDARD
	LastActivatedAt    time.Time
}

// StorageClassAction makes ECR's event of an image whose storage class
// changed (action-type UPDATE_STORAGE_CLASS).
func StorageClassAction(scope metadata.Scope, at time.Time, c StorageClassChange) (metadata.Event, error) {
	detail := map[string]string{"result": "SUCCESS", "repository-name": c.Repository, "image-digest": c.Digest,
		"action-type": "UPDATE_STORAGE_CLASS", "target-storage-class": c.TargetStorageClass, "manifest-media-type": c.ManifestMediaType}
	if c.Tag != "" {
		detail["image-tag"] = c.Tag
	}
	if c.ArtifactMediaType != "" {
		detail["artifact-media-type"] = c.ArtifactMediaType
	}
	if !c.LastActivatedAt.IsZero() {
		detail["last-activated-at"] = c.LastActivatedAt.UTC().Format(time.RFC3339)
	}
	return New(scope, at, SourceECR, c.Kind, []string{c.RepositoryARN}, detail)
}

// serviceEvent is CloudTrail's record of a service acting on its own,
// the detail of an "AWS Service Event via CloudTrail" event.
type serviceEvent struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        Actor          `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []ctResource   `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	ServiceEventDetails map[string]any `json:"serviceEventDetails"`
	EventCategory       string         `json:"eventCategory"`
}

// ServiceEvent makes the record of a service acting on its own in a
// registry (CloudTrail's AwsServiceEvent: ECR's PolicyExecutionEvent for
// a lifecycle policy's actions), with the details the service gives.
func ServiceEvent(scope metadata.Scope, at time.Time, source, eventSource, eventName string, details map[string]any, resources ...string) (metadata.Event, error) {
	rec := serviceEvent{
		EventVersion: "1.08", UserIdentity: Actor{Type: "AWSService", AccountID: scope.Account, InvokedBy: "AWS Internal"},
		EventTime: at.UTC().Format(time.RFC3339), EventSource: eventSource, EventName: eventName, AWSRegion: scope.Region,
		SourceIPAddress: "AWS Internal", UserAgent: "AWS Internal", EventID: awsid.NewTimeUUID(), EventType: "AwsServiceEvent",
		ManagementEvent: true, RecipientAccountID: scope.Account, ServiceEventDetails: details, EventCategory: "Management",
	}
	for _, arn := range resources {
		a, _ := awsid.Parse(arn)
		rec.Resources = append(rec.Resources, ctResource{AccountID: a.AccountID, ARN: arn})
	}
	return New(scope, at, source, TypeServiceEvent, resources, rec)
}
