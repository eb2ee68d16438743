// Package awsid holds the identifiers ecrd shares with AWS: account IDs,
// ARNs and the random UUIDs that name uploads, keys and jobs. Every
// package builds and checks them here, so that one rule decides what an
// account ID or an ARN of ecrd looks like.
package awsid

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/google/uuid"
)

// Partition is the partition of the ARNs ecrd issues.
const Partition = "aws"

// AWSManagedPolicyPrefix begins the ARN of every AWS managed IAM policy
// (their account field is "aws", not an account ID).
const AWSManagedPolicyPrefix = "arn:" + Partition + ":iam::aws:policy/"

// ValidAccountID reports whether s is an AWS account ID: twelve digits.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ARN returns the ARN of a resource of an account in ecrd's partition.
// region is empty for global services (IAM, STS).
func ARN(service, region, account, resource string) string {
	return arn.ARN{Partition: Partition, Service: service, Region: region, AccountID: account, Resource: resource}.String()
}

// IAM returns the ARN of an IAM resource, arn:aws:iam::ACCOUNT:RESOURCE.
func IAM(account, resource string) string { return ARN("iam", "", account, resource) }

// Root returns the ARN of an account's root user.
func Root(account string) string { return IAM(account, "root") }

// AssumedRole returns the ARN of a role session:
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
func AssumedRole(account, role, session string) string {
	return ARN("sts", "", account, "assumed-role/"+role+"/"+session)
}

// Parse reads an ARN of an AWS partition whose account field is an account
// ID. It reports false, with a zero ARN, for anything else, AWS managed
// policies included (see AWSManagedPolicyPrefix). Callers check the
// service, region and resource they expect.
func Parse(s string) (arn.ARN, bool) {
	a, ok := split(s)
	if !ok || a.Partition != Partition && !strings.HasPrefix(a.Partition, Partition+"-") || !ValidAccountID(a.AccountID) {
		return arn.ARN{}, false
	}
	return a, true
}

// split reads an ARN's sections as arn.Parse does (FuzzParse holds it to
// that) without the slice arn.Parse allocates: the audit trail parses two
// ARNs a request.
func split(s string) (arn.ARN, bool) {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return arn.ARN{}, false
	}
	var f [4]string
	for i := range f {
		if f[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return arn.ARN{}, false
		}
	}
	return arn.ARN{Partition: f[0], Service: f[1], Region: f[2], AccountID: f[3], Resource: rest}, true
}

// NewUUID returns a random (version 4) UUID in lower case: the shape of
// ECR upload IDs and KMS key IDs.
func NewUUID() string { return uuid.NewString() }

// NewTimeUUID returns a time-ordered (version 7) UUID: the shape of
// CloudTrail's event IDs, and IDs made in a row sort in that order, so
// that an index of them grows at its end rather than at random places
// (the audit trail indexes every record's ID).
func NewTimeUUID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return NewUUID() // the clock or the random source failed
	}
	return id.String()
}

// ValidUUID reports whether s is a UUID in its 36-character form
// (8-4-4-4-12 hexadecimal digits, either case).
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
