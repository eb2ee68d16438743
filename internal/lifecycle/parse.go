package lifecycle

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Options change validation. The zero value is ECR's rules exactly.
type Options struct {
	// AllowExpireSincePulled accepts sinceImagePulled with an expire action
	// (an ecrd extension that ECR refuses).
	AllowExpireSincePulled bool
}

// ValidationError is a policy ECR would refuse.
type ValidationError struct {
	// Detail is the part after "Lifecycle policy validation failure: ".
	Detail string
}

func (e *ValidationError) Error() string {
	return "Lifecycle policy validation failure: " + e.Detail
}

func invalidf(format string, args ...any) error {
	return &ValidationError{Detail: fmt.Sprintf(format, args...)}
}

// notMappable is ECR's answer to text that does not map onto its policy
// type: not JSON, not an object, or a property of the wrong JSON type.
func notMappable() error {
	return &ValidationError{Detail: "Could not map policyString into LifecyclePolicy."}
}

// maxWildcards is how many '*' a tag pattern may have.
const maxWildcards = 4

// minDaysInArchive is ECR's minimum stay in archive before a policy may
// delete an image.
const minDaysInArchive = 90

// The schema: properties allowed and required in each object, in schema
// order (which is the order their values are checked in).
var (
	policyProps       = []string{"rules"}
	policyRequired    = []string{"rules"}
	ruleProps         = []string{"rulePriority", "description", "selection", "action"}
	ruleRequired      = []string{"action", "rulePriority", "selection"}
	selectionProps    = []string{"tagStatus", "tagPatternList", "tagPrefixList", "storageClass", "countType", "countUnit", "countNumber"}
	selectionRequired = []string{"countNumber", "countType", "tagStatus"}
	actionProps       = []string{"type", "targetStorageClass"}
	actionRequired    = []string{"type"}

	tagStatuses    = []string{string(TagStatusTagged), string(TagStatusUntagged), string(TagStatusAny)}
	countTypes     = []string{string(ImageCountMoreThan), string(SinceImagePushed), string(SinceImagePulled), string(SinceImageTransitioned)}
	countUnits     = []string{UnitDays}
	storageClasses = []string{string(StorageStandard), string(StorageArchive)}
	actionTypes    = []string{string(ActionExpire), string(ActionTransition)}
	targetClasses  = []string{string(StorageArchive)}
)

