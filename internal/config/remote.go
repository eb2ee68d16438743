package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// RemoteRegion is how this server reaches a region another deployment
// serves: the base URL of that deployment's ecrd (or of ECR), and the
// AWS credentials used there, a profile of a shared credentials file.
type RemoteRegion struct {
	URL             string // scheme://host[:port], without the query
	Profile         string // "default" unless given
	CredentialsFile string // "": the AWS SDK's lookup (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials)
	CAFile          string // "": the system roots only
}

// The query parameters a remote region's URL may carry.
const (
	remoteProfile         = "profile"
	remoteCredentialsFile = "credentials-file"
	remoteCAFile          = "ca-file"
)

// remoteRegionsValue is the remote-regions setting: comma-separated
// REGION=URL entries. A comma inside a path must be written %2C.
type remoteRegionsValue map[string]RemoteRegion

func (v *remoteRegionsValue) String() string {
	if v == nil || len(*v) == 0 {
		return ""
	}
	entries := make([]string, 0, len(*v))
	for _, region := range slices.Sorted(maps.Keys(*v)) {
		r := (*v)[region]
		q := url.Values{}
		if r.Profile != "" && r.Profile != "default" {
			q.Set(remoteProfile, r.Profile)
		}
		if r.CredentialsFile != "" {
			q.Set(remoteCredentialsFile, r.CredentialsFile)
		}
		if r.CAFile != "" {
			q.Set(remoteCAFile, r.CAFile)
		}
		e := region + "=" + r.URL
		if len(q) > 0 {
			e += "?" + q.Encode()
		}
		entries = append(entries, e)
	}
	return strings.Join(entries, ",")
}

func (v *remoteRegionsValue) Set(s string) error {
	m, err := parseRemoteRegions(s)
	if err != nil {
		return err
	}
	*v = m
	return nil
}

// parseRemoteRegions reads the remote-regions setting. Errors name the
// entry by its region and never quote a URL, which might carry a secret.
func parseRemoteRegions(s string) (map[string]RemoteRegion, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]RemoteRegion{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		region, raw, ok := strings.Cut(entry, "=")
		region = strings.TrimSpace(region)
		switch {
		case entry == "":
			return nil, fmt.Errorf("entry %d is empty: use REGION=URL[,REGION=URL...]", i+1)
		case !ok:
			return nil, fmt.Errorf("entry %d is not REGION=URL (for example eu-west-1=https://ecrd.eu.example.com)", i+1)
		case !regionRE.MatchString(region):
			return nil, fmt.Errorf("entry %d: %q does not look like a region (for example eu-west-1)", i+1, truncate(region))
		}
		if _, dup := out[region]; dup {
			return nil, fmt.Errorf("region %s is given twice", region)
		}
		r, err := parseRemoteURL(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", region, err)
		}
		out[region] = r
	}
	return out, nil
}

func parseRemoteURL(raw string) (RemoteRegion, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return RemoteRegion{}, errors.New("the URL does not parse: use http(s)://host[:port][?profile=NAME&credentials-file=PATH&ca-file=PATH]")
	case u.Scheme != "http" && u.Scheme != "https":
		return RemoteRegion{}, errors.New("the URL must be http:// or https://")
	case u.User != nil:
		return RemoteRegion{}, errors.New("the URL must not carry credentials: name a profile of a shared credentials file with ?profile=NAME")
	case u.Host == "" || u.Opaque != "":
		return RemoteRegion{}, errors.New("the URL has no host: use http(s)://host[:port]")
	case u.Path != "" && u.Path != "/":
		return RemoteRegion{}, errors.New("the URL must not have a path: ecrd serves /v2 and its AWS APIs at the root")
	case u.Fragment != "":
		return RemoteRegion{}, errors.New("the URL must not have a fragment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return RemoteRegion{}, errors.New("the URL's query does not parse: use ?profile=NAME&credentials-file=PATH&ca-file=PATH (percent-encode , & and = in paths)")
	}
	r := RemoteRegion{Profile: "default"}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vals := q[k]
		if len(vals) != 1 {
			return RemoteRegion{}, fmt.Errorf("the URL's parameter %s is given %d times", truncate(k), len(vals))
		}
		val := vals[0]
		if val == "" {
			return RemoteRegion{}, fmt.Errorf("the URL's parameter %s is empty", truncate(k))
		}
		switch k {
		case remoteProfile:
			if strings.ContainsFunc(val, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }) {
				return RemoteRegion{}, errors.New("the profile name must not contain spaces or control characters")
			}
			r.Profile = val
		case remoteCredentialsFile:
			r.CredentialsFile = val
		case remoteCAFile:
			r.CAFile = val
		default:
			return RemoteRegion{}, fmt.Errorf("unknown URL parameter %q: use profile, credentials-file or ca-file", truncate(k))
		}
	}
	if r.CAFile != "" && u.Scheme != "https" {
		return RemoteRegion{}, errors.New("ca-file applies to https:// URLs only")
	}
	u.RawQuery, u.ForceQuery, u.Path, u.RawPath = "", false, "", ""
	r.URL = u.String()
	return r, nil
}

// truncate keeps quoted input short in error messages.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
