package blobcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SegmentSize is the number of plaintext bytes in each segment that
// NewWriter writes (the last may hold fewer). PlaintextSize and
// CiphertextSize assume it.
const SegmentSize = 64 << 10

// DataKeySize is the size of a data key in bytes (AES-256).
const DataKeySize = 32

// Limits on the header's variable fields. They bound what a reader
// allocates for a header it has not yet authenticated. An ARN has at most
// 2048 characters; a KMS ciphertext blob at most 6144 bytes.
const (
	MaxKeyARNLen     = 2048
	MaxWrappedKeyLen = 8192
)

const (
	magic        = "ECRDENC1"
	tagSize      = 16
	saltSize     = 16
	fixedHdrLen  = len(magic) + 4 + 4 + saltSize + 2 + 2 // 36
	maxHeaderLen = fixedHdrLen + MaxKeyARNLen + MaxWrappedKeyLen

	// Segment sizes a reader accepts. Only SegmentSize is written outside
	// tests; the bounds keep a forged header from making a reader allocate
	// a huge buffer before anything is authenticated.
	minSegmentSize = 16
	maxSegmentSize = 1 << 20

	kdfLabel = "ecrd blobcrypt v1 segment key\x00"
)

// ErrCorrupt is wrapped by every error that reports an object failing to
// authenticate or parse: it was modified, truncated or extended, is not
// an encrypted object at all, or was opened with the wrong data key.
var ErrCorrupt = errors.New("encrypted blob is corrupt or was opened with the wrong key")

// Header is the caller-visible part of an encrypted object's header: what
// the caller needs to recover the object's data key.
type Header struct {
	KeyARN     string // the KMS key that wrapped the data key
	WrappedKey []byte // the data key as encrypted by KMS; opaque here
}

// Len returns the number of bytes the header takes at the start of an
// encrypted object: the headerLen of PlaintextSize and CiphertextSize.
func (h Header) Len() int { return fixedHdrLen + len(h.KeyARN) + len(h.WrappedKey) }

func (h Header) check() error {
	if len(h.KeyARN) > MaxKeyARNLen {
		return fmt.Errorf("blobcrypt: key ARN has %d bytes; at most %d fit in a header", len(h.KeyARN), MaxKeyARNLen)
	}
	if len(h.WrappedKey) > MaxWrappedKeyLen {
		return fmt.Errorf("blobcrypt: wrapped key has %d bytes; at most %d fit in a header", len(h.WrappedKey), MaxWrappedKeyLen)
	}
	return nil
}

// marshal encodes the header in the layout described in doc.go.
func (h Header) marshal(salt []byte, segSize int) []byte {
	b := make([]byte, 0, h.Len())
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint32(b, uint32(h.Len()))
	b = binary.BigEndian.AppendUint32(b, uint32(segSize))
	b = append(b, salt...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.KeyARN)))
	b = append(b, h.KeyARN...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.WrappedKey)))
	b = append(b, h.WrappedKey...)
	return b
}

// rawHeader is a parsed header with the fields only this package needs.
type rawHeader struct {
	Header
	raw     []byte // the encoded header, bound into the segment key
	salt    []byte
	segSize int
}

// ReadHeader reads and parses the header at the start of an encrypted
// object, reading no further than its end. It checks the header's format
// only: the header is authenticated when segments are opened.
func ReadHeader(r io.Reader) (Header, error) {
	h, err := readHeader(r)
	return h.Header, err
}

func readHeader(r io.Reader) (rawHeader, error) {
	var prefix [len(magic) + 4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return rawHeader{}, headerReadErr(err)
	}
	if string(prefix[:len(magic)]) != magic {
		return rawHeader{}, fmt.Errorf("%w: it does not start with %q, so it is not an object blobcrypt encrypted (or its header was overwritten)", ErrCorrupt, magic)
	}
	n := binary.BigEndian.Uint32(prefix[len(magic):])
	if n < uint32(fixedHdrLen) || n > uint32(maxHeaderLen) {
		return rawHeader{}, fmt.Errorf("%w: header length %d is outside [%d, %d]", ErrCorrupt, n, fixedHdrLen, maxHeaderLen)
	}
	raw := make([]byte, n)
	copy(raw, prefix[:])
	if _, err := io.ReadFull(r, raw[len(prefix):]); err != nil {
		return rawHeader{}, headerReadErr(err)
	}
	return parseHeader(raw)
}

func headerReadErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the object ends inside its header", ErrCorrupt)
	}
	return fmt.Errorf("blobcrypt: reading header: %w", err)
}

