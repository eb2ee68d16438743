package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/scanner"
)

// pageSize is how many rows a table shows at once.
const pageSize = 50

func (h *Handler) repositoryRoutes() {
	m := h.mux
	m.HandleFunc("GET /console/repositories", h.session(h.repositories))
	m.HandleFunc("GET /console/repository", h.session(h.repository))
	m.HandleFunc("POST /console/repository/delete-image", h.session(h.deleteImage))
	m.HandleFunc("POST /console/repository/retag", h.session(h.retag))
	m.HandleFunc("POST /console/repository/storage-class", h.session(h.storageClass))
	m.HandleFunc("GET /console/image", h.session(h.image))
	m.HandleFunc("POST /console/image/scan", h.session(h.startScan))
}

// repoRow is a row of the repositories table.
type repoRow struct {
	Name        string
	URI         string
	Images      int
	Bytes       int64
	LastPush    any // time.Time, or nil when unknown
	Mutability  string
	Encryption  string
	ScanOnPush  bool
	Replication int // destinations this repository replicates to
}

type repositoriesView struct {
	Query   string
	Rows    []repoRow
	Next    string
	Notice  string
	HasMore bool
}

// repositories lists the registry's repositories, a page at a time,
// those whose names start with the search text.
func (h *Handler) repositories(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.FormValue("q"))
	rows, next, err := h.listRepositories(s.ctx, s.scope, q, r.FormValue("next"), pageSize)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	// Replication at a glance, for principals who may read the registry's
	// configuration; others see none rather than an error.
	if h.o.Registry.DescribeRegistry(s.ctx, s.scope) == nil {
		if rc, err := h.o.Registry.ReplicationConfiguration(s.ctx, s.scope); err == nil {
			for i := range rows {
				rows[i].Replication = len(rc.Targets(rows[i].Name))
			}
		}
	}
	h.render(w, r, s, http.StatusOK, "repositories", view{Title: "Repositories", Nav: "repositories",
		Data: repositoriesView{Query: q, Rows: rows, Next: next, HasMore: next != "", Notice: s.notice}})
}

