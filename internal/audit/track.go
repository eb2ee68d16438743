package audit

import (
	"context"
	"encoding/json"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// Track wraps a store so that a request whose transaction appended the
// record of its own call to the outbox is marked Recorded once that
// transaction committed: the trail has it from the outbox, and the
// observer leaves it out. Marking it after the commit, from what the
// committed attempt appended, keeps a retried transaction free of side
// effects.
func Track(s metadata.Store) metadata.Store { return tracked{s} }

type tracked struct{ metadata.Store }

// Unwrap names the wrapped store (outbox followers look for its
// EventWaiter).
func (t tracked) Unwrap() metadata.Store { return t.Store }

func (t tracked) Update(ctx context.Context, fn func(metadata.Tx) error) error {
	var calls []metadata.Event
	err := t.Store.Update(ctx, func(tx metadata.Tx) error {
		calls = calls[:0] // this attempt's, if an earlier one was retried
		return fn(&trackedTx{Tx: tx, calls: &calls})
	})
	if err == nil && len(calls) > 0 {
		info := reqinfo.From(ctx)
		if info.Operation != "" && recordsCall(calls, info.Operation) {
			info.Recorded = true
		}
	}
	return err
}

type trackedTx struct {
	metadata.Tx
	calls *[]metadata.Event
}

func (t *trackedTx) AppendEvent(ctx context.Context, e metadata.Event) error {
	if err := t.Tx.AppendEvent(ctx, e); err != nil {
		return err
	}
	if e.Type == outbox.TypeAPICall {
		*t.calls = append(*t.calls, e)
	}
	return nil
}

// recordsCall reports whether one of the records is of the operation
// (not only of a change it made on the way, as a push's repository
// created from a template).
func recordsCall(events []metadata.Event, operation string) bool {
	for _, e := range events {
		var env struct {
			Detail struct {
				EventName string `json:"eventName"`
			} `json:"detail"`
		}
		if json.Unmarshal(e.Document, &env) == nil && env.Detail.EventName == operation {
			return true
		}
	}
	return false
}