// parseHeader parses raw, which holds exactly the header's declared
// length, and rejects any field that does not fill it exactly, so that a
// header has one encoding.
func parseHeader(raw []byte) (rawHeader, error) {
	h := rawHeader{raw: raw}
	p := raw[len(magic)+4:]
	h.segSize = int(binary.BigEndian.Uint32(p))
	if h.segSize < minSegmentSize || h.segSize > maxSegmentSize {
		return rawHeader{}, fmt.Errorf("%w: segment size %d is outside [%d, %d]", ErrCorrupt, h.segSize, minSegmentSize, maxSegmentSize)
	}
	h.salt, p = p[4:4+saltSize], p[4+saltSize:]
	field := func(what string) ([]byte, error) {
		if len(p) < 2 {
			return nil, fmt.Errorf("%w: header ends before the %s's length", ErrCorrupt, what)
		}
		n := int(binary.BigEndian.Uint16(p))
		if len(p)-2 < n {
			return nil, fmt.Errorf("%w: %s length %d overruns the header", ErrCorrupt, what, n)
		}
		f := p[2 : 2+n]
		p = p[2+n:]
		return f, nil
	}
	arn, err := field("key ARN")
	if err != nil {
		return rawHeader{}, err
	}
	wrapped, err := field("wrapped key")
	if err != nil {
		return rawHeader{}, err
	}
	if len(p) != 0 {
		return rawHeader{}, fmt.Errorf("%w: %d unexpected bytes at the end of the header", ErrCorrupt, len(p))
	}
	h.KeyARN = string(arn)
	h.WrappedKey = wrapped
	if err := h.check(); err != nil {
		return rawHeader{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return h, nil
}

// segmentAEAD returns the cipher that seals the segments of the object
// with header h, whose key is bound to the data key, the salt and every
// byte of the header.
func segmentAEAD(dataKey []byte, h rawHeader) (cipher.AEAD, error) {
	if len(dataKey) != DataKeySize {
		return nil, fmt.Errorf("blobcrypt: data key has %d bytes; it must have %d (AES-256)", len(dataKey), DataKeySize)
	}
	key, err := hkdf.Key(sha256.New, dataKey, h.salt, kdfLabel+string(h.raw), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// setNonce writes the STREAM nonce of segment i into n: an 11-byte
// big-endian counter (whose top three bytes stay zero, as a uint64 of
// segments is beyond any blob) and the last-segment flag.
func setNonce(n *[12]byte, i uint64, last bool) {
	n[0], n[1], n[2] = 0, 0, 0
	binary.BigEndian.PutUint64(n[3:11], i)
	n[11] = 0
	if last {
		n[11] = 1
	}
}

// PlaintextSize returns the plaintext size of an encrypted object of
// ciphertextSize bytes whose header is headerLen bytes long (Header.Len),
// written by NewWriter. It fails, with ErrCorrupt, for a size no object
// can have: such an object was truncated or extended.
func PlaintextSize(headerLen int, ciphertextSize int64) (int64, error) {
	p, _, err := layout(int64(headerLen), SegmentSize, ciphertextSize)
	return p, err
}

// CiphertextSize returns the size of the encrypted object NewWriter
// writes for plaintextSize bytes under a header of headerLen bytes.
func CiphertextSize(headerLen int, plaintextSize int64) int64 {
	if plaintextSize < 0 {
		panic("blobcrypt: negative plaintext size")
	}
	return ciphertextSize(int64(headerLen), SegmentSize, plaintextSize)
}

func ciphertextSize(hdrLen, segSize, plainSize int64) int64 {
	segs := int64(1)
	if plainSize > 0 {
		segs = (plainSize-1)/segSize + 1
	}
	return hdrLen + plainSize + segs*tagSize
}

// layout returns the plaintext size and the number of segments of an
// object of ctSize bytes. Every segment but the last is full and the last
// holds at least one byte unless it is the only one, so each plaintext
// size has exactly one ciphertext size.
func layout(hdrLen, segSize, ctSize int64) (plainSize, segs int64, err error) {
	payload := ctSize - hdrLen
	if payload < tagSize {
		return 0, 0, fmt.Errorf("%w: the object's %d bytes cannot hold its %d-byte header and one segment; it was truncated", ErrCorrupt, ctSize, hdrLen)
	}
	full := segSize + tagSize
	segs = (payload-1)/full + 1
	last := payload - (segs-1)*full
	if last < tagSize || (segs > 1 && last == tagSize) {
		return 0, 0, fmt.Errorf("%w: %d bytes after the header is no whole number of segments; the object was truncated or extended", ErrCorrupt, payload)
	}
	return payload - segs*tagSize, segs, nil
}
