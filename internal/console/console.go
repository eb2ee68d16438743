package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	ecrapi "github.com/ecrd/ecrd/internal/api/ecr"
	"github.com/ecrd/ecrd/internal/audit"
	"github.com/ecrd/ecrd/internal/events"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CookieName is the session cookie's name.
const CookieName = "ecrd_console"

// maxForm bounds a form's body: the largest field is a policy document
// (ECR's limit is 10,240 characters) or a lifecycle policy (30,720).
const maxForm = 256 << 10

// csp is the Content-Security-Policy of every answer: this origin only,
// no inline script, no framing, forms posting here only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options are what the console shows.
type Options struct {
	Registry *registry.Registry
	Identity *identity.Service
	// Trail is the audit trail the audit page reads; nil hides the page.
	Trail *audit.Trail
	// Events is EventBridge's core, whose rules the events page lists.
	Events *events.Service
	// DefaultRegion is the region a session signed in with keys acts
	// in unless the form names another.
	DefaultRegion string
	Log           *slog.Logger
}

// Handler serves the console.
type Handler struct {
	o      Options
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static http.Handler
}

// New returns the console's handler, for the paths under /console/.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded folder is there at build time
	}
	h.static = http.StripPrefix("/console/static/", http.FileServerFS(sub))
	h.parseTemplates()
	h.routes()
	return h
}

// parseTemplates makes one template set per page: the layout with the
// page's own file.
func (h *Handler) parseTemplates() {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t := template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", f))
		h.pages[name] = t
	}
}

func (h *Handler) routes() {
	m := h.mux
	m.Handle("GET /console/static/", h.static)
	m.HandleFunc("GET /console/signin", h.signInPage)
	m.HandleFunc("POST /console/signin", h.signIn)
	m.HandleFunc("POST /console/signout", h.session(h.signOut))
	m.HandleFunc("GET /console/{$}", h.session(h.home))
	m.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
	h.repositoryRoutes()
	h.accessRoutes()
	h.registryRoutes()
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		h.session(func(w http.ResponseWriter, r *http.Request, s *session) {
			h.fail(w, r, s, notFound("there is no such page in the console"))
		})(w, r)
	})
}

// ServeHTTP serves a console request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/console/static/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// session is a signed-in request: who, in which registry, and the token
// its forms carry.
type session struct {
	claims    identity.ConsoleClaims
	principal identity.Principal
	csrf      string
	// scope is the registry the page shows: the session's own unless the
	// request names another account or region.
	scope metadata.Scope
	ctx   context.Context
	// notice is what the change that led here said.
	notice string
}

// page is a handler of a signed-in request.
type page func(w http.ResponseWriter, r *http.Request, s *session)

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// session wraps a page: a request without a valid session goes to the
// sign-in page (a change is refused); a change needs the CSRF token and
// this origin.
func (h *Handler) session(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		var claims identity.ConsoleClaims
		if err == nil {
			claims, err = h.o.Identity.VerifyConsoleSession(r.Context(), c.Value)
		}
		if err != nil {
			if err != http.ErrNoCookie && !errors.Is(err, identity.ErrInvalidToken) {
				h.o.Log.Error("checking a console session", "err", err)
				http.Error(w, "the console cannot check sessions now; try again", http.StatusServiceUnavailable)
				return
			}
			if c != nil {
				clearCookie(w, r)
			}
			if r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		s := &session{claims: claims, principal: claims.Principal(), csrf: csrfToken(c.Value)}
		change := r.Method != http.MethodGet && r.Method != http.MethodHead
		if change {
			// Bounded before anything reads the form.
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "the form is too large or malformed", http.StatusBadRequest)
				return
			}
		}
		s.scope = metadata.Scope{Account: claims.Account, Region: claims.Region}
		if a := r.FormValue("registry"); accountRE.MatchString(a) {
			s.scope.Account = a
		}
		if g := r.FormValue("region"); regionRE.MatchString(g) {
			s.scope.Region = g
		}
		s.ctx = identity.NewContext(identity.WithOrigin(r.Context(), identity.OriginOf(r)), s.principal)
		identity.NoteCaller(reqinfo.From(r.Context()), s.principal, claims.KeyID)
		if change {
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				http.Error(w, "refused: this change did not come from a console page (missing or wrong CSRF token)", http.StatusForbidden)
				return
			}
		}
		if r.Method == http.MethodGet {
			s.notice = takeNotice(w, r)
		}
		p(w, r, s)
	}
}

