package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	api "github.com/ecrd/ecrd/internal/api/ecr"
	"github.com/ecrd/ecrd/internal/version"
)

var importCmd = command{
	name:    "import",
	args:    "LAYOUT_DIR",
	summary: "push the images of an OCI layout into a running server, keeping their ages",
	about: `Pushes the images of an OCI image layout (what skopeo copy ... oci:DIR:TAG,
crane pull --format=oci and oras copy --to-oci-layout write) into a
repository of a running server, indexes with their children, and can give
them the push and last pull times they had where they came from, so that
lifecycle rules judge them by their real age. Blobs and manifests already
in the repository are not sent again: running an import twice is cheap.

Each image of the layout's index.json takes the tag of its
org.opencontainers.image.ref.name annotation: a tag (v1), or a full
reference (registry.example.com/team/app:v1) whose tag is used. Images
without one are pushed by digest.

A time is RFC 3339 (2024-05-01T12:00:00Z) or a date (2024-05-01, midnight
UTC). Setting times takes the action ecrd:SetImageTimes, which an
account's root has and an identity policy can allow.
` + clientAbout + `

Images are pushed through /v2 on the server's host, with the registry
password of GetAuthorizationToken.`,
}

// importOptions are the flags of ecrd import.
type importOptions struct {
	client     clientFlags
	dir        string
	repository string
	registryID string
	tags       []string
	pushedAt   time.Time
	pulledAt   time.Time
	create     bool
	quiet      bool
}

// importImages runs ecrd import.
func importImages(args []string, stdout, stderr io.Writer) int {
	var o importOptions
	var pushedAt, pulledAt string
	fs := importCmd.flagSet()
	o.client.register(fs)
	fs.StringVar(&o.repository, "repository", "", "the repository to import into (required)")
	fs.StringVar(&o.registryID, "registry-id", "", "the registry (account); default: the credentials'")
	fs.BoolVar(&o.create, "create", false, "create the repository if it does not exist")
	fs.Func("tag", "tag the layout's only image `TAG` instead of its names (repeatable)", func(s string) error {
		o.tags = append(o.tags, s)
		return nil
	})
	fs.StringVar(&pushedAt, "pushed-at", "", "set the images' push `TIME`")
	fs.StringVar(&pulledAt, "last-pulled-at", "", "set the images' last pull `TIME`")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	if len(args) == 0 {
		importCmd.usage(stderr, fs)
		return 2
	}
	dirs, status, ok := importCmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if err := o.check(dirs, pushedAt, pulledAt); err != nil {
		fmt.Fprintf(stderr, "ecrd import: %v (see ecrd import --help)\n", err)
		return 2
	}
	images, err := readLayout(o.dir, o.tags)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd import: %v\n", err)
		return 1
	}
	ctx := context.Background()
	imp, err := newImporter(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd import: %s\n", apiMessage(err))
		return 1
	}
	for _, img := range images {
		if err := imp.importImage(ctx, img); err != nil {
			fmt.Fprintf(stderr, "ecrd import: %s\n", apiMessage(err))
			return 1
		}
	}
	printSummary(stdout, imp.repoURI, images, o)
	return 0
}

// check completes the options from the command line's arguments and
// times, and checks them. Errors are left to the caller, to print as one
// line.
func (o *importOptions) check(dirs []string, pushedAt, pulledAt string) error {
	switch {
	case len(dirs) != 1:
		return fmt.Errorf("give one OCI layout folder (got %d): ecrd import --repository NAME DIR", len(dirs))
	case o.repository == "":
		return errors.New("--repository is required")
	}
	o.dir = dirs[0]
	for _, tag := range o.tags {
		if !tagRE.MatchString(tag) {
			return fmt.Errorf("--tag: %q is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)", tag)
		}
	}
	var err error
	if o.pushedAt, err = parseImportTime("--pushed-at", pushedAt); err != nil {
		return err
	}
	if o.pulledAt, err = parseImportTime("--last-pulled-at", pulledAt); err != nil {
		return err
	}
	if !o.pushedAt.IsZero() && !o.pulledAt.IsZero() && o.pulledAt.Before(o.pushedAt) {
		return errors.New("--last-pulled-at is before --pushed-at: an image cannot be pulled before it is pushed")
	}
	return nil
}

