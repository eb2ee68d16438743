// Package eventpattern is EventBridge's event-pattern language: Compile
// validates a pattern once, with EventBridge's InvalidEventPatternException
// reasons, and a Pattern then matches events without I/O. It is pure, and
// a Pattern is safe for concurrent use.
//
// Design:
//
//   - The pattern is read token by token with its keys in order, so the
//     first fault in the text is the one reported, and compiled into a tree
//     of objects (every field must match; each $or needs one of its
//     alternatives) whose leaves are lists of matchers (any one matching
//     any of the event's values at that field suffices).
//   - Matching walks the pattern, not the event: its cost depends on the
//     pattern's size, and decoding the event once (Decode) lets a delivery
//     loop match it against many rules (MatchValue allocates nothing).
//   - Arrays: a leaf matches if any element (at any depth of nesting)
//     matches; an object of the pattern matches an array when one element
//     holds all its fields, so fields of different elements never combine.
//   - A field that is absent, an object, or an empty array has no value:
//     only {"exists": false} matches it; {"exists": true} matches any value,
//     null included. null and "" are different values.
//   - String operators (prefix, suffix, equals-ignore-case, wildcard, cidr)
//     apply only to strings, numeric only to JSON numbers; anything-but
//     matches every value, of any type, that it does not exclude.
//   - Numbers: numeric operands must lie within -5.0e9 and +5.0e9, the
//     documented range; values are compared as float64 (more precise than
//     the documented six decimals). An exact number matches the same number
//     written otherwise (300 and 3e2) within that range, and only the same
//     text outside it (account IDs).
//   - A string value that is an IP address also matches other spellings
//     of that address; IPv4-mapped IPv6 addresses are IPv4 addresses.
//   - A field repeated in one object: two lists, the last wins; two
//     objects merge; a list and an object must both match.
//   - Validation follows EventBridge's messages word for word where they
//     are known (empty objects and arrays, operand types, numeric ranges,
//     wildcard escapes and consecutive stars, CIDR masks, $or shape and
//     operator names used as fields inside $or). A JSON syntax error is
//     reported in encoding/json's words. The pattern's length limit is the
//     API's to check.
package eventpattern
