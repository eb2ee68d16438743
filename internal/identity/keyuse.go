package identity

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/metadata"
)

// KeyUse is when an access key was last used, for which service (the
// signature's, "ecr", "iam"...) and in which region: GetAccessKeyLastUsed.
type KeyUse struct {
	Date    time.Time `json:"date"`
	Service string    `json:"service"`
	Region  string    `json:"region"`
}

// kindKeyUse is the metadata kind of an access key's last use, named by
// the key ID.
const kindKeyUse = "access-key-use"

// A key's use is noted in memory at most once per keyUseNoteEvery (a map
// lookup otherwise), and noted uses are written to the store in the
// background, keyUseFlushEvery after the first one waiting: at most one
// write per key per flush, never on a request's path.
const (
	keyUseNoteEvery  = time.Minute
	keyUseFlushEvery = 2 * time.Minute
)

// keyUses holds the uses noted since the last flush.
type keyUses struct {
	slots    sync.Map // key ID -> *keyUseSlot
	flushing atomic.Bool
}

type keyUseSlot struct {
	noted   atomic.Int64 // unix seconds of the last noted use
	mu      sync.Mutex
	account string
	use     KeyUse
	dirty   bool
}

func (k *keyUses) forget(id string) { k.slots.Delete(id) }

// NoteKeyUse records that an access key of account signed a request that
// verified, for service in region. It is cheap: the store is written
// later, by a background flush.
func (s *Service) NoteKeyUse(account, keyID, service, region string) {
	now := s.now()
	v, ok := s.keyUse.slots.Load(keyID)
	if !ok {
		v, _ = s.keyUse.slots.LoadOrStore(keyID, &keyUseSlot{account: account})
	}
	slot := v.(*keyUseSlot)
	if now.Unix()-slot.noted.Load() < int64(keyUseNoteEvery/time.Second) {
		return
	}
	slot.noted.Store(now.Unix())
	slot.mu.Lock()
	slot.use = KeyUse{Date: now.UTC().Truncate(time.Second), Service: service, Region: region}
	slot.dirty = true
	slot.mu.Unlock()
	if s.keyUse.flushing.CompareAndSwap(false, true) {
		go s.flushKeyUseLater()
	}
}

// flushKeyUseLater writes the noted uses after keyUseFlushEvery, and goes
// on while uses keep arriving.
func (s *Service) flushKeyUseLater() {
	for {
		time.Sleep(keyUseFlushEvery)
		if err := s.FlushKeyUse(context.Background()); err != nil && s.log != nil {
			s.log.Warn("recording the last use of access keys", "err", err)
		}
		s.keyUse.flushing.Store(false)
		if !s.keyUse.pending() || !s.keyUse.flushing.CompareAndSwap(false, true) {
			return
		}
	}
}

// pending reports whether some noted use waits for a flush.
func (k *keyUses) pending() bool {
	found := false
	k.slots.Range(func(_, v any) bool {
		slot := v.(*keyUseSlot)
		slot.mu.Lock()
		found = slot.dirty
		slot.mu.Unlock()
		return !found
	})
	return found
}

// FlushKeyUse writes the access key uses noted since the last flush.
func (s *Service) FlushKeyUse(ctx context.Context) error {
	type entry struct {
		id, account string
		use         KeyUse
		slot        *keyUseSlot
	}
	var batch []entry
	s.keyUse.slots.Range(func(k, v any) bool {
		slot := v.(*keyUseSlot)
		slot.mu.Lock()
		if slot.dirty {
			batch = append(batch, entry{k.(string), slot.account, slot.use, slot})
		}
		slot.mu.Unlock()
		return true
	})
	if len(batch) == 0 {
		return nil
	}
	err := s.meta.Update(ctx, func(tx metadata.Tx) error {
		for _, e := range batch {
			if _, err := tx.AccessKey(ctx, e.id); errors.Is(err, metadata.ErrNotFound) {
				continue // deleted since
			} else if err != nil {
				return err
			}
			err := saveEntity(ctx, tx, e.account, kindKeyUse, e.id, e.use, false)
			if errors.Is(err, metadata.ErrNotFound) {
				err = saveEntity(ctx, tx, e.account, kindKeyUse, e.id, e.use, true)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range batch {
		e.slot.mu.Lock()
		if e.slot.use == e.use {
			e.slot.dirty = false
		}
		e.slot.mu.Unlock()
	}
	return nil
}

// AccessKeyLastUsed returns the user an access key belongs to ("" for a
// root key) and its last use, if any: GetAccessKeyLastUsed, authorized
// on the key's user.
func (s *Service) AccessKeyLastUsed(ctx context.Context, id string) (string, KeyUse, bool, error) {
	p, err := caller(ctx)
	if err != nil {
		return "", KeyUse{}, false, err
	}
	k, err := s.meta.AccessKey(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) || err == nil && k.Account != p.Account {
		return "", KeyUse{}, false, awserr.Errorf(CodeNoSuchEntity, "The Access Key with id %s cannot be found.", id)
	} else if err != nil {
		return "", KeyUse{}, false, err
	}
	if err := s.allow(ctx, "iam:GetAccessKeyLastUsed", k.Principal); err != nil {
		return "", KeyUse{}, false, err
	}
	user := ""
	if _, res, ok := strings.Cut(k.Principal, ":user/"); ok {
		user = res[strings.LastIndex(res, "/")+1:]
	}
	use, err := loadEntity[KeyUse](ctx, s.meta, p.Account, kindKeyUse, id)
	found := err == nil
	if err != nil && !isNoSuchEntity(err) {
		return "", KeyUse{}, false, err
	}
	// A use noted here and not yet flushed is the latest.
	if v, ok := s.keyUse.slots.Load(id); ok {
		slot := v.(*keyUseSlot)
		slot.mu.Lock()
		if !slot.use.Date.IsZero() && slot.use.Date.After(use.Date) {
			use, found = slot.use, true
		}
		slot.mu.Unlock()
	}
	return user, use, found, nil
}