// parseImportTime reads a time flag; the zero time means not given. A time
// in the future is refused here, as the server would, but before anything
// is pushed.
func parseImportTime(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := parseWhen(s)
	if err != nil {
		return t, fmt.Errorf("%s: %v", flagName, err)
	}
	if t.After(time.Now()) {
		return t, fmt.Errorf("%s %s is in the future", flagName, t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// refNameAnnotation names an image of an OCI layout.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// tagRE is the OCI distribution spec's (and ECR's) tag grammar.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// layoutImage is one image of the layout: a manifest or an index that
// index.json lists, under any number of names.
type layoutImage struct {
	desc v1.Descriptor
	tags []string
	// manifests are its digest and those of the manifests it lists, at any
	// depth: each becomes an image of the repository whose times are set.
	manifests []v1.Hash
	// size is the bytes of its manifests and blobs, each counted once.
	size  int64
	blobs map[v1.Hash]int64
	item  remote.Taggable // a v1.Image or a v1.ImageIndex
}

// readLayout reads and checks an OCI image layout: every image it lists,
// with every manifest and blob they need present at its size, so that a
// broken layout fails before anything is pushed. tags, if given, replace
// the tags of the layout's only image.
func readLayout(dir string, tags []string) ([]*layoutImage, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder: give the folder of an OCI image layout (skopeo copy docker://IMAGE oci:DIR:TAG writes one)", dir)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout (no index.json): write one with skopeo copy docker://IMAGE oci:%s:TAG", dir, dir)
	}
	index, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, "index.json"), err)
	}
	im, err := index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, "index.json"), err)
	}
	var images []*layoutImage
	byDigest := make(map[v1.Hash]*layoutImage)
	tagged := make(map[string]v1.Hash)
	for _, d := range im.Manifests {
		var tag string
		if len(tags) == 0 { // --tag replaces the layout's names
			if tag, err = tagOfRefName(d.Annotations[refNameAnnotation]); err != nil {
				return nil, fmt.Errorf("%s: image %s: %w", dir, d.Digest, err)
			}
		}
		if other, dup := tagged[tag]; dup && tag != "" && other != d.Digest {
			return nil, fmt.Errorf("%s: tag %q names two images, %s and %s", dir, tag, other, d.Digest)
		}
		img := byDigest[d.Digest]
		if img == nil {
			if img, err = openImage(p, index, d); err != nil {
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
			byDigest[d.Digest] = img
			images = append(images, img)
		}
		if tag != "" && tagged[tag] != d.Digest {
			tagged[tag] = d.Digest
			img.tags = append(img.tags, tag)
		}
	}
	switch {
	case len(images) == 0:
		return nil, fmt.Errorf("%s holds no images (its index.json lists none)", dir)
	case len(tags) > 0 && len(images) > 1:
		return nil, fmt.Errorf("--tag names the layout's only image, but %s holds %d: tag them in the layout (its org.opencontainers.image.ref.name annotations) instead", dir, len(images))
	case len(tags) > 0:
		images[0].tags = tags
	}
	return images, nil
}

// tagOfRefName reads the tag out of an org.opencontainers.image.ref.name
// annotation. skopeo, oras and the OCI spec's examples write a tag; crane
// (--annotate-ref) and containerd write a full reference, whose tag is
// the part after the last ':' when no '/' follows it (a ':' before a '/'
// is a registry's port). A reference by digest without a tag, or no
// annotation, gives no tag: the image is pushed by digest. Anything else
// is an error rather than a guess.
func tagOfRefName(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	ref, _, byDigest := strings.Cut(s, "@")
	if !byDigest && tagRE.MatchString(ref) {
		return ref, nil
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i+1:], "/") && tagRE.MatchString(ref[i+1:]) {
		return ref[i+1:], nil
	}
	if byDigest {
		return "", nil
	}
	return "", fmt.Errorf("its %s annotation %q is neither a tag nor a reference with a tag: fix the layout, or give --tag if it holds one image", refNameAnnotation, s)
}

