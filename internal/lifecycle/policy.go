package lifecycle

import (
	"bytes"
	"encoding/json"
)

// TagStatus selects images by whether they have tags.
type TagStatus string

// Tag statuses.
const (
	TagStatusTagged   TagStatus = "tagged"
	TagStatusUntagged TagStatus = "untagged"
	TagStatusAny      TagStatus = "any"
)

// StorageClass is where an image is kept.
type StorageClass string

// Storage classes.
const (
	StorageStandard StorageClass = "standard"
	StorageArchive  StorageClass = "archive"
)

// CountType is the test a rule applies to the images it selects.
type CountType string

// Count types.
const (
	ImageCountMoreThan     CountType = "imageCountMoreThan"
	SinceImagePushed       CountType = "sinceImagePushed"
	SinceImagePulled       CountType = "sinceImagePulled"
	SinceImageTransitioned CountType = "sinceImageTransitioned"
)

// ActionType is what a rule does to the images it marks.
type ActionType string

// Action types.
const (
	ActionExpire     ActionType = "expire"
	ActionTransition ActionType = "transition"
)

// UnitDays is the only count unit, required by the since* count types.
const UnitDays = "days"

// Policy is a validated lifecycle policy.
type Policy struct {
	// Rules are sorted by ascending Priority after Parse.
	Rules []Rule
}

// Rule is one rule of a policy.
type Rule struct {
	Priority    int       `json:"rulePriority"`
	Description string    `json:"description,omitempty"`
	Selection   Selection `json:"selection"`
	Action      Action    `json:"action"`
}

// Selection says which images a rule considers and which of them it marks.
type Selection struct {
	TagStatus      TagStatus `json:"tagStatus"`
	TagPatternList []string  `json:"tagPatternList,omitempty"`
	TagPrefixList  []string  `json:"tagPrefixList,omitempty"`
	// StorageClass is defaulted to standard when omitted.
	StorageClass StorageClass `json:"storageClass,omitempty"`
	CountType    CountType    `json:"countType"`
	// CountUnit is "days" for the since* count types, "" otherwise.
	CountUnit   string `json:"countUnit,omitempty"`
	CountNumber int    `json:"countNumber"`
}

// Action is what a rule does to the images it marks.
type Action struct {
	Type ActionType `json:"type"`
	// TargetStorageClass is archive for a transition, "" for expire.
	TargetStorageClass StorageClass `json:"targetStorageClass,omitempty"`
}

// MarshalJSON renders p as policy text in canonical form: rules in
// priority order, properties in schema order, storageClass explicit and
// empty optional properties left out. Parse reads it back to an equal
// Policy.
func (p Policy) MarshalJSON() ([]byte, error) {
	rules := p.Rules
	if rules == nil {
		rules = []Rule{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Tag patterns are not HTML; keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Rules []Rule `json:"rules"`
	}{rules}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// String returns the canonical policy text.
func (p Policy) String() string {
	b, err := p.MarshalJSON()
	if err != nil {
		return err.Error()
	}
	return string(b)
}
