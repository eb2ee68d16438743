package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Ranged GETs after a seek start at firstWindow bytes and double each
// time, up to maxWindow: a client reading a range (Seek, then a limited
// Read) stops within a small GET, whose body is then read to its end and
// its connection reused; one reading on gets ever larger GETs. A read
// from the start that never sought fetches the rest of the blob at once.
const (
	firstWindow = 1 << 20
	maxWindow   = 1 << 30
)

// blobReader reads an object through ranged GETs, never holding more of
// it than the caller's buffer.
type blobReader struct {
	ctx  context.Context
	b    *bucket
	key  string
	what string // for errors
	size int64
	// etag is the object's as Open found it: every GET requires it, so a
	// reader never mixes the bytes of two objects stored under one key
	// (a blob deleted and stored again, encrypted under another data key).
	etag string

	pos    int64
	window int64 // 0 until a Seek: then the next GET's length
	body   io.ReadCloser
	end    int64 // where the open body ends
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body == nil {
		if err := r.get(); err != nil {
			return 0, err
		}
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err == io.EOF || r.pos >= r.end {
		r.body.Close()
		r.body = nil
		if r.pos < r.end {
			return n, fmt.Errorf("reading blob %s: %w", r.what, io.ErrUnexpectedEOF)
		}
		err = nil
		if r.pos >= r.size {
			err = io.EOF
		}
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading blob %s: %w", r.what, err)
	}
	return n, err
}

// get starts the GET of the next window.
func (r *blobReader) get() error {
	end := r.size
	if r.window > 0 {
		end = min(r.size, r.pos+r.window)
		r.window = min(2*r.window, maxWindow)
	}
	out, err := r.b.client.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket:  &r.b.name,
		Key:     &r.key,
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", r.pos, end-1)),
		IfMatch: nonEmpty(r.etag),
	})
	if isPreconditionFailed(err) {
		return fmt.Errorf("blob %s was replaced while being read", r.what)
	}
	if err != nil {
		return r.b.fail(err, "reading blob %s", r.what)
	}
	r.body, r.end = out.Body, end
	return nil
}

func (r *blobReader) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = r.pos + offset
	case io.SeekEnd:
		pos = r.size + offset
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if pos < 0 {
		return 0, errors.New("seek: negative position")
	}
	if pos != r.pos || r.window == 0 {
		if r.body != nil {
			r.body.Close()
			r.body = nil
		}
		r.pos, r.window = pos, firstWindow
	}
	return pos, nil
}

func (r *blobReader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// span is a part of an upload to read: size bytes of object key from
// offset, or (key "") bytes held in memory.
type span struct {
	key    string
	offset int64
	size   int64
	mem    []byte
}

// spanReader reads spans one after the other, each object span with one
// ranged GET when its turn comes.
type spanReader struct {
	ctx   context.Context
	b     *bucket
	what  string
	spans []span
	body  io.ReadCloser
	left  int64 // of the current body
}

func (r *spanReader) Read(p []byte) (int, error) {
	for r.body == nil {
		if len(r.spans) == 0 {
			return 0, io.EOF
		}
		sp := r.spans[0]
		r.spans = r.spans[1:]
		if sp.size == 0 {
			continue
		}
		if sp.key == "" {
			r.body, r.left = io.NopCloser(bytes.NewReader(sp.mem)), sp.size
			break
		}
		out, err := r.b.client.GetObject(r.ctx, &s3.GetObjectInput{
			Bucket: &r.b.name,
			Key:    &sp.key,
			Range:  aws.String(fmt.Sprintf("bytes=%d-%d", sp.offset, sp.offset+sp.size-1)),
		})
		if err != nil {
			return 0, r.b.fail(err, "reading %s", r.what)
		}
		r.body, r.left = out.Body, sp.size
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.body.Read(p)
	r.left -= int64(n)
	if r.left == 0 {
		r.body.Close()
		r.body = nil
		return n, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		err = fmt.Errorf("reading %s: %w", r.what, err)
	}
	return n, err
}

func (r *spanReader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	return nil
}
