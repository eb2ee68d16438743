package upstream

import "strings"

// challenge is a WWW-Authenticate challenge: its scheme (lower case) and
// parameters.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenge reads the first challenge of a WWW-Authenticate header
// whose scheme is Bearer or Basic (RFC 9110's auth-param syntax: token or
// quoted-string values, commas between parameters). A Bearer challenge
// without a realm is not usable.
func parseChallenge(h string) (challenge, bool) {
	s := strings.TrimSpace(h)
	for s != "" {
		scheme, rest, _ := strings.Cut(s, " ")
		ch := challenge{scheme: strings.ToLower(strings.TrimSpace(scheme)), params: map[string]string{}}
		rest = strings.TrimSpace(rest)
		for rest != "" {
			name, after, ok := strings.Cut(rest, "=")
			if !ok || strings.ContainsAny(strings.TrimSpace(name), " \t") {
				break // the next challenge's scheme
			}
			name = strings.ToLower(strings.TrimSpace(name))
			after = strings.TrimLeft(after, " \t")
			var val string
			if strings.HasPrefix(after, `"`) {
				var b strings.Builder
				i := 1
				for ; i < len(after); i++ {
					c := after[i]
					if c == '\\' && i+1 < len(after) {
						i++
						b.WriteByte(after[i])
						continue
					}
					if c == '"' {
						break
					}
					b.WriteByte(c)
				}
				if i >= len(after) {
					return challenge{}, false // unterminated quote
				}
				val, after = b.String(), after[i+1:]
			} else {
				end := strings.IndexAny(after, ", \t")
				if end < 0 {
					end = len(after)
				}
				val, after = after[:end], after[end:]
			}
			ch.params[name] = val
			after = strings.TrimLeft(after, " \t")
			if !strings.HasPrefix(after, ",") {
				rest = after
				break
			}
			rest = strings.TrimLeft(after[1:], " \t")
		}
		switch ch.scheme {
		case "basic":
			return ch, true
		case "bearer":
			return ch, ch.params["realm"] != ""
		}
		if rest == s || rest == "" {
			return challenge{}, false
		}
		s = rest
	}
	return challenge{}, false
}
