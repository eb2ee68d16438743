package oci

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// fileWriter stands for a connection net/http would send a file to with
// sendfile: it has ReadFrom, and records whether it was used.
type fileWriter struct {
	bytes.Buffer
	readFrom bool
}

func (w *fileWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom = true
	return w.Buffer.ReadFrom(r)
}

func TestSendBlob(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		size     int
		full     bool // every buffer taken
		readFrom bool // expected to go by ReadFrom (sendfile)
	}{
		{"empty", 0, false, false},
		{"small", 4321, false, false},
		{"largest buffered", smallBlob, false, false},
		{"one byte more", smallBlob + 1, false, true},
		{"large", 3*smallBlob + 17, false, true},
		{"small, no buffer free", 4321, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.full {
				for range cap(sendSlots) {
					sendSlots <- struct{}{}
				}
				defer func() {
					for range cap(sendSlots) {
						<-sendSlots
					}
				}()
			}
			blob := make([]byte, tc.size)
			for i := range blob {
				blob[i] = byte(rng.Uint32())
			}
			var w fileWriter
			// As an *os.File does for a writer that is not a socket, the
			// reader leaves the copy to the writer's ReadFrom.
			sendBlob(&w, struct{ io.Reader }{bytes.NewReader(blob)}, int64(tc.size))
			if !bytes.Equal(w.Bytes(), blob) {
				t.Fatalf("sent %d bytes, not the blob's %d", w.Len(), tc.size)
			}
			if w.readFrom != tc.readFrom {
				t.Fatalf("went by ReadFrom: %v, want %v", w.readFrom, tc.readFrom)
			}
			if len(sendSlots) != map[bool]int{true: cap(sendSlots)}[tc.full] {
				t.Fatalf("%d buffers still taken", len(sendSlots))
			}
		})
	}
}

// A store that ends early gives a short body, never bytes from an
// earlier blob left in a reused buffer.
func TestSendBlobShortRead(t *testing.T) {
	var w fileWriter
	sendBlob(&w, bytes.NewReader(bytes.Repeat([]byte{1}, 1000)), 1000)
	w.Reset()
	sendBlob(&w, bytes.NewReader([]byte("short")), 1000)
	if w.String() != "short" {
		t.Fatalf("sent %q, want only what the store gave", w.String())
	}
}
