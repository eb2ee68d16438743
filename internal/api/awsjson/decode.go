package awsjson

// Decoding of AWS JSON 1.1 request bodies into a service's input shapes.
//
// Decode streams the body through encoding/json's tokenizer and fills
// the shape by reflection instead of calling json.Unmarshal, to behave as
// an AWS JSON service does:
//
//   - member names match exactly (json.Unmarshal would also accept
//     "RepositoryName" for repositoryName);
//   - unknown members are skipped without being stored, for forward
//     compatibility;
//   - null is the same as an absent member;
//   - a value of the wrong JSON type is a SerializationException naming the
//     member, with the path form of AWS's validation messages (MemberPath:
//     "imageIds.1.member.imageTag");
//   - an integer must be integral and fit its shape (int32 for integer,
//     int64 for long); a blob is standard, padded base64; a timestamp is a
//     number of epoch seconds.
//
// Bounds: nesting deeper than maxDecodeDepth and lists longer than
// maxDecodeListMembers are refused, so a body (already capped at 32 MiB by
// the caller) cannot make the decoder build something much larger than
// itself. No shape of the ECR or KMS models nests deeper than 3 levels, and
// no bounded list allows more than 100 members.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ecrd/ecrd/internal/manifest"
)

const (
	maxDecodeDepth       = 64
	maxDecodeListMembers = 10000
)

// SerializationError is a request body that is not JSON, or not JSON of the
// operation's shape; Service.Serve answers it with SerializationException.
type SerializationError struct {
	Message string
}

func (e *SerializationError) Error() string { return e.Message }

// Decode decodes an AWS JSON 1.1 request body into v, a pointer to an
// operation's input structure. An empty or all-whitespace body is {}. Errors in the body are
// *SerializationError; any other error is a programming error (v is not a
// pointer to a struct, or holds a type the decoder does not know).
func Decode(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsjson: Decode needs a non-nil pointer to a struct, not %T", v)
	}
	if len(bytes.Trim(body, " \t\r\n")) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		// JSON is UTF-8; Go's decoder would turn bad bytes into U+FFFD,
		// and a manifest so changed no longer matches its digest.
		return &SerializationError{Message: fmt.Sprintf("The request body is not valid UTF-8 (at byte %d): JSON text must be UTF-8", manifest.InvalidUTF8At(body))}
	}
	d := &bodyDecoder{dec: json.NewDecoder(bytes.NewReader(body))}
	d.dec.UseNumber()
	tok, err := d.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return &SerializationError{Message: "The request body must be a JSON object, found " + describeToken(tok)}
	}
	if err := d.structure(rv.Elem(), "", 1); err != nil {
		return err
	}
	switch _, err := d.dec.Token(); {
	case err == io.EOF:
		return nil
	case err == nil:
		return &SerializationError{Message: "Unexpected data after the JSON object of the request body"}
	default:
		return &SerializationError{Message: "Unexpected data after the JSON object of the request body: " + err.Error()}
	}
}

type bodyDecoder struct {
	dec *json.Decoder
}

// token reads the next token, turning syntax errors and a truncated body
// into a SerializationError.
func (d *bodyDecoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err == nil {
		return tok, nil
	}
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return nil, &SerializationError{Message: fmt.Sprintf("Malformed JSON at offset %d: %v", syntax.Offset, err)}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return nil, &SerializationError{Message: "Malformed JSON: unexpected end of the request body"}
	default:
		return nil, &SerializationError{Message: "Malformed JSON: " + err.Error()}
	}
}

func tooDeep() error {
	return &SerializationError{Message: fmt.Sprintf("The request body nests JSON deeper than %d levels", maxDecodeDepth)}
}