// Parse validates a lifecycle policy text and returns the policy, its rules
// sorted by priority. Errors are *ValidationError. The text's length
// (100 to 30,720 characters in ECR) is for the caller to check.
func Parse(text string, opts Options) (Policy, error) {
	doc, err := decodePolicy([]byte(text))
	if err != nil {
		return Policy{}, err
	}
	if err := doc.checkSchema(); err != nil {
		return Policy{}, err
	}
	rules := make([]Rule, len(doc.rules))
	for i, rd := range doc.rules {
		rules[i] = rd.rule()
		if err := checkRule(rules[i], opts); err != nil {
			return Policy{}, err
		}
	}
	if err := checkRules(rules); err != nil {
		return Policy{}, err
	}
	slices.SortStableFunc(rules, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	return Policy{Rules: rules}, nil
}

// The *Doc types hold a policy as written, after the JSON types were
// checked but before any schema check. props keeps every property,
// unknown ones included; the typed fields hold the known ones.
type (
	policyDoc struct {
		props map[string]json.RawMessage
		rules []ruleDoc
	}
	ruleDoc struct {
		props       map[string]json.RawMessage
		priority    int
		description string
		selection   selectionDoc
		action      actionDoc
	}
	selectionDoc struct {
		props          map[string]json.RawMessage
		tagStatus      string
		tagPatternList []string
		tagPrefixList  []string
		storageClass   string
		countType      string
		countUnit      string
		countNumber    int
	}
	actionDoc struct {
		props              map[string]json.RawMessage
		typ                string
		targetStorageClass string
	}
)

// decodePolicy checks that text is one JSON object whose known properties
// have the right JSON types, at every level.
func decodePolicy(text []byte) (*policyDoc, error) {
	props, ok := decodeObject(text)
	if !ok {
		return nil, notMappable()
	}
	doc := &policyDoc{props: props}
	if raw, ok := props["rules"]; ok {
		var elems []json.RawMessage
		if !isArray(raw) || json.Unmarshal(raw, &elems) != nil {
			return nil, notMappable()
		}
		doc.rules = make([]ruleDoc, len(elems))
		for i, e := range elems {
			if !doc.rules[i].decode(e) {
				return nil, notMappable()
			}
		}
	}
	return doc, nil
}

func (r *ruleDoc) decode(raw json.RawMessage) bool {
	var ok bool
	if r.props, ok = decodeObject(raw); !ok {
		return false
	}
	p := r.props
	return decodeInt(p, "rulePriority", &r.priority) &&
		decodeString(p, "description", &r.description) &&
		decodeNested(p, "selection", r.selection.decode) &&
		decodeNested(p, "action", r.action.decode)
}

func (s *selectionDoc) decode(raw json.RawMessage) bool {
	var ok bool
	if s.props, ok = decodeObject(raw); !ok {
		return false
	}
	p := s.props
	return decodeString(p, "tagStatus", &s.tagStatus) &&
		decodeStrings(p, "tagPatternList", &s.tagPatternList) &&
		decodeStrings(p, "tagPrefixList", &s.tagPrefixList) &&
		decodeString(p, "storageClass", &s.storageClass) &&
		decodeString(p, "countType", &s.countType) &&
		decodeString(p, "countUnit", &s.countUnit) &&
		decodeInt(p, "countNumber", &s.countNumber)
}

func (a *actionDoc) decode(raw json.RawMessage) bool {
	var ok bool
	if a.props, ok = decodeObject(raw); !ok {
		return false
	}
	return decodeString(a.props, "type", &a.typ) &&
		decodeString(a.props, "targetStorageClass", &a.targetStorageClass)
}

// decodeObject decodes a JSON object into its properties. json.Unmarshal
// refuses trailing data, but takes null for an empty map, hence the first
// byte check.
func decodeObject(raw []byte) (map[string]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	return m, true
}

func isArray(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}

// decodeNested decodes an object-valued property, if present.
func decodeNested(props map[string]json.RawMessage, name string, decode func(json.RawMessage) bool) bool {
	raw, ok := props[name]
	return !ok || decode(raw)
}

// decodeString decodes a string property, if present. null is not a
// string.
func decodeString(props map[string]json.RawMessage, name string, dst *string) bool {
	raw, ok := props[name]
	if !ok {
		return true
	}
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, dst) == nil
}

// decodeStrings decodes a list of strings, if present. A present list is
// never nil, so that an empty list can be told from a missing one.
func decodeStrings(props map[string]json.RawMessage, name string, dst *[]string) bool {
	raw, ok := props[name]
	if !ok {
		return true
	}
	var elems []json.RawMessage
	if !isArray(raw) || json.Unmarshal(raw, &elems) != nil {
		return false
	}
	list := make([]string, len(elems))
	for i, e := range elems {
		e = bytes.TrimSpace(e)
		if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &list[i]) != nil {
			return false
		}
	}
	*dst = list
	return true
}

// decodeInt decodes an integer property, if present. ECR maps it onto a
// 32-bit int, so fractions, exponents and larger numbers do not map.
func decodeInt(props map[string]json.RawMessage, name string, dst *int) bool {
	raw, ok := props[name]
	if !ok {
		return true
	}
	// ParseInt refuses every other JSON value: null, strings, fractions.
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 32)
	if err != nil {
		return false
	}
	*dst = int(n)
	return true
}

// checkSchema applies the JSON schema: per object, unknown properties, then
// missing ones, then values; objects top-down and rules in input order.
func (d *policyDoc) checkSchema() error {
	if err := checkProps(d.props, policyProps, policyRequired); err != nil {
		return err
	}
	if len(d.rules) == 0 {
		return tooShort(0)
	}
	for i := range d.rules {
		if err := d.rules[i].checkSchema(); err != nil {
			return err
		}
	}
	return nil
}

func (r *ruleDoc) checkSchema() error {
	if err := checkProps(r.props, ruleProps, ruleRequired); err != nil {
		return err
	}
	if err := checkMinimum(r.priority, 1); err != nil {
		return err
	}
	if err := r.selection.checkSchema(); err != nil {
		return err
	}
	return r.action.checkSchema()
}

