package registry

import (
	"sync"
	"unsafe"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// cache keeps what every pull reads (the repository record and what a tag
// or digest resolves to) in memory, so that a manifest GET by tag costs no
// database query once warm. Writes through this core invalidate it.
//
// Each repository has a generation, bumped after every committed change
// to its tags or images. A lookup notes the generation before it reads the
// database and stores its result only if the generation is unchanged, so a
// read that raced with a write never caches what the write replaced.
//
// Repository records follow the same rule, by name: each name keeps a
// generation (and the ID it was last seen with) for as long as the
// process runs, so that dropping a name reaches the images cached under
// its ID even while its record is not cached, and a record read before a
// change another process made is not cached after the change dropped it.
//
// The cache is per process. Writes through this process drop what they
// change when they commit; changes through any process (this one
// included) reach it through the outbox (Registry.Changed), which drops
// the repository's entries within the follower's interval.
type cache struct {
	mu      sync.RWMutex
	repos   map[metadata.RepoKey]*repoEntry
	images  map[int64]*repoImages
	size    int64 // what the cached images cost (entryCost)
	maxSize int64
}

// repoEntry is what the cache knows of a repository name: its record if
// cached, and what outlives the record.
type repoEntry struct {
	rec metadata.Repository // zero (ID 0) when not cached
	id  int64               // the ID it was last seen with, 0 if never
	gen uint64              // bumped when the name is dropped
}

type repoImages struct {
	gen      uint64
	byTag    map[string]metadata.Image
	byDigest map[digest.Digest]metadata.Image
}

func newCache(maxSize int64) *cache {
	return &cache{
		repos:   map[metadata.RepoKey]*repoEntry{},
		images:  map[int64]*repoImages{},
		maxSize: maxSize,
	}
}

// repo returns a cached repository record, or the name's generation for
// a later putRepo.
func (c *cache) repo(key metadata.RepoKey) (metadata.Repository, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.repos[key]
	if e == nil {
		return metadata.Repository{}, false, 0
	}
	return e.rec, e.rec.ID != 0, e.gen
}

// putRepo caches a record read from the database at the name's generation
// gen; a record the name was dropped since is not cached.
func (c *cache) putRepo(r metadata.Repository, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.repos[r.Key]
	if e == nil {
		if gen != 0 {
			return
		}
		e = &repoEntry{}
		c.repos[r.Key] = e
	}
	if e.gen != gen {
		return
	}
	e.rec, e.id = r, r.ID
}

// lookup returns a cached image by tag (tag != "") or digest, and the
// repository's generation for a later store.
func (c *cache) lookup(repoID int64, tag string, d digest.Digest) (metadata.Image, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ri := c.images[repoID]
	if ri == nil {
		return metadata.Image{}, false, 0
	}
	var img metadata.Image
	var ok bool
	if tag != "" {
		img, ok = ri.byTag[tag]
	} else {
		img, ok = ri.byDigest[d]
	}
	return img, ok, ri.gen
}

// entryOverhead is what a cached image costs beside its strings and
// content: the Image value in its map slot, with the slack a map keeps as
// it grows, and the key's header.
const entryOverhead = 2*int64(unsafe.Sizeof(metadata.Image{})) + 32

// entryCost is what caching img under tag (or its digest) holds in
// memory: for a typical manifest about as much again as its bytes, so a
// bound on content alone would let the cache weigh twice its size.
func entryCost(tag string, img *metadata.Image) int64 {
	n := entryOverhead + int64(len(tag)+len(img.Digest)+len(img.MediaType)+len(img.ArtifactType)+len(img.Subject)+len(img.StorageClass)+cap(img.Content))
	for k, v := range img.Annotations {
		n += int64(len(k)+len(v)) + 48
	}
	return n
}

// store caches an image of repository key (ID repoID) read from the
// database at generation gen. Only images under the ID the name's entry
// holds are cached, so that dropping the name always reaches them.
func (c *cache) store(key metadata.RepoKey, repoID int64, gen uint64, tag string, img metadata.Image) {
	n := entryCost(tag, &img)
	if c.maxSize <= 0 || n > c.maxSize/16 {
		return // no cache; or one huge manifest must not flush everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.repos[key]; e == nil || e.id != repoID {
		return
	}
	ri := c.images[repoID]
	if ri == nil {
		if gen != 0 {
			return
		}
		ri = &repoImages{byTag: map[string]metadata.Image{}, byDigest: map[digest.Digest]metadata.Image{}}
		c.images[repoID] = ri
	}
	if ri.gen != gen {
		return
	}
	for c.size+n > c.maxSize && c.evictOne() {
	}
	if tag != "" {
		if old, ok := ri.byTag[tag]; ok {
			c.size -= entryCost(tag, &old)
		}
		ri.byTag[tag] = img
	} else {
		if old, ok := ri.byDigest[img.Digest]; ok {
			c.size -= entryCost("", &old)
		}
		ri.byDigest[img.Digest] = img
	}
	c.size += n
}

// evictOne drops the images of one repository that has some (map order
// is arbitrary, which is good enough as random eviction). Eviction does
// not change what the database holds, so generations stay as they are.
func (c *cache) evictOne() bool {
	for _, ri := range c.images {
		if len(ri.byTag)+len(ri.byDigest) > 0 {
			c.clear(ri)
			return true
		}
	}
	return false
}

func (c *cache) dropImages(ri *repoImages) {
	for tag, img := range ri.byTag {
		c.size -= entryCost(tag, &img)
	}
	for _, img := range ri.byDigest {
		c.size -= entryCost("", &img)
	}
}

// dropRepo forgets a repository's record (and its images, under the ID
// it was seen with and under repoID when known) after its settings change
// or it is deleted.
func (c *cache) dropRepo(key metadata.RepoKey, repoID int64) {
	c.mu.Lock()
	seen := c.dropName(key)
	c.mu.Unlock()
	if seen != 0 {
		c.invalidate(seen)
	}
	if repoID != 0 && repoID != seen {
		c.invalidate(repoID)
	}
}

// dropKey forgets a repository's record and images, by name: what a
// change another process made invalidates (see Registry.Changed).
func (c *cache) dropKey(key metadata.RepoKey) { c.dropRepo(key, 0) }

// dropName uncaches key's record, bumps its generation and returns the ID
// it was last seen with. c.mu is held.
func (c *cache) dropName(key metadata.RepoKey) int64 {
	e := c.repos[key]
	if e == nil {
		// Never seen: nothing is cached under it, but a read in flight
		// started at generation 0 must not cache what it read.
		c.repos[key] = &repoEntry{gen: 1}
		return 0
	}
	e.rec = metadata.Repository{}
	e.gen++
	return e.id
}

// invalidate forgets a repository's images after a committed change.
func (c *cache) invalidate(repoID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ri := c.images[repoID]
	if ri == nil {
		ri = &repoImages{}
		c.images[repoID] = ri
	}
	c.clear(ri)
	ri.gen++
}

func (c *cache) clear(ri *repoImages) {
	c.dropImages(ri)
	ri.byTag = map[string]metadata.Image{}
	ri.byDigest = map[digest.Digest]metadata.Image{}
}
