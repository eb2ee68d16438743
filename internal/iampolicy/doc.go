// Package iampolicy parses, validates and evaluates AWS IAM policy
// documents the way AWS documents them: identity-based policies,
// resource-based policies (ECR repository and registry policies),
// permissions boundaries, session policies and role trust policies.
//
// A policy is parsed once, when it is stored, into a compiled form
// (Parse); requests are then evaluated against the compiled policies
// (Evaluate) with no parsing and little allocation. The package does no
// I/O: callers resolve the principal, its policies and the request's
// condition keys first.
//
// Decisions made where AWS is silent or ambiguous are documented next to
// the code that makes them, and summarised here:
//
//   - Version may be absent (treated as 2008-10-17, so "${...}" is literal)
//     or one of 2008-10-17 and 2012-10-17. IAM's CreatePolicy is stricter
//     (it requires 2012-10-17); callers that need that check Version().
//   - The size limit is MaxPolicySize characters, not counting white space,
//     for every kind of policy.
//   - A bare (non set) operator applied to a multivalued key is true if any
//     request value matches (positive operators) or if no request value
//     matches (negated operators).
//   - Substituted policy-variable values, and ${*} ${?}, are literal in
//     wildcard patterns: a tag value of "*" does not become a wildcard.
//   - Condition values of the numeric, date, IP, bool and binary operators
//     that do not parse never match.
//   - "*" as principal grants like naming the caller's own ARN: directly
//     for users, and limited by boundary and session policies for role
//     sessions and federated users.
//   - Among several explicit denies the first found is reported, looking in
//     identity-based, resource-based, boundary and session policies in that
//     order. When a request fails on more than one side, the identity side
//     (identity, then boundary, then session) is reported before the
//     resource side.
package iampolicy
