// Package awsjsontest checks an adapter's input shapes against the
// shared decoder, for the adapters' tests.
package awsjsontest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/api/awsjson"
)

// DecodesAsEncodingJSON fills every member of each input (a pointer to a
// new input shape, by a name for messages) with a sample value, marshals
// it with encoding/json, and checks that awsjson.Decode reads the same
// value back, as encoding/json does: each member's name and type decode.
func DecodesAsEncodingJSON(t *testing.T, inputs map[string]any) {
	t.Helper()
	for name, in := range inputs {
		v := reflect.ValueOf(in)
		fill(v.Elem(), 0)
		body, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(v.Elem().Type())
		if err := awsjson.Decode(body, got.Interface()); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got.Interface(), in) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", name, got.Elem(), v.Elem())
		}
		std := reflect.New(v.Elem().Type())
		if err := json.Unmarshal(body, std.Interface()); err != nil || !reflect.DeepEqual(std.Interface(), in) {
			t.Errorf("%s: encoding/json disagrees: %v", name, err)
		}
	}
}

// fill sets every member of v, recursively, to a non-zero sample value.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth)
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", depth))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("blob\x00\xff"))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		m.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), depth+1)
		}
	default:
		panic("fill: " + v.Type().String())
	}
}
