// Package metadata defines ecrd's database: accounts and their access keys;
// repositories with their settings, the blobs each repository may read,
// images (manifests), tags and upload sessions; repository creation
// templates and account settings. Every registry record is keyed by
// account and region, so that one server hosts several accounts and
// regions as ECR does.
//
// A backend (sqlite, embedded in the data folder; postgres, shared by
// replicas) implements Store and passes the shared suite in metadatatest.
// The rules of the registry (what may be written when) live in the
// registry package, not in backends: a backend stores and retrieves,
// atomically.
package metadata

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors returned (possibly wrapped) by every backend.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrNoSpace: the storage under the database is full. The
	// transaction did not commit.
	ErrNoSpace = errors.New("no space left for the metadata database")
)

// Scope is one account's registry in one region.
type Scope struct {
	Account string // 12-digit AWS account ID
	Region  string
}

// RepoKey names a repository.
type RepoKey struct {
	Scope
	Name string
}

// Repository is a repository record.
type Repository struct {
	ID        int64
	Key       RepoKey
	CreatedAt time.Time
	Settings  RepositorySettings
	Tags      []ResourceTag // sorted by key
}

// RepositorySettings are a repository's ECR settings. The registry core
// gives them meaning and defaults; the store keeps them as they are.
type RepositorySettings struct {
	TagMutability        string   `json:"tagMutability,omitempty"`
	MutabilityExclusions []string `json:"mutabilityExclusions,omitempty"`
	EncryptionType       string   `json:"encryptionType,omitempty"`
	KMSKey               string   `json:"kmsKey,omitempty"`
	ScanOnPush           bool     `json:"scanOnPush,omitempty"`
	// Policy is the repository policy (an IAM resource policy), or "".
	Policy string `json:"policy,omitempty"`
	// BlobKey is the ARN of the KMS key whose data keys encrypt the
	// repository's blobs at rest, fixed when the repository is created;
	// "" means its blobs are stored as they are (AES256 repositories, and
	// KMS repositories created without a key service).
	BlobKey string `json:"blobKey,omitempty"`
}

// ResourceTag is a key-value tag on a resource.
type ResourceTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Account is an account record.
type Account struct {
	ID        string
	CreatedAt time.Time
}

// AccessKey is a long-term access key. Secret is sealed by the caller
// (see internal/keyring): the store never sees the secret in clear.
type AccessKey struct {
	ID        string
	Account   string
	Principal string // ARN of the principal it authenticates
	Secret    []byte
	Status    string // Active or Inactive
	CreatedAt time.Time
}

// IAMEntity is an IAM user, role, customer managed policy or OpenID
// Connect provider of an account. The identity core defines the document;
// the store keeps it opaque under the entity's kind and name, which is
// unique per account and kind regardless of case, as IAM's names are.
type IAMEntity struct {
	Account  string
	Kind     string // IAMUser, IAMRole, IAMPolicy, IAMOIDCProvider, KMSKey, KMSAlias or an EventBridge kind
	Name     string
	Document []byte
}

// IAM entity kinds.
const (
	IAMUser         = "user"
	IAMRole         = "role"
	IAMPolicy       = "policy"
	IAMOIDCProvider = "oidc-provider"
	// KMS keys and aliases are regional: their names start with the
	// region ("us-east-1/1234abcd-...", "us-east-1/alias/ecr").
	KMSKey   = "kms-key"
	KMSAlias = "kms-alias"
	// EventBridge rules (with their targets and tags), connections and
	// API destinations are regional too ("us-east-1/rule-name"; see
	// internal/events for how names keep their case).
	EventRule           = "events-rule"
	EventConnection     = "events-connection"
	EventAPIDestination = "events-api-destination"
	// Secrets Manager's secrets (with their encrypted versions, tags and
	// resource policy) are regional too, named as EventBridge's are.
	Secret = "secret"
)

