package registry

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

func testCacheKey(name string) metadata.RepoKey {
	return metadata.RepoKey{Scope: metadata.Scope{Account: "123456789012", Region: "us-east-1"}, Name: name}
}

// fill caches key's record (ID id) and tag's image as a pull does.
func fillCache(t *testing.T, c *cache, key metadata.RepoKey, id int64, tag string, img metadata.Image) {
	t.Helper()
	if _, ok, gen := c.repo(key); !ok {
		c.putRepo(metadata.Repository{Key: key, ID: id}, gen)
	}
	_, _, gen := c.lookup(id, tag, "")
	c.store(key, id, gen, tag, img)
	if got, ok, _ := c.lookup(id, tag, ""); !ok || got.Digest != img.Digest {
		t.Fatalf("%s:%s not cached after a store", key.Name, tag)
	}
}

func TestCacheDropReachesImagesCachedWithoutRecord(t *testing.T) {
	c := newCache(1 << 20)
	key := testCacheKey("app")
	old := metadata.Image{RepoID: 7, Digest: digest.FromString("old"), Content: []byte("old")}
	fillCache(t, c, key, 7, "v1", old)

	// Another process changes the repository: the record and images are
	// dropped. A pull that had the record before the drop caches the
	// tag again, so images are cached while the record is not.
	c.dropKey(key)
	_, _, gen := c.lookup(7, "v1", "")
	c.store(key, 7, gen, "v1", old)
	if _, ok, _ := c.repo(key); ok {
		t.Fatal("record cached after a drop")
	}
	// A second change through another process must reach those images.
	c.dropKey(key)
	if _, ok, _ := c.lookup(7, "v1", ""); ok {
		t.Fatal("an image cached while the record was not survived a drop of the repository")
	}
}

func TestCacheRecordReadBeforeDropIsNotCached(t *testing.T) {
	for _, seen := range []bool{false, true} {
		c := newCache(1 << 20)
		key := testCacheKey("app")
		if seen {
			fillCache(t, c, key, 7, "v1", metadata.Image{Digest: digest.FromString("a")})
			c.dropKey(key)
		}
		_, ok, gen := c.repo(key)
		if ok {
			t.Fatal("record cached after a drop")
		}
		// The record is read; meanwhile another process changes it.
		stale := metadata.Repository{Key: key, ID: 7, Settings: metadata.RepositorySettings{TagMutability: "MUTABLE"}}
		c.dropKey(key)
		c.putRepo(stale, gen)
		if _, ok, _ := c.repo(key); ok {
			t.Fatalf("seen=%v: a record read before a drop was cached after it", seen)
		}
		// Read again after the drop, it is cached.
		_, _, gen = c.repo(key)
		c.putRepo(stale, gen)
		if _, ok, _ := c.repo(key); !ok {
			t.Fatalf("seen=%v: a record read after the drop was not cached", seen)
		}
	}
}

func TestCacheImageReadBeforeDropIsNotCached(t *testing.T) {
	c := newCache(1 << 20)
	key := testCacheKey("app")
	fillCache(t, c, key, 7, "v1", metadata.Image{Digest: digest.FromString("a")})
	_, _, gen := c.lookup(7, "v2", "")
	c.dropKey(key) // the tag moved through another process
	c.store(key, 7, gen, "v2", metadata.Image{Digest: digest.FromString("stale")})
	if _, ok, _ := c.lookup(7, "v2", ""); ok {
		t.Fatal("an image read before a drop was cached after it")
	}
}

func TestCacheImagesOnlyUnderTheNamesID(t *testing.T) {
	c := newCache(1 << 20)
	key := testCacheKey("app")
	fillCache(t, c, key, 7, "v1", metadata.Image{Digest: digest.FromString("a")})
	// A record of the repository deleted and made again under the same
	// name: its images are not cached under the old name entry's ID.
	_, _, gen := c.lookup(8, "v1", "")
	c.store(key, 8, gen, "v1", metadata.Image{Digest: digest.FromString("b")})
	if _, ok, _ := c.lookup(8, "v1", ""); ok {
		t.Fatal("an image was cached under an ID its name's entry does not hold")
	}
	c.dropRepo(key, 7)
	if _, ok, _ := c.lookup(7, "v1", ""); ok {
		t.Fatal("dropRepo left the images")
	}
}

// TestCacheBoundCoversWhatEntriesHold fills the cache far past its bound
// with images as the database hands them out (every string and the
// content allocated apart) and checks that the heap it holds stays near
// the bound: entryCost must account for what an entry really holds, not
// its manifest bytes alone, which are about half of it.
func TestCacheBoundCoversWhatEntriesHold(t *testing.T) {
	const bound = 8 << 20
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	c := newCache(bound)
	for r := range 200 {
		key := testCacheKey(fmt.Sprintf("repo-%d", r))
		id := int64(r + 1)
		_, _, g := c.repo(key)
		c.putRepo(metadata.Repository{Key: key, ID: id}, g)
		for i := range 400 {
			tag := fmt.Sprintf("v%d", i)
			content := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":3623807}]}`,
				digest.FromString(tag+"c"), digest.FromString(tag+"l"))
			img := metadata.Image{RepoID: id, Digest: digest.Digest(strings.Clone(string(digest.FromBytes(content)))),
				MediaType: strings.Clone("application/vnd.oci.image.manifest.v1+json"), ArtifactType: strings.Clone("application/vnd.oci.image.config.v1+json"),
				StorageClass: strings.Clone("STANDARD"), Size: int64(len(content)), Content: content}
			_, _, gen := c.lookup(id, tag, "")
			c.store(key, id, gen, tag, img)
		}
	}
	held := heap() - before
	if c.size > bound {
		t.Fatalf("cache accounts for %d bytes, over its bound %d", c.size, bound)
	}
	if c.size < bound/2 {
		t.Fatalf("cache accounts for %d bytes, far under its bound %d after 80,000 stores", c.size, bound)
	}
	t.Logf("bound %d, accounted %d, heap held %d (%.2fx the bound)", bound, c.size, held, float64(held)/bound)
	if held > bound*5/4 {
		t.Errorf("the cache holds %d bytes of heap for a bound of %d: entryCost underestimates what an entry holds", held, bound)
	}
	runtime.KeepAlive(c)
}

func TestCacheOff(t *testing.T) {
	c := newCache(-1) // manifest-cache=0
	key := testCacheKey("app")
	_, _, g := c.repo(key)
	c.putRepo(metadata.Repository{Key: key, ID: 7}, g)
	_, _, gen := c.lookup(7, "v1", "")
	c.store(key, 7, gen, "v1", metadata.Image{Digest: digest.FromString("a")})
	if _, ok, _ := c.lookup(7, "v1", ""); ok {
		t.Fatal("an image was cached with the cache off")
	}
}
