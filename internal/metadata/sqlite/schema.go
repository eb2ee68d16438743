package sqlite

// migrations bring a database from version i (PRAGMA user_version) to i+1.
// Never edit a released migration: append a new one.
var migrations = []string{
	`
CREATE TABLE repositories (
	id         INTEGER PRIMARY KEY,
	account    TEXT    NOT NULL,
	region     TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (account, region, name)
);

-- Which blobs a repository may read. The size is the blob's, repeated per
-- link so that a HEAD needs one lookup.
CREATE TABLE repository_blobs (
	repo_id   INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
	digest    TEXT    NOT NULL,
	size      INTEGER NOT NULL,
	linked_at INTEGER NOT NULL,
	PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE images (
	repo_id        INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
	digest         TEXT    NOT NULL,
	media_type     TEXT    NOT NULL,
	artifact_type  TEXT    NOT NULL,
	size           INTEGER NOT NULL,
	subject        TEXT,
	annotations    TEXT,
	pushed_at      INTEGER NOT NULL,
	last_pulled_at INTEGER,
	content        BLOB    NOT NULL,
	PRIMARY KEY (repo_id, digest)
);
CREATE INDEX images_by_subject ON images (repo_id, subject) WHERE subject IS NOT NULL;

CREATE TABLE image_refs (
	repo_id INTEGER NOT NULL,
	digest  TEXT    NOT NULL,
	ref     TEXT    NOT NULL,
	kind    INTEGER NOT NULL,
	PRIMARY KEY (repo_id, digest, ref),
	FOREIGN KEY (repo_id, digest) REFERENCES images (repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX image_refs_by_ref ON image_refs (repo_id, ref);

CREATE TABLE tags (
	repo_id    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	digest     TEXT    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (repo_id, name),
	FOREIGN KEY (repo_id, digest) REFERENCES images (repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags (repo_id, digest);

CREATE TABLE uploads (
	id         TEXT    PRIMARY KEY,
	account    TEXT    NOT NULL,
	region     TEXT    NOT NULL,
	repo       TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	size       INTEGER NOT NULL,
	hash_state BLOB
);
`,
	`
CREATE TABLE accounts (
	id         TEXT    PRIMARY KEY,
	created_at INTEGER NOT NULL
);

CREATE TABLE access_keys (
	id         TEXT    PRIMARY KEY,
	account    TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	principal  TEXT    NOT NULL,
	secret     BLOB    NOT NULL, -- sealed under the server key
	status     TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX access_keys_by_account ON access_keys (account);

-- JSON documents: the registry core defines their fields.
ALTER TABLE repositories ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE repositories ADD COLUMN tags     TEXT NOT NULL DEFAULT '[]';

-- What the image weighs: its layers and config (an index: its largest child).
ALTER TABLE images ADD COLUMN image_size INTEGER NOT NULL DEFAULT 0;

-- The length of the last part of an ECR UploadLayerPart upload (parts but
-- the last must be at least 5 MiB).
ALTER TABLE uploads ADD COLUMN last_part INTEGER NOT NULL DEFAULT 0;

-- Covers tags_by_digest and lists an image's tags in order.
CREATE INDEX tags_for_images ON tags (repo_id, digest, name);
DROP INDEX tags_by_digest;

CREATE TABLE creation_templates (
	account    TEXT    NOT NULL,
	region     TEXT    NOT NULL,
	prefix     TEXT    NOT NULL,
	document   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (account, region, prefix)
) WITHOUT ROWID;

CREATE TABLE account_settings (
	account TEXT NOT NULL,
	region  TEXT NOT NULL,
	name    TEXT NOT NULL,
	value   TEXT NOT NULL,
	PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
`, `
-- The archive storage class. An image is ARCHIVED when storage_class is
-- ARCHIVE; ACTIVATING while a restore is under way (activated_at, the time
-- the restore completes, still in the future); ACTIVE otherwise.
ALTER TABLE images ADD COLUMN storage_class TEXT NOT NULL DEFAULT 'STANDARD';
ALTER TABLE images ADD COLUMN archived_at   INTEGER;
ALTER TABLE images ADD COLUMN activated_at  INTEGER;

CREATE TABLE lifecycle_policies (
	repo_id           INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
	text              TEXT    NOT NULL,
	updated_at        INTEGER NOT NULL,
	last_evaluated_at INTEGER
);

-- The latest lifecycle policy preview of each repository. Results are a
-- JSON document the registry core defines.
CREATE TABLE lifecycle_previews (
	repo_id     INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
	text        TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	started_at  INTEGER NOT NULL,
	evaluate_at INTEGER NOT NULL,
	results     BLOB
);

-- Principals whose pulls do not update images' last pull times.
CREATE TABLE pull_time_exclusions (
	account    TEXT    NOT NULL,
	region     TEXT    NOT NULL,
	principal  TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (account, region, principal)
) WITHOUT ROWID;

-- Background jobs hold a lease so that processes sharing the database
-- never run the same job twice.
CREATE TABLE leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every blob the blob store holds, for garbage collection: touched_at is
-- the last time a push wrote or linked it; deleting is set while a
-- collection removes its bytes, so that a push of the same digest waits.
CREATE TABLE blobs (
	digest     TEXT    PRIMARY KEY,
	size       INTEGER NOT NULL,
	touched_at INTEGER NOT NULL,
	deleting   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO blobs (digest, size, touched_at)
	SELECT digest, MAX(size), MAX(linked_at) FROM repository_blobs GROUP BY digest;
`, `
-- The blobs a collection is deleting (few, usually none): a collection
-- that died is finished without reading every blob record.
CREATE INDEX blobs_deleting ON blobs (digest) WHERE deleting = 1;
`, `
-- Images in push order, as lifecycle policies read them (the rowid breaks
-- ties), without a sort.
CREATE INDEX images_by_push ON images (repo_id, pushed_at);
`, `
-- Each registry's permissions policy (PutRegistryPolicy).
CREATE TABLE registry_policies (
	account TEXT NOT NULL,
	region  TEXT NOT NULL,
	text    TEXT NOT NULL,
	PRIMARY KEY (account, region)
) WITHOUT ROWID;
`, `
-- IAM users, roles, customer managed policies and OIDC providers, one
-- document each; name_key is the name in lower case, since IAM names are
-- unique regardless of case.
CREATE TABLE iam_entities (
	account  TEXT NOT NULL REFERENCES accounts (id),
	kind     TEXT NOT NULL,
	name_key TEXT NOT NULL,
	name     TEXT NOT NULL,
	document TEXT NOT NULL,
	PRIMARY KEY (account, kind, name_key)
) WITHOUT ROWID;
`, `
-- Image scans: a job while pending or in progress (holder and lease_until
-- say which process runs it until when), the outcome afterwards, with the
-- package list continuous scanning matches again when the vulnerability
-- data changes.
CREATE TABLE image_scans (
	repo_id           INTEGER NOT NULL,
	digest            TEXT    NOT NULL,
	status            TEXT    NOT NULL,
	description       TEXT    NOT NULL,
	requested_at      INTEGER NOT NULL,
	attempts          INTEGER NOT NULL,
	not_before        INTEGER NOT NULL,
	holder            TEXT    NOT NULL,
	lease_until       INTEGER NOT NULL,
	completed_at      INTEGER,
	source_version    TEXT    NOT NULL,
	source_updated_at INTEGER,
	counts            TEXT    NOT NULL,
	findings          BLOB,
	packages          BLOB,
	PRIMARY KEY (repo_id, digest),
	FOREIGN KEY (repo_id, digest) REFERENCES images (repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX image_scans_queue ON image_scans (status, not_before) WHERE status IN ('PENDING', 'IN_PROGRESS');

-- Events recorded for delivery (an outbox), in order.
CREATE TABLE events (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	account  TEXT    NOT NULL,
	region   TEXT    NOT NULL,
	at       INTEGER NOT NULL,
	type     TEXT    NOT NULL,
	document BLOB    NOT NULL
);
`,
	// 9: the outbox records every change: its source and the resource
	// that changed, and is pruned by age.
	`
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN resource TEXT NOT NULL DEFAULT '';
CREATE INDEX events_at ON events (at);
`,
	// 10: replication: a task per image and destination registry, the
	// backfills of registries, and named cursors (the outbox's followers).
	`
-- A task copies one image of a repository to one destination registry.
-- generation grows each time the task is queued; holder and lease_until
-- say which process copies it until when ('' and 0: none); not_before
-- and lease_until are 0 for the zero time.
CREATE TABLE replication_tasks (
	repo_id      INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
	digest       TEXT    NOT NULL,
	dest_account TEXT    NOT NULL,
	dest_region  TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	failure_code TEXT    NOT NULL,
	attempts     INTEGER NOT NULL,
	not_before   INTEGER NOT NULL,
	holder       TEXT    NOT NULL,
	lease_until  INTEGER NOT NULL,
	generation   INTEGER NOT NULL,
	backfill_id  TEXT    NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (repo_id, digest, dest_account, dest_region)
) WITHOUT ROWID;
-- The due tasks, oldest not_before first.
CREATE INDEX replication_tasks_queue ON replication_tasks (not_before) WHERE status = 'IN_PROGRESS';
-- The claims of a process, renewed and released by its name.
CREATE INDEX replication_tasks_held ON replication_tasks (holder) WHERE holder <> '';
-- A backfill's tasks, all or by status, in image order.
CREATE INDEX replication_tasks_backfill ON replication_tasks (backfill_id, repo_id, digest) WHERE backfill_id <> '';
CREATE INDEX replication_tasks_backfill_status ON replication_tasks (backfill_id, status, repo_id, digest) WHERE backfill_id <> '';

-- Backfills: the registry core's document, with what the store selects by.
CREATE TABLE replication_backfills (
	account    TEXT    NOT NULL,
	region     TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	active     INTEGER NOT NULL,
	document   BLOB    NOT NULL,
	PRIMARY KEY (account, region, id)
) WITHOUT ROWID;
CREATE INDEX replication_backfills_active ON replication_backfills (started_at, id) WHERE active = 1;
CREATE INDEX replication_backfills_ended ON replication_backfills (started_at) WHERE active = 0;

-- Named positions (in the outbox, for its followers).
CREATE TABLE cursors (
	name  TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// 11: the audit trail: CloudTrail's records, looked up by one
	// attribute within a time range, newest first. The attributes people
	// look up by (event name, user name, resource name) have an index
	// ending in (at, seq), so that a lookup is a range scan; the others
	// (source, access key, read-only, resource type) scan the time range:
	// every request writes a record, and each index costs each write.
	`
CREATE TABLE audit_events (
	seq           INTEGER PRIMARY KEY,
	event_id      TEXT    NOT NULL UNIQUE,
	account       TEXT    NOT NULL,
	region        TEXT    NOT NULL,
	at            INTEGER NOT NULL,
	event_name    TEXT    NOT NULL,
	event_source  TEXT    NOT NULL,
	username      TEXT    NOT NULL,
	access_key_id TEXT    NOT NULL,
	read_only     INTEGER NOT NULL,
	resource_type TEXT    NOT NULL,
	resource_name TEXT    NOT NULL,
	document      BLOB    NOT NULL
);
CREATE INDEX audit_events_scope ON audit_events (account, region, at, seq);
CREATE INDEX audit_events_name ON audit_events (account, region, event_name, at, seq);
CREATE INDEX audit_events_username ON audit_events (account, region, username, at, seq);
CREATE INDEX audit_events_resource_name ON audit_events (account, region, resource_name, at, seq);
CREATE INDEX audit_events_at ON audit_events (at);
	`,
	// 12: CloudWatch datapoints.
	`
-- CloudWatch datapoints: the statistics of one period of one series.
-- One-minute points are rolled up into five-minute ones, those into
-- hourly ones, as they age (internal/cloudwatch); period_start is in nanoseconds.
CREATE TABLE metric_datapoints (
	account      TEXT    NOT NULL,
	region       TEXT    NOT NULL,
	namespace    TEXT    NOT NULL,
	metric       TEXT    NOT NULL,
	dimensions   TEXT    NOT NULL,
	period       INTEGER NOT NULL,
	period_start INTEGER NOT NULL,
	sample_sum   REAL    NOT NULL,
	sample_count REAL    NOT NULL,
	sample_min   REAL    NOT NULL,
	sample_max   REAL    NOT NULL,
	PRIMARY KEY (account, region, namespace, metric, dimensions, period, period_start)
) WITHOUT ROWID;
-- Roll-ups and pruning take the oldest points of a period.
CREATE INDEX metric_datapoints_age ON metric_datapoints (period, period_start);
`,
	// 13: images in push order with the digest breaking ties, both ways,
	// as a repository's images page in the console.
	`
-- images_by_push stays: lifecycle policies break ties by insertion order
-- (the rowid), which this index does not keep.
CREATE INDEX images_by_push_digest ON images (repo_id, pushed_at, digest);
`,
	// 14: the audit trail's lookups without an indexed attribute go by
	// audit_events_at, whose entries are (at, seq) as SQLite keeps the
	// rowid in every index: the index by scope repeated it, led by an
	// account and region that one deployment mostly has one of, and cost
	// every request's record an insert.
	`
DROP INDEX audit_events_scope;
`,
	// 15: the digest an upload session is being finished as (see
	// metadata.Upload.Finishing).
	`
ALTER TABLE uploads ADD COLUMN finishing TEXT NOT NULL DEFAULT '';
`,
}
