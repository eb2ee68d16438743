package scaleout

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestReplicaKilledMidPush: each round, clients push images through all
// three replicas while one of them, chosen at random, is killed with
// SIGKILL; a chunked upload it had acknowledged two chunks of is then
// finished through another replica. After each kill, every push a replica
// acknowledged (whichever it was) pulls whole through the survivors, and
// the killed replica's place is taken by a new one on the same stores.
func TestReplicaKilledMidPush(t *testing.T) {
	c := startCluster(t, 3)
	pw := c.Replicas[0].Password(t)
	opts := remoteOptions(pw)
	hc := &http.Client{Transport: ecrdtest.AuthTransport{Password: pw, Base: http.DefaultTransport}}
	type pushed struct {
		repo string
		want v1.Hash
	}
	var acked []pushed
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		victim := rand.IntN(len(c.Replicas))
		v := c.Replicas[victim]

		// Two chunks acknowledged by the victim before it dies.
		chunks := [][]byte{make([]byte, 5<<20+17), make([]byte, 1<<20), make([]byte, 2<<20)}
		for i := range chunks {
			cryptoRead(chunks[i])
		}
		up := startChunks(t, hc, v, fmt.Sprintf("crash/chunks%d", round), chunks[:2])

		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		stop := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					r := c.Replicas[(w+i)%len(c.Replicas)]
					repo := fmt.Sprintf("crash/r%dw%di%d", round, w, i)
					img, err := random.Image(256<<10, 2)
					if err != nil {
						return
					}
					want, _ := img.Digest()
					if err := remote.Write(ref(t, r, repo+":v1"), img, opts...); err == nil {
						mu.Lock()
						acked = append(acked, pushed{repo, want})
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		v.Kill()
		time.Sleep(200 * time.Millisecond)
		close(stop)
		wg.Wait()

		survivors := append(append([]*ecrdtest.Server(nil), c.Replicas[:victim]...), c.Replicas[victim+1:]...)
		up.finish(t, survivors, chunks[2])
		for i, p := range acked {
			r := survivors[i%len(survivors)]
			img, err := remote.Image(ref(t, r, p.repo+":v1"), opts...)
			if err != nil {
				t.Fatalf("round %d: %s, acknowledged, does not pull through %s after a replica was killed: %v", round, p.repo, r.Addr, err)
			}
			if d := digestOf(t, img); d != p.want {
				t.Fatalf("round %d: %s pulls as %s, pushed %s", round, p.repo, d, p.want)
			}
			layers, _ := img.Layers()
			for _, l := range layers {
				if err := verifyLayer(l); err != nil {
					t.Fatalf("round %d: %s: %v", round, p.repo, err)
				}
			}
		}
		t.Logf("round %d: replica %d killed; %d acknowledged pushes so far all pull whole", round, victim+1, len(acked))
		for _, r := range survivors {
			ecrdtest.NoServerErrors(t, r)
		}
		c.Replicas = survivors
		c.Add(t)
	}
}

func cryptoRead(b []byte) { crand.Read(b) }
