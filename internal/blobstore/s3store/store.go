package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
)

// Store is a blobstore.Store in an S3 bucket, under a key prefix.
type Store struct {
	b *bucket
	// prefix is the store's key prefix: "" or ending in '/'.
	prefix string

	// writers are this process's open upload writers, by upload ID, so
	// that ReadUpload sees what one has buffered and not yet stored.
	writers sync.Map // string -> *uploadWriter

	spaces sync.Map   // namespace name -> *Store
	spaceM sync.Mutex // serializes creating namespaces

	folders sync.Map // keys of the folder objects stored by this process
}

var (
	_ blobstore.Store      = (*Store)(nil)
	_ blobstore.Namespaced = (*Store)(nil)
	_ blobstore.Presigner  = (*Store)(nil)
)

// bucket is what a store and its namespaces share.
type bucket struct {
	client  *s3.Client
	presign *s3.PresignClient
	name    string
	// where says where the bucket is, for error messages.
	where string
}

// Open parses url, s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true,
// and returns the store. Credentials come from the standard AWS chain
// (aws-sdk-go-v2's config.LoadDefaultConfig: the environment's
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, shared files, web
// identity, instance roles). Without endpoint, the store is in AWS S3
// itself. Open does not contact the server: Ready does.
func Open(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, nil)
}

// open is Open, with the HTTP client the S3 client sends through (nil:
// the SDK's).
func open(ctx context.Context, rawURL string, httpClient aws.HTTPClient) (*Store, error) {
	loc, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if loc.Region != "" {
		opts = append(opts, config.WithRegion(loc.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration for the blob store: %w", err)
	}
	if cfg.Region == "" {
		if loc.Endpoint == "" {
			return nil, errors.New("blob store URL: no region: add region=REGION to the URL or set AWS_REGION")
		}
		// S3-compatible servers mostly have one region, called so.
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.Endpoint != "" {
			o.BaseEndpoint = aws.String(loc.Endpoint)
		}
		o.UsePathStyle = loc.PathStyle
		// A server on a filesystem (versitygw) removes a key prefix's
		// directory with its last object, and a write below it that
		// races the removal fails with this code: the write did nothing,
		// and succeeds when sent again.
		o.Retryer = retry.AddWithErrorCodes(retry.NewStandard(), "ExistingObjectIsDirectory")
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
	})
	where := "AWS S3 (" + cfg.Region + ")"
	if loc.Endpoint != "" {
		where = loc.Endpoint
	}
	b := &bucket{client: client, presign: s3.NewPresignClient(client), name: loc.Bucket, where: where}
	prefix := ""
	if loc.Prefix != "" {
		prefix = loc.Prefix + "/"
	}
	return &Store{b: b, prefix: prefix}, nil
}

// Key layout, under the store's prefix (see doc.go).
const (
	blobsDir      = "blobs/"
	uploadsDir    = "uploads/"
	namespacesDir = "namespaces/"
	stateName     = "state"
	nsMarker      = ".namespace"
)

func (s *Store) blobKey(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("blob key for %q: %w", d, err)
	}
	return s.prefix + blobsDir + string(d.Algorithm()) + "/" + d.Encoded(), nil
}

// uploadKey is the key of object name of upload id.
func (s *Store) uploadKey(id, name string) string {
	return s.prefix + uploadsDir + id + "/" + name
}

// validID reports whether id may name an upload. IDs come from URLs:
// only plain names, nothing that could reach another key.
func validID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(isAlnum(c) || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// folder stores the folder object (an empty object whose key ends in
// '/') of a prefix under which objects come and go, once per process.
// S3 needs none; a server on a filesystem (versitygw) removes the
// directory of a prefix with its last object unless a folder object
// holds it, and a write below it at that moment fails.
func (s *Store) folder(ctx context.Context, rel string) error {
	key := s.prefix + rel
	if _, ok := s.folders.Load(key); ok {
		return nil
	}
	if _, err := s.b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.b.name, Key: &key, Body: bytes.NewReader(nil)}); err != nil {
		return fmt.Errorf("storing folder object %s: %w", key, err)
	}
	s.folders.Store(key, true)
	return nil
}

// Stat implements blobstore.Store.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return 0, err
	}
	out, err := s.b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.b.name, Key: &key})
	if err != nil {
		return 0, s.b.fail(err, "blob %s", d)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Open implements blobstore.Store. The reader fetches the blob with
// ranged GETs as it is read, from where it was sought to.
func (s *Store) Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return nil, err
	}
	out, err := s.b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.b.name, Key: &key})
	if err != nil {
		return nil, s.b.fail(err, "blob %s", d)
	}
	return &blobReader{ctx: ctx, b: s.b, key: key, what: string(d), size: aws.ToInt64(out.ContentLength), etag: aws.ToString(out.ETag)}, nil
}

// Delete implements blobstore.Store.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	key, err := s.blobKey(d)
	if err != nil {
		return err
	}
	if err := s.b.deleteKey(ctx, key); err != nil {
		return fmt.Errorf("deleting blob %s: %w", d, err)
	}
	return nil
}

