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

// GraphImage is an image with what a lifecycle evaluation needs: its tags
// and, for an index, the manifests it lists.
type GraphImage struct {
	ImageSummary
	Children []digest.Digest
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
