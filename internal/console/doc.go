// Package console serves ecrd's web console under /console/ on the
// registry's port: server-rendered html/template pages, a stylesheet and
// a little script embedded in the binary, nothing from a CDN.
//
// # Who is asking
//
// A page is served only within a session: a cookie (HttpOnly,
// SameSite=Strict, Secure over TLS, path /console/) whose value is a
// console session that internal/identity issued and checks on every
// request (its MAC, expiry, principal, the access key it came from, and
// that it was not signed out). A session starts from a one-time sign-in
// URL (`ecrd console-url`, redeemed once within five minutes) or from an
// access key ID and secret typed into the sign-in page. Without one, the
// console shows the sign-in page and nothing of any account.
//
// Every page calls the same core as the APIs (internal/registry and
// friends) with the session's principal in the request context, so the
// console can show and do exactly what that principal's policies allow;
// a denial is a 403 page with the core's explanation, never data.
//
// # Changes
//
// Every change is a POST carrying the session's CSRF token (a hash of
// the session cookie, which a page of another origin can neither read
// nor compute), and, when the browser says where it comes from, from
// this origin. The Content-Security-Policy allows scripts, styles and
// images from this origin only, no inline script, no framing.
//
// # Tables
//
// Tables page on the server through the core's own paging tokens, so a
// page costs one page of the store whatever the repository holds.
package console
