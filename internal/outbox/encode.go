package outbox

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The audit trail encodes a record for every request, and encoding/json
// spent most of that time reflecting over the record and sorting its
// parameters' keys. AppendJSON writes the same bytes json.Marshal would
// (FuzzAppendJSON holds it to that) for the shapes records take, and
// leaves any other value to encoding/json.

// AppendJSON appends r encoded as json.Marshal encodes it.
func (r *Record) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, r.EventVersion)
	b = append(b, `,"userIdentity":`...)
	b, err := r.UserIdentity.appendJSON(b)
	if err != nil {
		return nil, err
	}
	b = appendField(b, "eventTime", r.EventTime, false)
	b = appendField(b, "eventSource", r.EventSource, false)
	b = appendField(b, "eventName", r.EventName, false)
	b = appendField(b, "awsRegion", r.AWSRegion, false)
	b = appendField(b, "sourceIPAddress", r.SourceIPAddress, true)
	b = appendField(b, "userAgent", r.UserAgent, true)
	b = appendField(b, "errorCode", r.ErrorCode, true)
	b = appendField(b, "errorMessage", r.ErrorMessage, true)
	b = append(b, `,"requestParameters":`...)
	if b, err = appendMap(b, r.RequestParameters); err != nil {
		return nil, err
	}
	b = append(b, `,"responseElements":`...)
	if b, err = appendMap(b, r.ResponseElements); err != nil {
		return nil, err
	}
	b = appendField(b, "requestID", r.RequestID, true)
	b = appendField(b, "eventID", r.EventID, false)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, r.ReadOnly)
	if len(r.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i, res := range r.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			n := len(b)
			b = appendField(b, "accountId", res.AccountID, true)
			b = appendField(b, "type", res.Type, true)
			b = appendField(b, "ARN", res.ARN, false)
			b = slices.Delete(b, n, n+1) // the first field's comma
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, "eventType", r.EventType, false)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, r.ManagementEvent)
	b = appendField(b, "recipientAccountId", r.RecipientAccountID, false)
	b = appendField(b, "eventCategory", r.EventCategory, false)
	return append(b, '}'), nil
}

func (a *Actor) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, a.Type)
	b = appendField(b, "principalId", a.PrincipalID, true)
	b = appendField(b, "arn", a.ARN, true)
	b = appendField(b, "accountId", a.AccountID, true)
	b = appendField(b, "accessKeyId", a.AccessKeyID, true)
	b = appendField(b, "userName", a.UserName, true)
	b = appendField(b, "identityProvider", a.IdentityProvider, true)
	if a.SessionContext != nil {
		sc, err := json.Marshal(a.SessionContext)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"sessionContext":`...)
		b = append(b, sc...)
	}
	b = appendField(b, "invokedBy", a.InvokedBy, true)
	return append(b, '}'), nil
}

// appendField appends ,"name":"value", or nothing for an empty value
// that is omitted when empty.
func appendField(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendMap(b []byte, m map[string]any) ([]byte, error) {
	return appendObject(b, m, appendValue)
}

// appendObject encodes m as encoding/json encodes a map: keys sorted,
// nil as null.
func appendObject[V any](b []byte, m map[string]V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = value(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendArray encodes s as encoding/json encodes a slice: nil as null.
func appendArray[V any](b []byte, s []V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	if s == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = value(b, e); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func appendStringValue(b []byte, s string) ([]byte, error) { return appendString(b, s), nil }

func appendStringMap(b []byte, m map[string]string) ([]byte, error) {
	return appendObject(b, m, appendStringValue)
}

// appendValue encodes the values parameters hold: what JSON or a form
// decoded into, and the few shapes the registry's routes build.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]any:
		return appendMap(b, v)
	case map[string]string:
		return appendStringMap(b, v)
	case []any:
		return appendArray(b, v, appendValue)
	case []string:
		return appendArray(b, v, appendStringValue)
	case []map[string]string:
		return appendArray(b, v, appendStringMap)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

const hex = "0123456789abcdef"

// appendString quotes s as encoding/json does: HTML's <, > and & escaped,
// invalid UTF-8 replaced by U+FFFD, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
