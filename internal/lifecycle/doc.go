// Package lifecycle parses, validates and evaluates Amazon ECR lifecycle
// policies. It does no I/O: the caller reads a repository's images, calls
// Evaluate, and applies the decisions.
//
// # Validation
//
// Parse accepts exactly the policies ECR accepts and refuses the others with
// ECR's messages (JSON-schema-validator wording). When a policy has several
// problems, the first in this order is reported:
//
//  1. the text is not one JSON object, or a known property has the wrong
//     JSON type (null included): "Could not map policyString into
//     LifecyclePolicy.";
//  2. schema checks, walking the document top-down and the rules in input
//     order; for each object (policy, rule, selection, action): unknown
//     properties, then missing required ones, then value checks (enums,
//     minimums, empty lists) in schema property order;
//  3. checks combining the properties of one rule, rule by rule in input
//     order (see checkRule for their order);
//  4. checks across rules: unique rulePriority, then per storage class
//     (standard, then archive): the "any" rule comes last, at most one
//     untagged rule, unique tag prefixes and patterns.
//
// # Evaluation
//
// Evaluate follows ECR's "identified versus marked" rules: each rule, in
// ascending priority, identifies every image its selection matches, as if
// no rule had acted yet; its count or age test picks candidates among those
// identified; it marks the candidates that no higher-priority rule
// identified. So a lower rule never acts on an image a higher rule kept.
//
// Beyond the rules, three things decide the outcome:
//
//   - Index protection: an image listed by an index (manifest list) may
//     not be expired while the index stays, nor archived while the index
//     stays in standard storage. Such decisions are dropped, to a fixpoint
//     for nested indexes.
//   - Referrers (OCI subject): an image whose subject is in the repository
//     is never identified by rules; it goes with its subject, taking the
//     subject's action and rule priority (recursively, so a signature of an
//     SBOM of an image follows the image). A referrer whose subject is not
//     in the repository (it was deleted) is expired with rule priority 0.
//   - Storage classes: transition only moves standard images to archive; a
//     referrer already in archive keeps no transition decision, but its own
//     referrers still follow the transition.
//
// Ties in time (count ordering, age) are broken by the order of the images
// slice, a later image being newer, so callers pass images in push order.
package lifecycle
