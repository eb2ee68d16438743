package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
)

// ServiceRoleInput is a role session an AWS service asks for on an
// account's behalf: the pull-through cache assuming a rule's
// customRoleArn as pullthroughcache.ecr.amazonaws.com.
type ServiceRoleInput struct {
	Service     string // the service principal, e.g. pullthroughcache.ecr.amazonaws.com
	RoleARN     string
	SessionName string
	// SourceAccount is the account the service acts for, the value of
	// aws:SourceAccount, which trust policies check against a confused
	// deputy. The role must be in it.
	SourceAccount string
	Duration      time.Duration // 0: an hour
	Region        string        // for the role's last use
}

// AssumeRoleForService issues a session of a role to a service principal,
// if the role is in the account the service acts for and its trust
// policy allows the service sts:AssumeRole. A service has no identity
// policies of its own: the trust policy alone decides. The session's
// permissions are the role's, as for any role session; its principal
// carries its session token, so that a registry token issued to it names
// the session.
func (s *Service) AssumeRoleForService(ctx context.Context, in ServiceRoleInput) (Principal, error) {
	account, _, ok := splitRoleARN(in.RoleARN)
	// The same refusal whatever the reason, as AssumeRole's: the role's
	// existence is not told.
	deny := func() error {
		return awserr.Errorf(CodeAccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", in.Service, in.RoleARN)
	}
	req := iampolicy.Request{
		Action: "sts:AssumeRole", Resource: in.RoleARN, ResourceAccount: account,
		Principal: iampolicy.Principal{Type: "Service", ARN: in.Service},
		Context: map[string][]string{
			"aws:SourceAccount":   {in.SourceAccount},
			"sts:RoleSessionName": {in.SessionName},
		},
	}
	if !ok || account != in.SourceAccount {
		return Principal{}, deny()
	}
	session := AssumeRoleInput{RoleARN: in.RoleARN, SessionName: in.SessionName, Duration: in.Duration, Region: in.Region}
	if err := checkSessionInput(ctx, s.meta, &session); err != nil {
		return Principal{}, err
	}
	role, found, err := s.sessionRole(ctx, in.RoleARN)
	if err != nil {
		return Principal{}, err
	}
	if !found {
		return Principal{}, deny()
	}
	trust, err := parsePolicy(role.TrustPolicy, iampolicy.Trust)
	if err != nil {
		return Principal{}, fmt.Errorf("the trust policy of role %s does not compile: %w", role.Name, err)
	}
	if !iampolicy.Evaluate(req, iampolicy.Policies{Resource: &iampolicy.Named{Name: "trust policy", Policy: trust}}).Allowed {
		return Principal{}, deny()
	}
	if err := checkRoleDuration(in.Duration, role); err != nil {
		return Principal{}, err
	}
	out, err := s.issueSession(ctx, role, session, &Session{})
	if err != nil {
		return Principal{}, err
	}
	return out.Principal, nil
}
