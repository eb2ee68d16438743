package manifest

import (
	"encoding/json"
	"strings"
)

// object is one JSON object whose members are kept encoded until asked for.
// Decoding member by member (instead of into one big struct) lets every
// error name the exact field, e.g. "layers[2].size", and lets us tell an
// absent member from an empty one.
type object struct {
	path    string // where the object sits, e.g. "layers[2]"; "" for the top
	members map[string]json.RawMessage
}

// decodeObject reads raw, which must hold a JSON object. raw has already
// been checked to be valid JSON by the enclosing decode, so the only
// possible failure is a value of the wrong type.
func decodeObject(raw json.RawMessage, path string) (object, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return object{}, invalidf("%s: must be a JSON object", path)
	}
	return object{path: path, members: members}, nil
}

// field is the full name of member key, for messages.
func (o object) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// get returns the encoded member key. A member set to null counts as absent,
// as it does for clients that decode into Go structs.
//
// Go clients also match member names case-insensitively, so a body holding
// both "layers" and "Layers" means different things to different readers.
// get refuses such bodies rather than guess which one the pusher meant.
func (o object) get(key string) (json.RawMessage, bool, error) {
	variant := ""
	for k := range o.members {
		if k != key && strings.EqualFold(k, key) && (variant == "" || k < variant) {
			variant = k
		}
	}
	if variant != "" {
		return nil, false, invalidf("%s: member %s differs from %q only in letter case; JSON member names are case-sensitive, use %q",
			o.field(key), quote(variant), key, key)
	}
	raw, ok := o.members[key]
	if !ok || string(raw) == "null" {
		return nil, false, nil
	}
	return raw, true, nil
}

// has reports whether member key is present and not null.
func (o object) has(key string) (bool, error) {
	_, ok, err := o.get(key)
	return ok, err
}

// decode stores member key in v and reports whether it was present.
// want describes the expected JSON type for the error message.
func (o object) decode(key string, v any, want string) (bool, error) {
	raw, ok, err := o.get(key)
	if !ok || err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, invalidf("%s: must be %s", o.field(key), want)
	}
	return true, nil
}

// str returns the string member key, or "" if it is absent. An empty string
// is treated like an absent member, again as Go clients (omitempty) do.
func (o object) str(key string) (string, error) {
	var s string
	_, err := o.decode(key, &s, "a string")
	return s, err
}

// array returns the elements of the array member key, still encoded.
func (o object) array(key string) ([]json.RawMessage, bool, error) {
	var elems []json.RawMessage
	ok, err := o.decode(key, &elems, "an array")
	return elems, ok, err
}