// structure fills the struct rv from the members of an object whose '{'
// has been read, up to and including its '}'.
func (d *bodyDecoder) structure(rv reflect.Value, path string, depth int) error {
	if depth > maxDecodeDepth {
		return tooDeep()
	}
	fields, err := structFields(rv.Type())
	if err != nil {
		return err
	}
	for d.dec.More() {
		tok, err := d.token()
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok { // the tokenizer only yields strings here; be safe anyway
			return &SerializationError{Message: "Malformed JSON: object key is not a string"}
		}
		index, known := fields[name]
		if !known {
			if err := d.skip(depth); err != nil {
				return err
			}
			continue
		}
		f := rv.FieldByIndex(index)
		f.SetZero() // a repeated member replaces the earlier one
		tok, err = d.token()
		if err != nil {
			return err
		}
		if err := d.value(tok, f, joinPath(path, name), depth); err != nil {
			return err
		}
	}
	_, err = d.token() // '}'
	return err
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// skip reads and discards the value that follows, bounding its nesting.
func (d *bodyDecoder) skip(depth int) error {
	open := 0
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			open++
			if depth+open > maxDecodeDepth {
				return tooDeep()
			}
		case json.Delim('}'), json.Delim(']'):
			open--
		}
		if open == 0 {
			return nil
		}
	}
}

var (
	timestampType = reflect.TypeFor[Timestamp]()
	bytesType     = reflect.TypeFor[[]byte]()
)

// value stores the value that starts with tok into f, the member at path.
func (d *bodyDecoder) value(tok json.Token, f reflect.Value, path string, depth int) error {
	if tok == nil { // null: the member is absent
		return nil
	}
	t := f.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := d.value(tok, p.Elem(), path, depth); err != nil {
			return err
		}
		f.Set(p)
		return nil
	case t == timestampType:
		n, ok := tok.(json.Number)
		if !ok {
			return mismatch(path, "a number of epoch seconds", tok)
		}
		ts, err := parseEpochSeconds(string(n))
		if err != nil {
			return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': %s is not a valid timestamp", path, abbreviate(string(n)))}
		}
		f.Set(reflect.ValueOf(ts))
		return nil
	case t == bytesType:
		s, ok := tok.(string)
		if !ok {
			return mismatch(path, "a base64-encoded string", tok)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': expected a base64-encoded string, found a string that is not valid base64", path)}
		}
		f.SetBytes(b) // never nil: DecodeString("") is an empty slice
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := tok.(string)
		if !ok {
			return mismatch(path, "a string", tok)
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := tok.(bool)
		if !ok {
			return mismatch(path, "a boolean", tok)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return mismatch(path, "an integer", tok)
		}
		i, err := parseInteger(string(n), t.Bits())
		if err != nil {
			return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': %v", path, err)}
		}
		f.SetInt(i)
	case reflect.Struct:
		if tok != json.Delim('{') {
			return mismatch(path, "an object", tok)
		}
		return d.structure(f, path, depth+1)
	case reflect.Slice:
		if tok != json.Delim('[') {
			return mismatch(path, "an array", tok)
		}
		return d.list(f, path, depth+1)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("awsjson: Decode cannot decode %s at %s", t, path)
		}
		if tok != json.Delim('{') {
			return mismatch(path, "an object", tok)
		}
		return d.mapping(f, path, depth+1)
	default:
		return fmt.Errorf("awsjson: Decode cannot decode %s at %s", t, path)
	}
	return nil
}

// list fills the slice f from an array whose '[' has been read, up to and
// including its ']'. An empty array gives an empty, non-nil slice: present,
// unlike an absent member.
func (d *bodyDecoder) list(f reflect.Value, path string, depth int) error {
	if depth > maxDecodeDepth {
		return tooDeep()
	}
	s := reflect.MakeSlice(f.Type(), 0, 0)
	for d.dec.More() {
		if s.Len() == maxDecodeListMembers {
			return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': more than %d list members", path, maxDecodeListMembers)}
		}
		tok, err := d.token()
		if err != nil {
			return err
		}
		member := MemberPath(path, s.Len())
		if tok == nil {
			return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': list members must not be null", member)}
		}
		e := reflect.New(f.Type().Elem()).Elem()
		if err := d.value(tok, e, member, depth); err != nil {
			return err
		}
		s = reflect.Append(s, e)
	}
	if _, err := d.token(); err != nil { // ']'
		return err
	}
	f.Set(s)
	return nil
}