// Walk implements blobstore.Store by listing the keys under blobs/:
// garbage collection's sweep for orphans, which the metadata records
// guard (internal/registry/gc), so a listing that lags a write only
// delays a collection. Keys that do not name a blob are skipped.
func (s *Store) Walk(ctx context.Context, fn func(blobstore.BlobInfo) error) error {
	prefix := s.prefix + blobsDir
	p := s3.NewListObjectsV2Paginator(s.b.client, &s3.ListObjectsV2Input{Bucket: &s.b.name, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.b.fail(err, "listing blobs")
		}
		for _, o := range page.Contents {
			alg, hex, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/")
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
			if !ok || !d.Algorithm().Available() || d.Validate() != nil {
				continue
			}
			if err := fn(blobstore.BlobInfo{Digest: d, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Namespace implements blobstore.Namespaced: the namespace is a store
// under <prefix>/namespaces/<name>/, which a marker object there makes
// exist even while it holds nothing.
func (s *Store) Namespace(ctx context.Context, name string) (blobstore.Store, error) {
	if v, ok := s.spaces.Load(name); ok {
		return v.(*Store), nil
	}
	if !blobstore.ValidNamespace(name) {
		return nil, fmt.Errorf("invalid blob namespace name %q", name)
	}
	s.spaceM.Lock()
	defer s.spaceM.Unlock()
	if v, ok := s.spaces.Load(name); ok {
		return v.(*Store), nil
	}
	ns := &Store{b: s.b, prefix: s.prefix + namespacesDir + name + "/"}
	key := ns.prefix + nsMarker
	// Written again by every process that opens the namespace: it is
	// empty, so writing it twice changes nothing.
	if _, err := s.b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.b.name, Key: &key, Body: bytes.NewReader(nil)}); err != nil {
		return nil, s.b.fail(err, "creating blob namespace %s", name)
	}
	s.spaces.Store(name, ns)
	return ns, nil
}

// Namespaces implements blobstore.Namespaced by listing the prefixes
// under namespaces/ (garbage collection's walk of every space is a
// sweep, like Walk).
func (s *Store) Namespaces(ctx context.Context) ([]string, error) {
	prefix := s.prefix + namespacesDir
	p := s3.NewListObjectsV2Paginator(s.b.client, &s3.ListObjectsV2Input{Bucket: &s.b.name, Prefix: &prefix, Delimiter: aws.String("/")})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.b.fail(err, "listing blob namespaces")
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if blobstore.ValidNamespace(name) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

// Ready implements blobstore.Store with a HeadBucket, whose failure it
// explains.
func (s *Store) Ready(ctx context.Context) error {
	_, err := s.b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.b.name})
	if err == nil {
		return nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusForbidden:
			return fmt.Errorf("blob storage: %s refused access to bucket %q (HTTP 403): check the credentials the AWS chain provides (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, shared files, web identity, instance role) and that they may use the bucket: %w", s.b.where, s.b.name, err)
		case http.StatusNotFound:
			return fmt.Errorf("blob storage: bucket %q does not exist at %s: create it first: %w", s.b.name, s.b.where, err)
		case http.StatusMovedPermanently:
			return fmt.Errorf("blob storage: bucket %q is in another region than the one configured: set region= in the blob store URL: %w", s.b.name, err)
		}
	}
	return fmt.Errorf("blob storage: bucket %q at %s is not reachable: %w", s.b.name, s.b.where, err)
}

// Close implements blobstore.Store. The store holds nothing open beyond
// idle connections, which the HTTP client reuses or drops.
func (s *Store) Close() error { return nil }

// PresignGet implements blobstore.Presigner with a presigned GetObject.
func (s *Store) PresignGet(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return "", err
	}
	// SigV4 presigned URLs live at most a week.
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", fmt.Errorf("presigned URL lifetime %v: want more than 0 and at most 7 days", ttl)
	}
	req, err := s.b.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.b.name, Key: &key}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presigning blob %s: %w", d, err)
	}
	return req.URL, nil
}

// deleteKey deletes an object; a missing one is not an error.
func (b *bucket) deleteKey(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key})
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// fail wraps an S3 error, as blobstore.ErrNotFound for a missing object.
func (b *bucket) fail(err error, format string, args ...any) error {
	if isNotFound(err) {
		return fmt.Errorf(format+": %w", append(args, blobstore.ErrNotFound)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// isNotFound reports whether err says an object does not exist. A HEAD
// has no body to say why, so a missing bucket looks the same; Ready tells
// them apart.
func isNotFound(err error) bool {
	return errorCode(err) == "NoSuchKey" || errorCode(err) == "NotFound"
}

func isPreconditionFailed(err error) bool { return errorCode(err) == "PreconditionFailed" }

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// copySource is the x-amz-copy-source of a key of the bucket.
func (b *bucket) copySource(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return b.name + "/" + strings.Join(segs, "/")
}
