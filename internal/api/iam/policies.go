package iam

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awsmanaged"
)

// Policy is IAM's description of a managed policy.
type Policy struct {
	PolicyName                    string
	PolicyId                      string
	Arn                           string
	Path                          string
	DefaultVersionId              string
	AttachmentCount               int
	PermissionsBoundaryUsageCount int
	IsAttachable                  bool
	Description                   string `xml:",omitempty"`
	CreateDate                    string
	UpdateDate                    string
}

// PolicyVersion is one version of a managed policy, its document
// URL-encoded as IAM returns documents.
type PolicyVersion struct {
	Document         string
	VersionId        string
	IsDefaultVersion bool
	CreateDate       string
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// encodeDocument percent-encodes a policy document as IAM does (RFC 3986:
// a space is %20, never +), so that clients that unescape it, such as
// Terraform, read back the document exactly.
func encodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func describe(p awsmanaged.Policy) Policy {
	return Policy{PolicyName: p.Name, PolicyId: p.ID(), Arn: p.ARN(), Path: "/", DefaultVersionId: p.Version,
		IsAttachable: true, Description: p.Description, CreateDate: timestamp(p.Updated), UpdateDate: timestamp(p.Updated)}
}

// managed returns the AWS managed policy PolicyArn names. Customer
// managed policies do not exist yet, so any other ARN is unknown.
func managed(form url.Values) (awsmanaged.Policy, error) {
	arn := form.Get("PolicyArn")
	if arn == "" {
		return awsmanaged.Policy{}, &Error{"ValidationError", "1 validation error detected: Value null at 'policyArn' failed to satisfy constraint: Member must not be null"}
	}
	p, ok := awsmanaged.Lookup(arn)
	if !ok {
		return p, &Error{"NoSuchEntity", "Policy " + arn + " does not exist or is not attachable."}
	}
	return p, nil
}

func getPolicy(form url.Values) (any, error) {
	p, err := managed(form)
	if err != nil {
		return nil, err
	}
	return struct{ Policy Policy }{describe(p)}, nil
}

func getPolicyVersion(form url.Values) (any, error) {
	p, err := managed(form)
	if err != nil {
		return nil, err
	}
	if v := form.Get("VersionId"); v != p.Version {
		return nil, &Error{"NoSuchEntity", "Policy " + p.ARN() + " version " + v + " does not exist or is not attachable."}
	}
	return struct{ PolicyVersion PolicyVersion }{PolicyVersion{Document: encodeDocument(p.Document), VersionId: p.Version,
		IsDefaultVersion: true, CreateDate: timestamp(p.Updated)}}, nil
}

// listPolicies lists the AWS managed policies (Scope AWS or All; Local has
// none yet), by name, a page at a time. None is attached to anything yet,
// so OnlyAttached lists none.
func listPolicies(form url.Values) (any, error) {
	type result struct {
		Policies    []Policy `xml:"Policies>member"`
		IsTruncated bool
		Marker      string `xml:",omitempty"`
	}
	out := result{Policies: []Policy{}}
	scope := form.Get("Scope")
	switch scope {
	case "", "All", "AWS", "Local":
	default:
		return nil, &Error{"ValidationError", "1 validation error detected: Value '" + scope + "' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"}
	}
	if scope == "Local" || form.Get("OnlyAttached") == "true" {
		return out, nil
	}
	max := 100
	if s := form.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return nil, &Error{"ValidationError", "1 validation error detected: Value '" + s + "' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"}
		}
		max = n
	}
	marker, prefix := form.Get("Marker"), form.Get("PathPrefix")
	for _, p := range awsmanaged.All {
		if p.Name <= marker || (prefix != "" && !strings.HasPrefix("/", prefix)) {
			continue
		}
		if len(out.Policies) == max {
			out.IsTruncated, out.Marker = true, out.Policies[max-1].PolicyName
			break
		}
		out.Policies = append(out.Policies, describe(p))
	}
	return out, nil
}