// RegionalCaseSensitiveName is the entity name of a regional resource
// whose names are case-sensitive (EventBridge rules, secrets): its region,
// a slash, and its name with each capital escaped as '!' and the lower
// case letter, so that names differing only in case stay apart although
// entity names are compared regardless of case. The names it serves never
// contain '!'.
func RegionalCaseSensitiveName(region, name string) string {
	var b strings.Builder
	b.WriteString(region)
	b.WriteByte('/')
	for _, c := range name {
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('!')
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// CreationTemplate is a repository creation template of a registry. Its
// settings are the registry core's to define; the store keeps them as
// an opaque document.
type CreationTemplate struct {
	Scope     Scope
	Prefix    string
	Document  []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Blob is a blob linked into a repository.
type Blob struct {
	Digest digest.Digest
	Size   int64
}

// Image is a manifest stored in a repository.
type Image struct {
	RepoID       int64
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	// Size is the manifest's size in bytes.
	Size int64
	// ImageSize is what the image weighs: its config and layers, or for an
	// index its largest child (ECR's imageSizeInBytes).
	ImageSize int64
	// Subject is the digest of the manifest this one refers to (OCI
	// referrers), or empty.
	Subject digest.Digest
	// Annotations are the manifest's annotations, kept for the referrers
	// API without re-parsing the manifest.
	Annotations map[string]string
	PushedAt    time.Time
	// LastPulledAt is zero if the image was never pulled.
	LastPulledAt time.Time
	// StorageClass is StorageStandard or StorageArchive.
	StorageClass string
	// LastArchivedAt is when the image last moved to archive (zero: never).
	LastArchivedAt time.Time
	// LastActivatedAt is when the image's last restore from archive
	// completes (zero: never restored); while it is in the future the
	// image is still being restored.
	LastActivatedAt time.Time
	// Content is the manifest as pushed. It is filled by Image and Tag
	// lookups, and left empty by listings.
	Content []byte
}

// RefKind says what a manifest references.
type RefKind int

// Kinds of references from a manifest.
const (
	RefBlob     RefKind = iota // config or layer
	RefManifest                // child of an index
)

// Ref is one reference from a manifest to a blob or a child manifest.
type Ref struct {
	Digest digest.Digest
	Kind   RefKind
}

// Upload is a blob upload session.
type Upload struct {
	ID        string
	Repo      RepoKey
	StartedAt time.Time
	UpdatedAt time.Time
	// Size is how many bytes were received and acknowledged.
	Size int64
	// HashState is the serialized state of the running digest over those
	// bytes, so that the next chunk continues it (empty: recompute).
	HashState []byte
	// LastPart is the length of the last chunk received.
	LastPart int64
	// Finishing is the digest the session's bytes are being committed
	// as, set (durably) before the blob store's commit when the link that
	// ends the session is not waited for: a restart that finds the
	// session's bytes gone and that blob stored links it (see the
	// registry's Recover). Empty otherwise.
	Finishing digest.Digest
}

// Reader is the read side of the store.
type Reader interface {
	GCReader
	ReplicationReader
	AuditReader
	MetricsReader

	// Account returns an account, or ErrNotFound.
	Account(ctx context.Context, id string) (Account, error)
	// Accounts lists every account in ID order.
	Accounts(ctx context.Context) ([]Account, error)
	// AccessKey returns an access key, or ErrNotFound.
	AccessKey(ctx context.Context, id string) (AccessKey, error)
	// AccessKeys lists an account's access keys in ID order ("" for all).
	AccessKeys(ctx context.Context, account string) ([]AccessKey, error)
	// IAMEntity returns an entity by kind and name (in any case), or
	// ErrNotFound.
	IAMEntity(ctx context.Context, account, kind, name string) (IAMEntity, error)
	// IAMEntities lists an account's entities of a kind in name order
	// (ignoring case).
	IAMEntities(ctx context.Context, account, kind string) ([]IAMEntity, error)

	// CreationTemplates lists a registry's repository creation templates in
	// prefix order.
	CreationTemplates(ctx context.Context, scope Scope) ([]CreationTemplate, error)
	// AccountSetting returns a registry setting, or ErrNotFound if unset.
	AccountSetting(ctx context.Context, scope Scope, name string) (string, error)
	// AccountSettings returns a registry's settings whose names start
	// with prefix, by name.
	AccountSettings(ctx context.Context, scope Scope, prefix string) (map[string]string, error)
	// RegistryPolicy returns a registry's permissions policy, or
	// ErrNotFound.
	RegistryPolicy(ctx context.Context, scope Scope) (string, error)

	// Repository returns the repository named by key, or ErrNotFound.
	Repository(ctx context.Context, key RepoKey) (Repository, error)
	// Repositories lists a scope's repositories in name order, starting
	// after the name after, at most limit of them.
	Repositories(ctx context.Context, scope Scope, after string, limit int) ([]Repository, error)
	// RepositoryImageCount returns how many images a repository holds.
	RepositoryImageCount(ctx context.Context, repoID int64) (int, error)
	// RepositorySummaries sums up the active images of each repository
	// of repoIDs in one aggregate query. A repository without any (an
	// empty one, or an ID that names none) is absent from the map: its
	// summary is the zero value.
	RepositorySummaries(ctx context.Context, repoIDs []int64) (map[int64]RepositorySummary, error)

	// Blob returns the blob d if it is linked into repository repoID.
	Blob(ctx context.Context, repoID int64, d digest.Digest) (Blob, error)
	// BlobRepositories lists repositories of the scope that link blob d (at
	// most limit), to mount a blob without a named source.
	BlobRepositories(ctx context.Context, scope Scope, d digest.Digest, limit int) ([]Repository, error)

	// Image returns the manifest d of repository repoID, with its content.
	Image(ctx context.Context, repoID int64, d digest.Digest) (Image, error)
	// Tag returns the manifest a tag points to, with its content.
	Tag(ctx context.Context, repoID int64, tag string) (Image, error)
	// Tags lists tags of a repository in lexical order, after the tag after,
	// at most limit of them.
	Tags(ctx context.Context, repoID int64, after string, limit int) ([]string, error)
	// Images lists a repository's images that pass filter in digest order,
	// after the digest after, at most limit of them, each with its tags
	// (sorted) and without its content.
	Images(ctx context.Context, repoID int64, filter ImageFilter, after digest.Digest, limit int) ([]ImageSummary, error)
	// ImagesByPush lists a repository's images that pass filter in push
	// order: by push time then digest, oldest first, or newest first
	// (both keys descending) when newest is set; after the image at the
	// cursor after (the zero cursor: from the start), at most limit of
	// them, each with its tags (sorted) and without its content. A page
	// is an index range scan, wherever it starts.
	ImagesByPush(ctx context.Context, repoID int64, filter ImageFilter, newest bool, after PushCursor, limit int) ([]ImageSummary, error)
	// ImageTags lists the tags of one image, sorted.
	ImageTags(ctx context.Context, repoID int64, d digest.Digest) ([]string, error)
	// Referrers lists the images of a repository whose subject is d.
	Referrers(ctx context.Context, repoID int64, d digest.Digest) ([]Image, error)
	// Parents lists the digests of images in the repository that reference
	// d (indexes that list it as a child).
	Parents(ctx context.Context, repoID int64, d digest.Digest) ([]digest.Digest, error)
	// BlobUsers lists the digests of images in the repository that
	// reference blob d (as config or layer), at most limit of them.
	BlobUsers(ctx context.Context, repoID int64, d digest.Digest, limit int) ([]digest.Digest, error)

	// ImageGraph lists every image of a repository in push order (oldest
	// first), with its tags and the manifests it references as an index,
	// without content: what a lifecycle policy is evaluated over.
	ImageGraph(ctx context.Context, repoID int64) ([]GraphImage, error)

	// LifecyclePolicy returns a repository's lifecycle policy, or
	// ErrNotFound.
	LifecyclePolicy(ctx context.Context, repoID int64) (LifecyclePolicy, error)
	// LifecyclePolicies lists the policies of every registry in repository
	// ID order, after the repository ID after, at most limit of them.
	LifecyclePolicies(ctx context.Context, after int64, limit int) ([]LifecyclePolicy, error)
	// LifecyclePreview returns a repository's latest preview without its
	// results, or ErrNotFound.
	LifecyclePreview(ctx context.Context, repoID int64) (LifecyclePreview, error)
	// LifecyclePreviewResults returns the results of a repository's latest
	// preview, or ErrNotFound.
	LifecyclePreviewResults(ctx context.Context, repoID int64) ([]byte, error)
	// PullTimeExclusions lists a registry's pull-time update exclusions in
	// principal order.
	PullTimeExclusions(ctx context.Context, scope Scope) ([]PullTimeExclusion, error)

	// ImageScan returns an image's scan with its findings and package
	// list, or ErrNotFound.
	ImageScan(ctx context.Context, repoID int64, d digest.Digest) (ImageScan, error)
	// ImageScanSummaries returns the scans of the given images of a
	// repository that have one, without findings or package lists.
	ImageScanSummaries(ctx context.Context, repoID int64, digests []digest.Digest) (map[digest.Digest]ImageScan, error)
	// StaleImageScans lists completed scans with a package list that were
	// matched against another vulnerability data version than version, in
	// (repository ID, digest) order after the cursor, at most limit of
	// them, with their package lists and without findings.
	StaleImageScans(ctx context.Context, version string, after ScanCursor, limit int) ([]ImageScan, error)
	// Events lists recorded events after the ID after, oldest first, at
	// most limit of them.
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
	// LastEventID returns the ID of the newest event, 0 if there is none.
	LastEventID(ctx context.Context) (int64, error)

	// Upload returns an upload session, or ErrNotFound.
	Upload(ctx context.Context, id string) (Upload, error)
	// Uploads lists every upload session (for expiry and recovery).
	Uploads(ctx context.Context) ([]Upload, error)
}

// RepositorySummary is what a repository holds, as a listing of
// repositories shows it. It counts the images in the standard storage
// class: those DescribeImages lists by default, less the archived ones
// (which are kept, but must be restored to be pulled). An image whose
// restore from archive is still completing (ACTIVATING) counts already:
// the store has no clock to tell, and it is active within the restore's
// delay. A deleted image is gone from the store, so it never counts.
type RepositorySummary struct {
	Images int
	// Bytes is the sum of the images' ImageSize, as DescribeImages reports
	// imageSizeInBytes (an index weighs its largest child, which is also
	// counted on its own).
	Bytes int64
	// LastPushedAt is the latest push time of those images (zero: none).
	LastPushedAt time.Time
}

// ImageFilter selects images in a listing.
type ImageFilter struct {
	// Tagged selects: nil for all, true for tagged images only, false for
	// untagged only.
	Tagged *bool
	// Status selects by image status: "" for all, or ImageActive,
	// ImageArchived or ImageActivating as of the time Now.
	Status string
	Now    time.Time
	// IDsOnly leaves every field of the images Images lists zero but
	// their digests and tags: a listing of image IDs reads less.
	// ImagesByPush, whose order needs the push times, ignores it.
	IDsOnly bool
}

// PushCursor is a position in a listing of images in push order: the
// push time and digest of the last image a page returned. The zero
// cursor is the start of the listing.
type PushCursor struct {
	PushedAt time.Time
	Digest   digest.Digest
}

// IsZero reports whether c is the start of a listing.
func (c PushCursor) IsZero() bool { return c.Digest == "" }

// ImageSummary is an image in a listing: its record (no content) and tags.
type ImageSummary struct {
	Image
	Tags []string
}

// Tx is a write transaction. Everything done through it is committed
// together or not at all.
type Tx interface {
	Reader
	GCWriter
	ReplicationWriter
	AuditWriter
	MetricsWriter

	// CreateAccount creates an account, or returns ErrExists.
	CreateAccount(ctx context.Context, a Account) error
	// PutAccessKey creates or replaces an access key.
	PutAccessKey(ctx context.Context, k AccessKey) error
	// DeleteAccessKey removes an access key, or returns ErrNotFound.
	DeleteAccessKey(ctx context.Context, id string) error
	// CreateIAMEntity stores a new entity, or returns ErrExists when one
	// of its kind has the same name in any case.
	CreateIAMEntity(ctx context.Context, e IAMEntity) error
	// UpdateIAMEntity replaces an entity's document, or returns
	// ErrNotFound.
	UpdateIAMEntity(ctx context.Context, e IAMEntity) error
	// DeleteIAMEntity removes an entity, or returns ErrNotFound.
	DeleteIAMEntity(ctx context.Context, account, kind, name string) error

	// CreateRepository creates a repository with its settings and tags, or
	// returns ErrExists. The returned record has its ID.
	CreateRepository(ctx context.Context, repo Repository) (Repository, error)
	// UpdateRepository replaces a repository's settings and tags.
	UpdateRepository(ctx context.Context, repo Repository) error
	// DeleteRepository removes a repository and everything in it (images,
	// tags, blob links, upload sessions), or returns ErrNotFound.
	DeleteRepository(ctx context.Context, repoID int64) error

	// PutCreationTemplate creates or replaces a creation template.
	PutCreationTemplate(ctx context.Context, t CreationTemplate) error
	// DeleteCreationTemplate removes one, or returns ErrNotFound.
	DeleteCreationTemplate(ctx context.Context, scope Scope, prefix string) error
	// PutAccountSetting sets a registry setting.
	PutAccountSetting(ctx context.Context, scope Scope, name, value string) error
	// DeleteAccountSetting unsets a registry setting (unset already: no
	// error).
	DeleteAccountSetting(ctx context.Context, scope Scope, name string) error
	// PutRegistryPolicy sets a registry's permissions policy.
	PutRegistryPolicy(ctx context.Context, scope Scope, text string) error
	// DeleteRegistryPolicy removes it, or returns ErrNotFound.
	DeleteRegistryPolicy(ctx context.Context, scope Scope) error

	// LinkBlob makes blob b readable through repository repoID. Linking a
	// blob twice is not an error: it raises the link's LinkedAt to now.
	LinkBlob(ctx context.Context, repoID int64, b Blob, now time.Time) error
	// UnlinkBlob removes the link, or returns ErrNotFound.
	UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error

	// PutImage stores a manifest and what it references. Putting a manifest
	// that exists keeps its push time.
	PutImage(ctx context.Context, img Image, refs []Ref) error
	// DeleteImage removes a manifest, its references and its tags, or
	// returns ErrNotFound.
	DeleteImage(ctx context.Context, repoID int64, d digest.Digest) error
	// PutTag points tag at manifest d (which must exist in the repository).
	PutTag(ctx context.Context, repoID int64, tag string, d digest.Digest, now time.Time) error
	// DeleteTag removes a tag, or returns ErrNotFound.
	DeleteTag(ctx context.Context, repoID int64, tag string) error

	// SetImageStorage records an image's storage class and the times of
	// its last archive and restore, or returns ErrNotFound.
	SetImageStorage(ctx context.Context, repoID int64, d digest.Digest, class string, archivedAt, activatedAt time.Time) error
	// SetImageTimes sets an image's push time and last pull time (a zero
	// time leaves the value as it is), or returns ErrNotFound.
	SetImageTimes(ctx context.Context, repoID int64, d digest.Digest, pushedAt, lastPulledAt time.Time) error

	// PutLifecyclePolicy creates or replaces a repository's lifecycle
	// policy text (keeping its last evaluation time).
	PutLifecyclePolicy(ctx context.Context, repoID int64, text string, now time.Time) error
	// DeleteLifecyclePolicy removes it, or returns ErrNotFound.
	DeleteLifecyclePolicy(ctx context.Context, repoID int64) error
	// SetLifecycleEvaluated records when a repository's policy last ran.
	SetLifecycleEvaluated(ctx context.Context, repoID int64, at time.Time) error
	// PutLifecyclePreview creates or replaces a repository's preview.
	PutLifecyclePreview(ctx context.Context, p LifecyclePreview) error

	// PutPullTimeExclusion adds a principal to a registry's exclusions, or
	// returns ErrExists.
	PutPullTimeExclusion(ctx context.Context, scope Scope, e PullTimeExclusion) error
	// DeletePullTimeExclusion removes one, or returns ErrNotFound.
	DeletePullTimeExclusion(ctx context.Context, scope Scope, principal string) error

	// AcquireLease takes or renews the lease name for holder until the
	// time until, if it is free (never taken, expired at now, or already
	// holder's). It reports whether holder has the lease.
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease gives up holder's lease, if it still has it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// ReleaseLeasesOf gives up every lease whose holder starts with
	// prefix (a process's name and "/": what its previous run held when
	// it died) and returns how many it freed.
	ReleaseLeasesOf(ctx context.Context, prefix string) (int, error)

	// PutImageScan creates or replaces an image's scan (the image must
	// exist; deleting the image deletes its scan).
	PutImageScan(ctx context.Context, s ImageScan) error
	// ClaimImageScans hands holder up to limit scan jobs until the time
	// until, oldest request first: pending ones whose NotBefore has come,
	// and ones in progress whose holder's lease expired at now (its
	// process died). Claimed jobs are in progress, without findings or
	// package lists.
	ClaimImageScans(ctx context.Context, holder string, now, until time.Time, limit int) ([]ImageScan, error)
	// ReleaseImageScans puts the jobs holder has in progress back in the
	// queue (for a process that restarted under the same name) and says
	// how many there were.
	ReleaseImageScans(ctx context.Context, holder string) (int, error)
	// RenewImageScan extends holder's lease of a scan job until the time
	// until, and reports whether holder still held it.
	RenewImageScan(ctx context.Context, repoID int64, d digest.Digest, holder string, until time.Time) (bool, error)
	// AppendEvent records an event; its ID is assigned.
	AppendEvent(ctx context.Context, e Event) error
	// PruneEvents removes up to limit of the oldest events recorded
	// before the time before and returns how many it removed.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)

	// PutUpload creates or replaces an upload session.
	PutUpload(ctx context.Context, u Upload) error
	// DeleteUpload removes an upload session; a missing one is not an error.
	DeleteUpload(ctx context.Context, id string) error
}

// Pull records that an image was pulled at a time.
type Pull struct {
	RepoID int64
	Digest digest.Digest
	At     time.Time
}

// Store is a metadata backend.
type Store interface {
	Reader
	// Update runs fn in a write transaction and commits it if fn returns
	// nil. Write transactions are serialized with each other, so a rule
	// checked inside one still holds when it commits.
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateNoSync is Update for state that a machine crash may lose
	// without harm (upload sessions, whose loss only makes a client start
	// its upload again): it is ordered with every other write and made
	// durable by the next Update (or Syncer.Sync), but does not wait for
	// the disk.
	UpdateNoSync(ctx context.Context, fn func(Tx) error) error
	// RecordPulls raises the last-pull times of images (never lowers
	// them); images deleted meanwhile are skipped.
	RecordPulls(ctx context.Context, pulls []Pull) error
	// Ready reports whether the store can serve requests.
	Ready(ctx context.Context) error
	Close() error
}

// Syncer is implemented by a store that can make durable, at once, the
// commits of UpdateNoSync that came before: a caller may then commit
// without waiting and wait for the disk beside other work.
type Syncer interface {
	// Sync returns once every transaction committed before the call is
	// durable.
	Sync(ctx context.Context) error
}

// SyncerOf returns the store's Syncer, looking through wrappers that name
// the store they wrap (Unwrap), or nil.
func SyncerOf(s Store) Syncer {
	for range 8 {
		if y, ok := s.(Syncer); ok {
			return y
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return nil
		}
		s = u.Unwrap()
	}
	return nil
}

// EventWaiter is implemented by a store that can wake a follower of the
// outbox when an event is appended, by this process or by another sharing
// the database, without waiting for the follower's next poll.
type EventWaiter interface {
	// EventAfter returns a channel that is closed once an event with an ID
	// above after may have been recorded. It may close early: a closed
	// channel only asks the caller to read Events. While the store cannot
	// listen, the channel stays open, so callers poll as well.
	EventAfter(after int64) <-chan struct{}
}