// openImage opens one image index.json lists and checks that the layout
// holds all of it.
func openImage(p layout.Path, index v1.ImageIndex, d v1.Descriptor) (*layoutImage, error) {
	img := &layoutImage{desc: d, blobs: make(map[v1.Hash]int64)}
	var err error
	switch {
	case d.MediaType.IsIndex():
		img.item, err = index.ImageIndex(d.Digest)
	case d.MediaType.IsImage():
		img.item, err = index.Image(d.Digest)
	default:
		return nil, fmt.Errorf("image %s has media type %q, which is neither an image manifest nor an index", d.Digest, d.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", d.Digest, err)
	}
	if err := img.walk(p, d); err != nil {
		return nil, fmt.Errorf("image %s: %w", d.Digest, err)
	}
	for _, n := range img.blobs {
		img.size += n
	}
	return img, nil
}

// walk records a manifest and what it references, depth first.
func (img *layoutImage) walk(p layout.Path, d v1.Descriptor) error {
	if _, seen := img.blobs[d.Digest]; seen {
		return nil
	}
	if err := img.addBlob(p, d); err != nil {
		return err
	}
	img.manifests = append(img.manifests, d.Digest)
	raw, err := p.Bytes(d.Digest)
	if err != nil {
		return err
	}
	if d.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}
		for _, c := range im.Manifests {
			if c.MediaType.IsIndex() || c.MediaType.IsImage() {
				err = img.walk(p, c)
			} else {
				err = img.addBlob(p, c)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if err := img.addBlob(p, m.Config); err != nil {
		return err
	}
	for _, l := range m.Layers {
		// Foreign layers are not pushed (remote skips them), and tools
		// do not copy them into layouts.
		if !l.MediaType.IsDistributable() {
			continue
		}
		if err := img.addBlob(p, l); err != nil {
			return err
		}
	}
	return nil
}

// addBlob checks that a blob is in the layout at its size and counts it.
func (img *layoutImage) addBlob(p layout.Path, d v1.Descriptor) error {
	file := filepath.Join(string(p), "blobs", d.Digest.Algorithm, d.Digest.Hex)
	fi, err := os.Stat(file)
	switch {
	case err != nil:
		return fmt.Errorf("%s is missing from the layout (blobs/%s/%s): copy the image into it again", d.Digest, d.Digest.Algorithm, d.Digest.Hex)
	case fi.Size() != d.Size:
		return fmt.Errorf("%s has %d bytes in the layout, but %d are expected: copy the image into it again", d.Digest, fi.Size(), d.Size)
	}
	img.blobs[d.Digest] = d.Size
	return nil
}

// importer pushes images into one repository of a running server.
type importer struct {
	o       importOptions
	c       *apiClient
	repo    name.Repository
	repoURI string
	auth    *registryAuth
	stderr  io.Writer
}

// newImporter connects to the server, checks the registry and makes sure
// the repository exists.
func newImporter(ctx context.Context, o importOptions, stderr io.Writer) (*importer, error) {
	c, err := o.client.newClient(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRegistryID(ctx, c, o.registryID); err != nil {
		return nil, err
	}
	uri, err := ensureRepository(ctx, c, o, stderr)
	if err != nil {
		return nil, err
	}
	// Images go to the host of the server's URL (which newClient
	// checked). go-containerregistry tries https first and keeps the
	// scheme that answers; an insecure registry may also answer plain
	// HTTP.
	u, err := url.Parse(c.endpoint)
	if err != nil {
		return nil, err
	}
	var nameOpts []name.Option
	if u.Scheme == "http" {
		nameOpts = append(nameOpts, name.Insecure)
	}
	repo, err := name.NewRepository(u.Host+"/"+o.repository, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", o.repository, err)
	}
	return &importer{
		o: o, c: c, repo: repo, repoURI: uri, stderr: stderr,
		auth: &registryAuth{c: c},
	}, nil
}

// checkRegistryID refuses a --registry-id other than the credentials' own
// account: the OCI API pushes into the registry of the password's account
// (the endpoint's host names no account), so the images would land
// elsewhere than the repository checked.
func checkRegistryID(ctx context.Context, c *apiClient, id string) error {
	if id == "" {
		return nil
	}
	out, err := c.ecr().DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil {
		return err
	}
	if own := aws.ToString(out.RegistryId); own != id {
		return fmt.Errorf("--registry-id %s: the credentials are account %s's, and images are pushed into the credentials' registry: use credentials of account %s", id, own, id)
	}
	return nil
}

// ensureRepository returns the repository's URI, creating the repository
// first with --create.
func ensureRepository(ctx context.Context, c *apiClient, o importOptions, stderr io.Writer) (string, error) {
	client := c.ecr()
	regID := optional(o.registryID)
	if o.create {
		out, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RegistryId: regID, RepositoryName: &o.repository})
		var exists *types.RepositoryAlreadyExistsException
		switch {
		case err == nil:
			if !o.quiet {
				fmt.Fprintf(stderr, "created repository %s\n", o.repository)
			}
			return aws.ToString(out.Repository.RepositoryUri), nil
		case !errors.As(err, &exists):
			return "", fmt.Errorf("creating repository %q: %w", o.repository, err)
		}
	}
	out, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: regID, RepositoryNames: []string{o.repository}})
	var notFound *types.RepositoryNotFoundException
	switch {
	case errors.As(err, &notFound):
		return "", fmt.Errorf("repository %q does not exist: create it first, or pass --create", o.repository)
	case err != nil:
		return "", err
	case len(out.Repositories) != 1:
		return "", fmt.Errorf("DescribeRepositories of %q answered %d repositories", o.repository, len(out.Repositories))
	}
	return aws.ToString(out.Repositories[0].RepositoryUri), nil
}

