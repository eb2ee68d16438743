package metadata

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Storage classes of an image.
const (
	StorageStandard = "STANDARD"
	StorageArchive  = "ARCHIVE"
)

// Image statuses: an image is archived in the archive storage class,
// activating while a restore from archive completes, active otherwise.
const (
	ImageActive     = "ACTIVE"
	ImageArchived   = "ARCHIVED"
	ImageActivating = "ACTIVATING"
)

// Status returns the image's status at time now.
func (img *Image) Status(now time.Time) string {
	switch {
	case img.StorageClass == StorageArchive:
		return ImageArchived
	case img.LastActivatedAt.After(now):
		return ImageActivating
	}
	return ImageActive
}

// GraphImage is an image with what a lifecycle evaluation needs and no
// more: an evaluation holds every image of a repository at once (100,000
// in ECR's largest), so each field here costs that many times over.
type GraphImage struct {
	Digest digest.Digest
	Tags   []string
	// Subject is the digest of the manifest this one refers to, or empty.
	Subject digest.Digest
	// Children are the manifests the image, an index, lists.
	Children []digest.Digest
	// StorageClass is StorageStandard or StorageArchive (those constants,
	// not copies of them).
	StorageClass string
	PushedAt     time.Time
	// LastPulledAt, LastArchivedAt and LastActivatedAt are as in Image.
	LastPulledAt, LastArchivedAt, LastActivatedAt time.Time
}

// InternStorageClass returns the constant equal to a storage class read
// from a store, so that 100,000 images share two strings.
func InternStorageClass(s string) string {
	switch s {
	case StorageStandard:
		return StorageStandard
	case StorageArchive:
		return StorageArchive
	}
	return s
}

// LifecyclePolicy is a repository's lifecycle policy.
type LifecyclePolicy struct {
	RepoID int64
	Repo   RepoKey
	Text   string
	// UpdatedAt is when the text was last put.
	UpdatedAt time.Time
	// LastEvaluatedAt is when the policy last ran (zero: never).
	LastEvaluatedAt time.Time
}

// LifecyclePreview is a repository's latest lifecycle policy preview.
type LifecyclePreview struct {
	RepoID     int64
	Text       string
	Status     string
	StartedAt  time.Time
	EvaluateAt time.Time
	// Results is the registry core's document of the outcome (left out
	// when a preview is read: see Reader.LifecyclePreviewResults).
	Results []byte
}

// PullTimeExclusion is a principal whose pulls do not update images' last
// pull times.
type PullTimeExclusion struct {
	Principal string
	CreatedAt time.Time
}