func (s *selectionDoc) checkSchema() error {
	if err := checkProps(s.props, selectionProps, selectionRequired); err != nil {
		return err
	}
	if err := checkEnum(s.tagStatus, tagStatuses); err != nil {
		return err
	}
	if s.tagPatternList != nil && len(s.tagPatternList) == 0 {
		return tooShort(0)
	}
	if s.tagPrefixList != nil && len(s.tagPrefixList) == 0 {
		return tooShort(0)
	}
	if _, ok := s.props["storageClass"]; ok {
		if err := checkEnum(s.storageClass, storageClasses); err != nil {
			return err
		}
	}
	if err := checkEnum(s.countType, countTypes); err != nil {
		return err
	}
	if _, ok := s.props["countUnit"]; ok {
		if err := checkEnum(s.countUnit, countUnits); err != nil {
			return err
		}
	}
	return checkMinimum(s.countNumber, 1)
}

func (a *actionDoc) checkSchema() error {
	if err := checkProps(a.props, actionProps, actionRequired); err != nil {
		return err
	}
	if err := checkEnum(a.typ, actionTypes); err != nil {
		return err
	}
	if _, ok := a.props["targetStorageClass"]; ok {
		return checkEnum(a.targetStorageClass, targetClasses)
	}
	return nil
}

// rule converts a schema-checked rule, defaulting the storage class.
func (r *ruleDoc) rule() Rule {
	s := r.selection
	class := StorageClass(s.storageClass)
	if class == "" {
		class = StorageStandard
	}
	return Rule{
		Priority:    r.priority,
		Description: r.description,
		Selection: Selection{
			TagStatus:      TagStatus(s.tagStatus),
			TagPatternList: s.tagPatternList,
			TagPrefixList:  s.tagPrefixList,
			StorageClass:   class,
			CountType:      CountType(s.countType),
			CountUnit:      s.countUnit,
			CountNumber:    s.countNumber,
		},
		Action: Action{
			Type:               ActionType(r.action.typ),
			TargetStorageClass: StorageClass(r.action.targetStorageClass),
		},
	}
}

