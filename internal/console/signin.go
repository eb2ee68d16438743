package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ecrd/ecrd/internal/identity"
)

// signInView is the sign-in page's data.
type signInView struct {
	Next    string
	KeyID   string
	Region  string
	Problem string
	// Token, with Principal, asks to confirm a sign-in URL.
	Token, Principal string
}

// nextPage is where a sign-in goes on to: a console path, else the
// console's home.
func nextPage(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/console/"
	}
	if _, err := url.ParseRequestURI(next); err != nil {
		return "/console/"
	}
	return next
}

// signInPage shows the sign-in form, or for a one-time sign-in URL asks
// to confirm whose session to start: the URL is redeemed by that POST,
// never by the GET, so a link cannot swap a browser's session.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	next := nextPage(r.URL.Query().Get("next"))
	if token := r.URL.Query().Get("token"); token != "" {
		c, err := h.o.Identity.PeekConsoleSignIn(r.Context(), token)
		if err != nil {
			h.signInFailed(w, r, err)
			return
		}
		h.render(w, r, nil, http.StatusOK, "signin", view{Title: "Sign in", Data: signInView{Next: next, Region: c.Region, Token: token, Principal: c.ARN}})
		return
	}
	h.render(w, r, nil, http.StatusOK, "signin", view{Title: "Sign in", Data: signInView{Next: next, Region: h.o.DefaultRegion}})
}

// redeem starts the session of a confirmed sign-in URL.
func (h *Handler) redeem(w http.ResponseWriter, r *http.Request, token, next string) {
	c, err := h.o.Identity.RedeemConsoleSignIn(r.Context(), token)
	if err != nil {
		h.signInFailed(w, r, err)
		return
	}
	cookie, sc := h.o.Identity.IssueConsoleSession(c.Principal(), c.Region, c.KeyID)
	setCookie(w, r, cookie, sc.ExpiresAt)
	h.o.Log.Info("console sign-in", "principal", c.ARN, "by", "url")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signIn checks an access key ID and secret from the form.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !sameOrigin(r) {
		http.Error(w, "refused: the sign-in form must be posted from the console's own page", http.StatusForbidden)
		return
	}
	if token := r.PostFormValue("token"); token != "" {
		h.redeem(w, r, token, nextPage(r.PostFormValue("next")))
		return
	}
	keyID, secret := strings.TrimSpace(r.PostFormValue("access_key_id")), r.PostFormValue("secret_access_key")
	region := strings.TrimSpace(r.PostFormValue("region"))
	if region == "" {
		region = h.o.DefaultRegion
	}
	v := signInView{Next: nextPage(r.PostFormValue("next")), KeyID: keyID, Region: region}
	if !regionRE.MatchString(region) {
		v.Problem = "The region " + region + " is not a region name (such as us-east-1)."
		h.render(w, r, nil, http.StatusBadRequest, "signin", view{Title: "Sign in", Data: v})
		return
	}
	p, err := h.o.Identity.CheckAccessKey(r.Context(), keyID, secret)
	if err != nil {
		if err != identity.ErrUnknownAccessKey {
			h.o.Log.Error("console sign-in", "err", err)
		}
		v.Problem = "The access key ID or the secret access key is not valid."
		h.render(w, r, nil, http.StatusUnauthorized, "signin", view{Title: "Sign in", Data: v})
		return
	}
	cookie, sc := h.o.Identity.IssueConsoleSession(p, region, keyID)
	setCookie(w, r, cookie, sc.ExpiresAt)
	h.o.Log.Info("console sign-in", "principal", p.ARN, "by", "access key")
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// signInFailed shows why a sign-in URL cannot be used.
func (h *Handler) signInFailed(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, identity.ErrInvalidToken) {
		h.o.Log.Error("console sign-in", "err", err)
		http.Error(w, "the console cannot check sign-ins now; try again", http.StatusServiceUnavailable)
		return
	}
	h.o.Log.Info("console sign-in refused", "err", err)
	msg := "This sign-in URL cannot be used: " + strings.TrimPrefix(err.Error(), identity.ErrInvalidToken.Error()+": ") + "."
	h.render(w, r, nil, http.StatusForbidden, "signin", view{Title: "Sign in", Data: signInView{Next: "/console/", Region: h.o.DefaultRegion, Problem: msg}})
}

// signOut ends the session for every replica.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.o.Identity.EndConsoleSession(r.Context(), s.claims); err != nil {
		h.fail(w, r, s, err)
		return
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
