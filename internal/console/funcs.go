package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"href":  href,
	"size":  humanSize,
	"when":  when,
	"short": shortDigest,
	"lower": strings.ToLower,
	"join":  strings.Join,
	"severities": func() []string {
		return severities
	},
}

// href makes a console link that stays in the registry the page shows:
// path, the registry and region when they are not the session's own,
// then the key-value pairs kv.
func href(v view, path string, kv ...string) string {
	q := url.Values{}
	if v.Account != "" && v.Account != v.Home.Account {
		q.Set("registry", v.Account)
	}
	if v.Region != "" && v.Region != v.Home.Region {
		q.Set("region", v.Region)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// scopeQuery is href's query for a session, for redirects.
func scopeQuery(s *session, kv ...string) string {
	v := view{Account: s.scope.Account, Region: s.scope.Region}
	v.Home.Account, v.Home.Region = s.claims.Account, s.claims.Region
	h := href(v, "", kv...)
	return strings.TrimPrefix(h, "?")
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func when(t any) string {
	switch t := t.(type) {
	case time.Time:
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if t == nil {
			return "—"
		}
		return when(*t)
	}
	return "—"
}

// shortDigest shortens a digest for a table: algorithm and 12 hex digits.
func shortDigest(d any) string {
	s := fmt.Sprint(d)
	if alg, hex, ok := strings.Cut(s, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return s
}