// listRepositories reads one page of repositories with their image
// counts, sizes and last pushes.
func (h *Handler) listRepositories(ctx context.Context, scope metadata.Scope, prefix, token string, max int) ([]repoRow, string, error) {
	list, next, err := h.o.Registry.RepositorySummaries(ctx, scope, strings.ToLower(prefix), token, max)
	if err != nil {
		return nil, "", err
	}
	rows := make([]repoRow, 0, len(list))
	for _, l := range list {
		row := repoRow{Name: l.Key.Name, URI: h.o.Registry.RepositoryURI(l.Key), Images: l.Images, Bytes: l.Bytes,
			Mutability: orDefault(l.Settings.TagMutability, "MUTABLE"), Encryption: orDefault(l.Settings.EncryptionType, "AES256"),
			ScanOnPush: l.Settings.ScanOnPush}
		if !l.LastPushedAt.IsZero() {
			row.LastPush = l.LastPushedAt
		}
		rows = append(rows, row)
	}
	return rows, next, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// imageRow is a row of a repository's images table.
type imageRow struct {
	registry.ImageDetail
	Platforms []string // an index's children's platforms
	IsIndex   bool
}

// imageSort is an order the repository page sorts images in.
type imageSort struct {
	Param   string // the page's sort parameter
	Label   string // in the sort menu
	Caption string // what the table's caption says of the order
	order   registry.ImageOrder
}

// imageSorts are the repository page's orders, the default first. The
// server sorts, so that each page continues the order of the one before.
var imageSorts = []imageSort{
	{"pushed-desc", "Newest push first", "newest push first", registry.OrderPushedNewest},
	{"pushed-asc", "Oldest push first", "oldest push first", registry.OrderPushedOldest},
	{"digest", "Digest", "in digest order", registry.OrderDigest},
}

// sortNamed returns the order a sort parameter names, the default for
// any other.
func sortNamed(param string) imageSort {
	for _, o := range imageSorts {
		if o.Param == param {
			return o
		}
	}
	return imageSorts[0]
}

type repositoryView struct {
	Name       string
	Repository metadata.Repository
	Rows       []imageRow
	Next       string
	Notice     string
	Status     string // the image status filter: ACTIVE, ARCHIVED or ANY
	Sort       imageSort
	Sorts      []imageSort
	// PushedSort is where the Pushed column's header link goes: newest
	// first, or oldest first when the page is newest first.
	PushedSort string
}

// repository shows a repository's images, a page at a time, in the
// order the sort parameter names.
func (h *Handler) repository(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.FormValue("name")
	key := metadata.RepoKey{Scope: s.scope, Name: name}
	repos, _, err := h.o.Registry.DescribeRepositories(s.ctx, s.scope, []string{name}, "", 0)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	status := r.FormValue("status")
	if status != "ARCHIVED" && status != "ANY" {
		status = "ACTIVE"
	}
	sorting := sortNamed(r.FormValue("sort"))
	pushedSort := "pushed-desc"
	if sorting.order == registry.OrderPushedNewest {
		pushedSort = "pushed-asc"
	}
	imgs, next, err := h.o.Registry.DescribeImagesOrdered(s.ctx, key, registry.ImageFilter{Status: status}, sorting.order, r.FormValue("next"), pageSize)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	rows := make([]imageRow, len(imgs))
	for i, img := range imgs {
		rows[i] = imageRow{ImageDetail: img}
		if mt := img.MediaType; mt == manifest.MediaTypeOCIIndex || mt == manifest.MediaTypeDockerManifestList {
			rows[i].IsIndex = true
			rows[i].Platforms = h.platforms(s.ctx, key, img.Digest.String())
		}
	}
	h.render(w, r, s, http.StatusOK, "repository", view{Title: name, Nav: "repositories",
		Data: repositoryView{Name: name, Repository: repos[0], Rows: rows, Next: next, Notice: s.notice, Status: status,
			Sort: sorting, Sorts: imageSorts, PushedSort: pushedSort}})
}

// platforms returns the platforms an index lists ("linux/amd64", ...).
func (h *Handler) platforms(ctx context.Context, key metadata.RepoKey, d string) []string {
	img, err := h.o.Registry.Manifest(ctx, key, d, false)
	if err != nil {
		return nil
	}
	m, err := manifest.Parse(img.MediaType, img.Content)
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range m.Manifests {
		if p := c.Platform; p != nil {
			s := p.OS + "/" + p.Architecture
			if p.Variant != "" {
				s += "/" + p.Variant
			}
			out = append(out, s)
		} else if c.ArtifactType != "" {
			out = append(out, c.ArtifactType)
		}
	}
	return out
}

// repoBack is the repository page a change on it returns to.
func repoBack(r *http.Request, s *session) string {
	return "/console/repository?" + scopeQuery(s, "name", r.PostFormValue("name"))
}

func (h *Handler) deleteImage(w http.ResponseWriter, r *http.Request, s *session) {
	key := metadata.RepoKey{Scope: s.scope, Name: r.PostFormValue("name")}
	d := r.PostFormValue("digest")
	_, failures, err := h.o.Registry.BatchDeleteImage(s.ctx, key, []registry.ImageID{{Digest: d}})
	if err == nil && len(failures) > 0 {
		err = badRequest("the image was not deleted: " + failures[0].Detail)
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	back(w, r, repoBack(r, s), "Deleted "+d+".")
}

// retag puts an image's manifest under one more tag, as
// `aws ecr put-image` does.
func (h *Handler) retag(w http.ResponseWriter, r *http.Request, s *session) {
	key := metadata.RepoKey{Scope: s.scope, Name: r.PostFormValue("name")}
	d, tag := r.PostFormValue("digest"), strings.TrimSpace(r.PostFormValue("tag"))
	img, err := h.o.Registry.Manifest(s.ctx, key, d, false)
	if err == nil {
		_, err = h.o.Registry.PutImage(s.ctx, key, img.Content, img.MediaType, d, tag)
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	back(w, r, repoBack(r, s), "Tagged "+d+" as "+tag+".")
}

// storageClass archives or restores an image.
func (h *Handler) storageClass(w http.ResponseWriter, r *http.Request, s *session) {
	key := metadata.RepoKey{Scope: s.scope, Name: r.PostFormValue("name")}
	d, target := r.PostFormValue("digest"), r.PostFormValue("target")
	if target != metadata.StorageArchive && target != metadata.StorageStandard {
		h.fail(w, r, s, badRequest("the storage class must be ARCHIVE or STANDARD"))
		return
	}
	_, status, err := h.o.Registry.UpdateImageStorageClass(s.ctx, key, registry.ImageID{Digest: d}, target)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	back(w, r, repoBack(r, s), d+": "+status+".")
}

type imageView struct {
	Name      string
	Digest    string
	Image     metadata.Image
	Manifest  *manifest.Manifest
	Config    string // the config blob, indented, if small enough
	Referrers []metadata.Image
	Scan      *registry.ScanFindings
	ScanError string
	Findings  []scanner.Finding
	Packages  []pkgRow
	// Inventory is every package the scan found.
	Inventory []scanner.Package
	Severity  string
	Package   string
	Notice    string
}

type pkgRow struct {
	Name, Version, Ecosystem string
	Findings                 int
}

// maxConfig is the largest config blob the image page shows.
const maxConfig = 256 << 10

// image shows an image: its manifest's layers, its config, referrers,
// and its scan's findings with filters.
func (h *Handler) image(w http.ResponseWriter, r *http.Request, s *session) {
	name, d := r.FormValue("name"), r.FormValue("digest")
	key := metadata.RepoKey{Scope: s.scope, Name: name}
	img, err := h.o.Registry.Manifest(s.ctx, key, d, false)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := imageView{Name: name, Digest: d, Image: img, Severity: r.FormValue("severity"), Package: strings.TrimSpace(r.FormValue("package")), Notice: s.notice}
	if m, err := manifest.Parse(img.MediaType, img.Content); err == nil {
		v.Manifest = m
		if m.Config != nil && m.Config.Size <= maxConfig {
			v.Config = h.readConfig(s.ctx, key, m.Config.Digest.String())
		}
	}
	v.Referrers, _ = h.o.Registry.Referrers(s.ctx, key, d, "")
	findings, err := h.o.Registry.DescribeImageScanFindings(s.ctx, key, registry.ImageID{Digest: d}, "", 1000)
	if err != nil {
		v.ScanError = h.errorOf(err).Message
	} else {
		v.Scan = &findings
		pkgs := map[string]*pkgRow{}
		for _, f := range findings.Findings {
			k := f.Package + "\x00" + f.Version + "\x00" + f.Ecosystem
			if pkgs[k] == nil {
				pkgs[k] = &pkgRow{Name: f.Package, Version: f.Version, Ecosystem: f.Ecosystem}
			}
			pkgs[k].Findings++
			if (v.Severity == "" || f.Severity == v.Severity) && (v.Package == "" || strings.Contains(f.Package, v.Package)) {
				v.Findings = append(v.Findings, f)
			}
		}
		for _, p := range pkgs {
			v.Packages = append(v.Packages, *p)
		}
		slices.SortFunc(v.Packages, func(a, b pkgRow) int { return strings.Compare(a.Name+a.Version, b.Name+b.Version) })
		if inv, err := h.o.Registry.ImagePackages(s.ctx, key, registry.ImageID{Digest: d}); err == nil {
			v.Inventory = inv
		}
		slices.SortStableFunc(v.Findings, func(a, b scanner.Finding) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	}
	h.render(w, r, s, http.StatusOK, "image", view{Title: name + "@" + shortDigest(d), Nav: "repositories", Data: v})
}

// readConfig reads an image's config blob, indented for reading.
func (h *Handler) readConfig(ctx context.Context, key metadata.RepoKey, d string) string {
	_, rc, err := h.o.Registry.OpenBlob(ctx, key, d)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxConfig+1))
	if err != nil || len(b) > maxConfig {
		return ""
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"}

func severityRank(s string) int {
	if i := slices.Index(severities, s); i >= 0 {
		return i
	}
	return len(severities)
}

// startScan starts a scan of an image, as StartImageScan does.
func (h *Handler) startScan(w http.ResponseWriter, r *http.Request, s *session) {
	key := metadata.RepoKey{Scope: s.scope, Name: r.PostFormValue("name")}
	d := r.PostFormValue("digest")
	_, st, err := h.o.Registry.StartImageScan(s.ctx, key, registry.ImageID{Digest: d})
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	back(w, r, "/console/image?"+scopeQuery(s, "name", key.Name, "digest", d), "Scan "+strings.ToLower(st.Status)+".")
}