// mapping fills the string-keyed map f from an object whose '{' has been
// read, up to and including its '}'. No request shape has a map; this keeps
// Decode total over the response shapes too.
func (d *bodyDecoder) mapping(f reflect.Value, path string, depth int) error {
	if depth > maxDecodeDepth {
		return tooDeep()
	}
	m := reflect.MakeMap(f.Type())
	for d.dec.More() {
		if m.Len() == maxDecodeListMembers {
			return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': more than %d map entries", path, maxDecodeListMembers)}
		}
		tok, err := d.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return &SerializationError{Message: "Malformed JSON: object key is not a string"}
		}
		tok, err = d.token()
		if err != nil {
			return err
		}
		e := reflect.New(f.Type().Elem()).Elem()
		if err := d.value(tok, e, path+"."+key, depth); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(key).Convert(f.Type().Key()), e)
	}
	if _, err := d.token(); err != nil { // '}'
		return err
	}
	f.Set(m)
	return nil
}

// MemberPath names the i-th member (from 0) of a list member as AWS's
// messages do: "<list>.<i+1>.member".
func MemberPath(list string, i int) string {
	return list + "." + strconv.Itoa(i+1) + ".member"
}

// mismatch is the error for a value of the wrong JSON type.
func mismatch(path, expected string, tok json.Token) error {
	return &SerializationError{Message: fmt.Sprintf("Unexpected value for member '%s': expected %s, found %s", path, expected, describeToken(tok))}
}

// describeToken names the kind of JSON value tok starts.
func describeToken(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case json.Delim:
		if tok == '{' {
			return "an object"
		}
		if tok == '[' {
			return "an array"
		}
	}
	return fmt.Sprintf("%v", tok)
}

// parseInteger reads a JSON number as an integer of the given bits. A
// number written with a fraction or exponent is accepted when its value is
// integral (5.0, 1e3), as long as it is exactly representable.
func parseInteger(s string, bits int) (int64, error) {
	i, err := strconv.ParseInt(s, 10, bits)
	if err == nil {
		return i, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s is out of range for a %d-bit integer", abbreviate(s), bits)
	}
	fl, ferr := strconv.ParseFloat(s, 64)
	switch {
	case ferr != nil && !errors.Is(ferr, strconv.ErrRange):
		return 0, fmt.Errorf("expected an integer, found %s", abbreviate(s))
	case fl != math.Trunc(fl), fl == 0 && !zeroMantissa(s): // 1e-400 reads as 0
		return 0, fmt.Errorf("expected an integer, found %s", abbreviate(s))
	case ferr != nil || math.Abs(fl) > 1<<53 || fl < -math.Ldexp(1, bits-1) || fl >= math.Ldexp(1, bits-1):
		return 0, fmt.Errorf("%s is out of range for a %d-bit integer", abbreviate(s), bits)
	}
	return int64(fl), nil
}

// zeroMantissa reports whether the digits of a JSON number before its
// exponent are all zero.
func zeroMantissa(s string) bool {
	for _, r := range s {
		switch {
		case r == 'e' || r == 'E':
			return true
		case r >= '1' && r <= '9':
			return false
		}
	}
	return true
}

// abbreviate shortens s for an error message.
func abbreviate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// structFields maps the JSON member names of a struct type to field
// indexes, once per type. The members of an embedded struct (not a
// pointer to one) are the outer struct's, as with encoding/json; a name
// the outer struct has itself wins over an embedded one.
func structFields(t reflect.Type) (map[string][]int, error) {
	if fields, ok := fieldCache.Load(t); ok {
		return fields.(map[string][]int), nil
	}
	fields := make(map[string][]int, t.NumField())
	embedded := map[string][]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			if sf.Type.Kind() != reflect.Struct {
				return nil, fmt.Errorf("awsjson: Decode cannot decode embedded field %s of %s", sf.Name, t)
			}
			inner, err := structFields(sf.Type)
			if err != nil {
				return nil, err
			}
			for name, index := range inner {
				if _, twice := embedded[name]; twice {
					return nil, fmt.Errorf("awsjson: Decode cannot decode %s: two embedded structs have member %s", t, name)
				}
				embedded[name] = append([]int{i}, index...)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		name := sf.Name
		if tag, ok := sf.Tag.Lookup("json"); ok {
			if tag == "-" {
				continue
			}
			if n, _, _ := strings.Cut(tag, ","); n != "" {
				name = n
			}
		}
		fields[name] = []int{i}
	}
	for name, index := range embedded {
		if _, ok := fields[name]; !ok {
			fields[name] = index
		}
	}
	fieldCache.Store(t, fields)
	return fields, nil
}

var fieldCache sync.Map // reflect.Type -> map[string][]int
