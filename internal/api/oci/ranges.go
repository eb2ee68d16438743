package oci

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// errRangeUnsatisfiable means a Range header that is well formed but lies
// outside the blob.
var errRangeUnsatisfiable = errors.New("range not satisfiable")

// byteRange is an inclusive range of bytes.
type byteRange struct{ start, end int64 }

func (r byteRange) length() int64 { return r.end - r.start + 1 }

// parseRange reads a Range header for a blob of size bytes. It supports
// one range (bytes=a-b, bytes=a-, bytes=-n); ok is false when the header is
// absent, malformed or asks for several ranges, and the whole blob is sent
// (as RFC 9110 allows). A range outside the blob, or one that ends before
// it starts, is errRangeUnsatisfiable.
func parseRange(header string, size int64) (r byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return r, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return r, false, nil
	}
	switch {
	case first == "" && last == "":
		return r, false, nil
	case first == "": // suffix: the last n bytes
		n, err := parseOffset(last)
		if err != nil {
			return r, false, nil
		}
		if n == 0 || size == 0 {
			return r, false, errRangeUnsatisfiable
		}
		return byteRange{start: max(size-n, 0), end: size - 1}, true, nil
	}
	start, err := parseOffset(first)
	if err != nil {
		return r, false, nil
	}
	end := size - 1
	if last != "" {
		if end, err = parseOffset(last); err != nil {
			return r, false, nil
		}
		if end < start {
			return r, false, errRangeUnsatisfiable
		}
		end = min(end, size-1)
	}
	if start >= size {
		return r, false, errRangeUnsatisfiable
	}
	return byteRange{start: start, end: end}, true, nil
}

// parseContentRange reads the Content-Range of an upload chunk: "a-b"
// (the distribution-spec form), also accepting "bytes a-b" and
// "bytes a-b/total" as some clients send.
func parseContentRange(header string) (byteRange, error) {
	s := strings.TrimSpace(header)
	s = strings.TrimPrefix(s, "bytes ")
	s = strings.TrimPrefix(s, "bytes=")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	first, last, found := strings.Cut(s, "-")
	if !found {
		return byteRange{}, errors.New("Content-Range must be <start>-<end>")
	}
	start, err1 := parseOffset(first)
	end, err2 := parseOffset(last)
	if err1 != nil || err2 != nil {
		return byteRange{}, errors.New("Content-Range must be <start>-<end> with decimal byte offsets")
	}
	if end < start {
		return byteRange{}, errors.New("Content-Range ends before it starts")
	}
	if end == math.MaxInt64 {
		return byteRange{}, errors.New("Content-Range is beyond any blob size")
	}
	return byteRange{start: start, end: end}, nil
}

// parseOffset parses a non-negative decimal byte offset.
func parseOffset(s string) (int64, error) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, errors.New("not a byte offset")
	}
	return strconv.ParseInt(s, 10, 64)
}
