// Package awsquery writes answers in the AWS query protocol that IAM and
// STS speak: form-encoded requests, XML responses and errors.
package awsquery

import (
	"encoding/xml"
	"net/http"
)

// MaxBodySize bounds a query-protocol request body.
const MaxBodySize = 1 << 20

// WriteResult writes <{Action}Response><{Action}Result>result</...> with
// the response metadata. result must marshal as the Result element's
// content; nil writes a response with no Result (for actions without
// output).
func WriteResult(w http.ResponseWriter, xmlns, action, requestID string, result any) {
	type metadata struct {
		RequestID string `xml:"RequestId"`
	}
	type response struct {
		XMLName  xml.Name
		Xmlns    string   `xml:"xmlns,attr"`
		Result   any      `xml:",omitempty"`
		Metadata metadata `xml:"ResponseMetadata"`
	}
	resp := response{
		XMLName:  xml.Name{Local: action + "Response"},
		Xmlns:    xmlns,
		Metadata: metadata{RequestID: requestID},
	}
	if result != nil {
		resp.Result = wrapper{name: action + "Result", v: result}
	}
	write(w, http.StatusOK, resp)
}

// wrapper marshals v inside an element of the given name.
type wrapper struct {
	name string
	v    any
}

func (wr wrapper) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.EncodeElement(wr.v, xml.StartElement{Name: xml.Name{Local: wr.name}})
}

// WriteError writes an <ErrorResponse>. Sender faults are the client's;
// the others the server's.
func WriteError(w http.ResponseWriter, xmlns, code, message string, status int, requestID string) {
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	type errorElem struct {
		Type    string
		Code    string
		Message string
	}
	type errorResponse struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errorElem
		RequestID string `xml:"RequestId"`
	}
	write(w, status, errorResponse{Xmlns: xmlns, Error: errorElem{kind, code, message}, RequestID: requestID})
}

func write(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}