// importImage pushes one image under its tags (or by digest), then sets
// its times if asked.
func (imp *importer) importImage(ctx context.Context, img *layoutImage) error {
	label := imageLabel(img)
	imp.progressf("importing %s\n", label)
	start := time.Now()
	auth, err := imp.auth.get(ctx)
	if err != nil {
		return err
	}
	opts := []remote.Option{
		remote.WithAuth(auth),
		remote.WithUserAgent("ecrd-import/" + version.Version),
	}
	if err := imp.push(ctx, img, opts); err != nil {
		return err
	}
	if err := imp.setTimes(ctx, img); err != nil {
		return err
	}
	imp.progressf("imported %s in %s\n", label, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// push sends the image under each of its tags, or by digest, with one
// remote.Pusher: the first push sends what the repository lacks (remote
// asks with HEAD before each blob and manifest), and the others only put
// the manifest under a tag that does not name it yet.
func (imp *importer) push(ctx context.Context, img *layoutImage, opts []remote.Option) error {
	var refs []name.Reference
	for _, tag := range img.tags {
		refs = append(refs, imp.repo.Tag(tag))
	}
	if len(refs) == 0 {
		refs = append(refs, imp.repo.Digest(img.desc.Digest.String()))
	}
	var updates chan v1.Update
	if !imp.o.quiet {
		updates = make(chan v1.Update, 64)
		done := make(chan struct{})
		go imp.watch(img, updates, done)
		defer func() { close(updates); <-done }()
		opts = append(slices.Clip(opts), remote.WithProgress(updates))
	}
	p, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		// Push returns once its uploads have ended, so nothing sends on
		// updates after the last one.
		if err := p.Push(ctx, ref, img.item); err != nil {
			return fmt.Errorf("pushing %s as %s: %w", img.desc.Digest, ref.Identifier(), err)
		}
	}
	return nil
}

// progressInterval is how often a push reports its bytes; a push that
// ends sooner prints none.
const progressInterval = time.Second

// watch prints a push's progress until updates is closed.
func (imp *importer) watch(img *layoutImage, updates <-chan v1.Update, done chan<- struct{}) {
	defer close(done)
	last := time.Now()
	for u := range updates {
		if u.Error != nil || time.Since(last) < progressInterval {
			continue
		}
		last = time.Now()
		// remote learns the total as it goes; the layout knows it already.
		fmt.Fprintf(imp.stderr, "  %s: %s of %s\n", shortDigest(img.desc.Digest), humanBytes(u.Complete), humanBytes(max(u.Total, img.size)))
	}
}

// setTimes gives the image, and every manifest an index of it lists, the
// times of --pushed-at and --last-pulled-at: the children are images of
// the repository too, and lifecycle rules count their age.
func (imp *importer) setTimes(ctx context.Context, img *layoutImage) error {
	if imp.o.pushedAt.IsZero() && imp.o.pulledAt.IsZero() {
		return nil
	}
	in := api.SetImageTimesInput{RegistryId: optional(imp.o.registryID), RepositoryName: &imp.o.repository}
	if !imp.o.pushedAt.IsZero() {
		in.ImagePushedAt = &api.Timestamp{Time: imp.o.pushedAt}
	}
	if !imp.o.pulledAt.IsZero() {
		in.LastRecordedPullTime = &api.Timestamp{Time: imp.o.pulledAt}
	}
	for _, d := range img.manifests {
		in.ImageId = &api.ImageIdentifier{ImageDigest: aws.String(d.String())}
		if err := imp.c.call(ctx, "SetImageTimes", in, nil); err != nil {
			return fmt.Errorf("setting the times of %s (it is imported, with the time of this import): %s", d, describe(err))
		}
	}
	return nil
}

func (imp *importer) progressf(format string, args ...any) {
	if !imp.o.quiet {
		fmt.Fprintf(imp.stderr, format, args...)
	}
}

// registryAuth holds the registry password of GetAuthorizationToken,
// renewed when it nears its end, so that imports longer than its 12 hours
// go on.
type registryAuth struct {
	c       *apiClient
	auth    authn.Authenticator
	expires time.Time
}

func (a *registryAuth) get(ctx context.Context) (authn.Authenticator, error) {
	if a.auth != nil && time.Until(a.expires) > time.Hour {
		return a.auth, nil
	}
	out, err := a.c.ecr().GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return nil, fmt.Errorf("getting a registry password: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return nil, errors.New("GetAuthorizationToken answered no authorization data")
	}
	data := out.AuthorizationData[0]
	// The token is base64 of AWS:<password>, as docker's config.json keeps it.
	a.auth = authn.FromConfig(authn.AuthConfig{Auth: aws.ToString(data.AuthorizationToken)})
	a.expires = aws.ToTime(data.ExpiresAt)
	return a.auth, nil
}

// printSummary writes what was imported to stdout.
func printSummary(stdout io.Writer, repoURI string, images []*layoutImage, o importOptions) {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIGEST\tTAGS\tSIZE")
	all := make(map[v1.Hash]int64)
	for _, img := range images {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", img.desc.Digest, strings.Join(img.tags, ","), humanBytes(img.size))
		for d, n := range img.blobs {
			all[d] = n
		}
	}
	tw.Flush()
	var total int64
	for _, n := range all {
		total += n
	}
	fmt.Fprintf(stdout, "imported %d images, %s (%d bytes), into %s\n", len(images), humanBytes(total), total, repoURI)
	if !o.pushedAt.IsZero() {
		fmt.Fprintf(stdout, "pushed at %s\n", o.pushedAt.UTC().Format(time.RFC3339))
	}
	if !o.pulledAt.IsZero() {
		fmt.Fprintf(stdout, "last pulled at %s\n", o.pulledAt.UTC().Format(time.RFC3339))
	}
}

// imageLabel names an image on a progress line: digest, tags, size.
func imageLabel(img *layoutImage) string {
	tags := "untagged"
	if len(img.tags) > 0 {
		tags = strings.Join(img.tags, ", ")
	}
	return fmt.Sprintf("%s (%s; %s)", img.desc.Digest, tags, humanBytes(img.size))
}

// humanBytes writes a size in decimal units, as docker does.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, "kMGTP"[i])
}

// apiMessage turns an error into one line: an AWS SDK error as its code
// and message, without the SDK's request details.
func apiMessage(err error) string {
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &ae) {
		msg := ae.ErrorCode() + ": " + ae.ErrorMessage()
		// Keep the context our own wrapping added before the SDK's text.
		if prefix, _, ok := strings.Cut(err.Error(), ": operation error"); ok {
			msg = prefix + ": " + msg
		}
		return msg
	}
	return describe(err)
}

// shortDigest abbreviates a digest for progress lines, as docker does.
func shortDigest(h v1.Hash) string {
	return h.Algorithm + ":" + h.Hex[:min(12, len(h.Hex))]
}