// checkProps reports unknown properties, then missing required ones, each
// listing every offending name, sorted.
func checkProps(props map[string]json.RawMessage, allowed, required []string) error {
	var unknown, missing []string
	for name := range props {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return invalidf("object instance has properties which are not allowed by the schema: (%s)", quoteList(unknown))
	}
	for _, name := range required {
		if _, ok := props[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return invalidf("object has missing required properties (%s)", quoteList(missing))
	}
	return nil
}

func checkEnum(v string, values []string) error {
	if slices.Contains(values, v) {
		return nil
	}
	return invalidf("instance value (%s) not found in enum (possible values: %s)", v, quoteList(values))
}

func checkMinimum(n, minimum int) error {
	if n < minimum {
		return invalidf("numeric instance is lower than the required minimum (minimum: %d, found: %d)", minimum, n)
	}
	return nil
}

func tooShort(n int) error {
	return invalidf("array is too short: must have at least 1 elements but instance has %d elements", n)
}

// quoteList renders names as a JSON array, the way the schema validator
// prints them: ["a","b"].
func quoteList(names []string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(names); err != nil {
		return fmt.Sprint(names)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// checkRule applies the checks that combine properties of one rule, in
// this order: tag lists, countUnit, targetStorageClass, transition from
// archive, sinceImageTransitioned with expire, storageClass against
// countType, the archive minimum, sinceImagePulled with expire. The order
// is chosen so that every message is reachable: the action checks come
// before the storageClass/countType pairing, which would otherwise report
// every transition from archive.
func checkRule(r Rule, opts Options) error {
	s, a := r.Selection, r.Action
	hasLists := s.TagPatternList != nil || s.TagPrefixList != nil
	switch {
	case s.TagStatus == TagStatusTagged && !hasLists:
		return invalidf("tagPrefixList or tagPatternList is required when tagStatus is tagged")
	case s.TagPatternList != nil && s.TagPrefixList != nil:
		return invalidf("tagPrefixList and tagPatternList cannot both be specified")
	case s.TagStatus != TagStatusTagged && hasLists:
		return invalidf("tagPrefixList and tagPatternList are only allowed when tagStatus is tagged")
	}
	for _, p := range s.TagPatternList {
		if strings.Count(p, "*") > maxWildcards {
			return invalidf("tagPatternList can have a maximum of four wildcards per pattern: %s", p)
		}
	}
	switch {
	case s.CountType == ImageCountMoreThan && s.CountUnit != "":
		return invalidf("countUnit is not allowed when countType is %s", s.CountType)
	case s.CountType != ImageCountMoreThan && s.CountUnit == "":
		return invalidf("countUnit is required when countType is %s", s.CountType)
	}
	switch {
	case a.Type == ActionTransition && a.TargetStorageClass == "":
		return invalidf("targetStorageClass is required when action type is transition")
	case a.Type != ActionTransition && a.TargetStorageClass != "":
		return invalidf("targetStorageClass is only allowed when action type is transition")
	case a.Type == ActionTransition && s.StorageClass == StorageArchive:
		return invalidf("action type transition requires storageClass standard")
	case s.CountType == SinceImageTransitioned && a.Type != ActionExpire:
		return invalidf("countType sinceImageTransitioned requires action type expire")
	}
	switch {
	case s.StorageClass == StorageArchive && s.CountType != SinceImageTransitioned:
		return invalidf("storageClass archive is only allowed with countType sinceImageTransitioned")
	case s.CountType == SinceImageTransitioned && s.StorageClass != StorageArchive:
		return invalidf("countType sinceImageTransitioned requires storageClass archive")
	case s.CountType == SinceImageTransitioned && s.CountNumber < minDaysInArchive:
		return invalidf("countNumber must be at least %d for countType sinceImageTransitioned", minDaysInArchive)
	case s.CountType == SinceImagePulled && a.Type == ActionExpire && !opts.AllowExpireSincePulled:
		return invalidf("countType sinceImagePulled cannot be used with action type expire")
	}
	return nil
}

// checkRules applies the checks across rules: unique priorities (the first
// repeated one, in input order), then for each storage class, standard
// first: the "any" rule is the last, one untagged rule at most, unique tag
// prefixes and patterns.
//
// "Unique set of prefixes" is read as: no two tagged rules of a storage
// class have the same set of prefixes (or the same set of patterns),
// compared as sorted lists without duplicates, so ["a","b"] and ["b","a"]
// clash but ["a"] and ["a","b"] do not, since the second selects fewer
// images. Prefix lists and pattern lists are compared separately: prefix
// "prod" and pattern "prod*" select the same images but are different
// spellings, and ECR documents no such equivalence.
func checkRules(rules []Rule) error {
	seen := make(map[int]bool, len(rules))
	for _, r := range rules {
		if seen[r.Priority] {
			return invalidf("rulePriority must be unique: %d", r.Priority)
		}
		seen[r.Priority] = true
	}
	sorted := slices.Clone(rules)
	slices.SortFunc(sorted, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	for _, class := range []StorageClass{StorageStandard, StorageArchive} {
		if err := checkClass(sorted, class); err != nil {
			return err
		}
	}
	return nil
}

// checkClass checks the rules selecting one storage class, given in
// priority order.
func checkClass(sorted []Rule, class StorageClass) error {
	var rules []Rule
	for _, r := range sorted {
		if r.Selection.StorageClass == class {
			rules = append(rules, r)
		}
	}
	for i, r := range rules {
		if r.Selection.TagStatus == TagStatusAny && i != len(rules)-1 {
			return invalidf("Rule with tagStatus 'any' must have the highest rulePriority for its storage class")
		}
	}
	untagged := 0
	for _, r := range rules {
		if r.Selection.TagStatus == TagStatusUntagged {
			untagged++
		}
	}
	if untagged > 1 {
		return invalidf("Only one rule selecting storage class %s may select untagged images", class)
	}
	lists := make(map[string]bool)
	for _, r := range rules {
		if r.Selection.TagStatus != TagStatusTagged {
			continue
		}
		key := "prefix:" + listKey(r.Selection.TagPrefixList)
		if r.Selection.TagPatternList != nil {
			key = "pattern:" + listKey(r.Selection.TagPatternList)
		}
		if lists[key] {
			return invalidf("The rules selecting storage class %s must have unique tag prefixes", class)
		}
		lists[key] = true
	}
	return nil
}

// listKey identifies a set of strings: sorted, without duplicates, and
// JSON-quoted so that no element can forge a separator.
func listKey(list []string) string {
	set := slices.Compact(slices.Sorted(slices.Values(list)))
	return quoteList(set)
}
