package lifecycle

import "strings"

// pattern is a tag pattern split at its wildcards: "prod-*-x" is
// {"prod-", "-x"}. A pattern without wildcards has one part.
type pattern []string

func compilePattern(p string) pattern {
	return strings.Split(p, "*")
}

// match reports whether the whole tag matches, '*' standing for any run of
// characters, the empty one included.
func (p pattern) match(tag string) bool {
	if len(p) == 1 {
		return tag == p[0]
	}
	first, last := p[0], p[len(p)-1]
	if len(tag) < len(first)+len(last) || !strings.HasPrefix(tag, first) || !strings.HasSuffix(tag, last) {
		return false
	}
	// Taking each middle part at its leftmost place leaves the most room
	// for the next ones, so a greedy scan finds a match if there is one.
	rest := tag[len(first) : len(tag)-len(last)]
	for _, part := range p[1 : len(p)-1] {
		i := strings.Index(rest, part)
		if i < 0 {
			return false
		}
		rest = rest[i+len(part):]
	}
	return true
}

// selector is a rule's selection, compiled for matching many images.
type selector struct {
	status   TagStatus
	class    StorageClass
	prefixes []string
	patterns []pattern
}

func newSelector(s Selection) selector {
	sel := selector{status: s.TagStatus, class: normalClass(s.StorageClass), prefixes: s.TagPrefixList}
	for _, p := range s.TagPatternList {
		sel.patterns = append(sel.patterns, compilePattern(p))
	}
	return sel
}

// selects reports whether the rule identifies an image of the given storage
// class and tags. With several prefixes or patterns, each must match at
// least one tag, not necessarily the same one.
func (s *selector) selects(class StorageClass, tags []string) bool {
	if class != s.class {
		return false
	}
	switch s.status {
	case TagStatusAny:
		return true
	case TagStatusUntagged:
		return len(tags) == 0
	case TagStatusTagged:
		if len(tags) == 0 {
			return false
		}
		for _, prefix := range s.prefixes {
			if !anyTag(tags, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
				return false
			}
		}
		for _, p := range s.patterns {
			if !anyTag(tags, p.match) {
				return false
			}
		}
		return true
	}
	return false
}

func anyTag(tags []string, match func(string) bool) bool {
	for _, t := range tags {
		if match(t) {
			return true
		}
	}
	return false
}

// normalClass reads an unset storage class as standard.
func normalClass(c StorageClass) StorageClass {
	if c == "" {
		return StorageStandard
	}
	return c
}