// csrfToken is the CSRF token of a session: a hash of its cookie.
func csrfToken(cookie string) string {
	sum := sha256.Sum256([]byte("ecrd console csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// sameOrigin says whether a change comes from this origin, as far as the
// browser tells (Sec-Fetch-Site, Origin); a client that says nothing is
// judged by its CSRF token alone.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func setCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/console/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// view is what every page's template gets.
type view struct {
	Title     string
	Principal string
	Account   string // the registry shown
	Region    string
	Home      metadata.Scope // the session's own
	CSRF      string
	Nav       string // the section the page belongs to
	Data      any
	// Error is a failure to show in place of the page's content.
	Error *pageError
}

// render writes a page, all at once: a template failure is a 500, never
// half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, v view) {
	t := h.pages[name]
	if s != nil {
		v.Principal, v.Account, v.Region, v.CSRF = s.principal.ARN, s.scope.Account, s.scope.Region, s.csrf
		v.Home = metadata.Scope{Account: s.claims.Account, Region: s.claims.Region}
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		h.o.Log.Error("rendering a console page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// pageError is a failure as a page shows it.
type pageError struct {
	Status  int
	Title   string
	Message string
}

func (e *pageError) Error() string { return e.Message }

func notFound(msg string) error {
	return &pageError{Status: http.StatusNotFound, Title: "Not found", Message: msg}
}

func badRequest(msg string) error {
	return &pageError{Status: http.StatusBadRequest, Title: "Invalid request", Message: msg}
}

// errorOf maps a core error to what a page shows: a denial is a 403
// with the core's explanation; a server fault is logged and shown
// without its cause.
func (h *Handler) errorOf(err error) *pageError {
	var pe *pageError
	if errors.As(err, &pe) {
		return pe
	}
	switch registry.CodeOf(err) {
	case registry.CodeAccessDenied, registry.CodeUnauthenticated:
		return &pageError{Status: http.StatusForbidden, Title: "Access denied", Message: err.Error()}
	case registry.CodeInternal, registry.CodeStorageFull, registry.CodeJobBusy:
		h.o.Log.Error("console request failed", "err", err)
		return &pageError{Status: http.StatusInternalServerError, Title: "Server error", Message: "the server could not do this; its log has the cause"}
	}
	var nf *registry.NotFoundError
	typ, msg := ecrapi.Describe(err)
	if errors.As(err, &nf) || notFoundCodes[registry.CodeOf(err)] {
		return &pageError{Status: http.StatusNotFound, Title: "Not found", Message: msg}
	}
	title := "Invalid request"
	if typ != "" {
		title = typ
	}
	return &pageError{Status: http.StatusBadRequest, Title: title, Message: msg}
}

var notFoundCodes = map[registry.Code]bool{
	registry.CodeNameUnknown: true, registry.CodeManifestUnknown: true, registry.CodeBlobUnknown: true,
	registry.CodeLifecyclePolicyNotFound: true, registry.CodePreviewNotFound: true, registry.CodeRepositoryPolicyNotFound: true,
	registry.CodeRegistryPolicyNotFound: true, registry.CodeScanNotFound: true, registry.CodeTemplateNotFound: true,
	registry.CodePTCRuleNotFound: true, registry.CodeBackfillNotFound: true,
}

// fail renders a failure page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	pe := h.errorOf(err)
	h.render(w, r, s, pe.Status, "error", view{Title: pe.Title, Error: pe})
}

// home is the repositories page.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, s *session) {
	h.repositories(w, r, s)
}

// noticeCookie carries a change's notice to the page a redirect shows,
// once: a notice in the URL would let any link show any text.
const noticeCookie = "ecrd_console_notice"

// back redirects after a change to the page it came from (a path under
// /console/ only), with a notice for the next page.
func back(w http.ResponseWriter, r *http.Request, to string, notice string) {
	if !strings.HasPrefix(to, "/console/") || strings.HasPrefix(to, "//") {
		to = "/console/"
	}
	u, err := url.Parse(to)
	if err != nil {
		u = &url.URL{Path: "/console/"}
	}
	if notice != "" {
		http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(notice)), Path: "/console/",
			MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// takeNotice reads and clears the notice a change left for this page.
func takeNotice(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(noticeCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: noticeCookie, Path: "/console/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 2048 {
		return ""
	}
	return string(b)
}
