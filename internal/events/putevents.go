package events

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/eventpattern"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// TestEventPattern reports whether an event matches a pattern.
func (s *Service) TestEventPattern(ctx context.Context, scope Scope, pattern, event string) (bool, error) {
	if err := s.authorize(ctx, scope, "events:TestEventPattern", "*", nil, nil); err != nil {
		return false, err
	}
	p, err := compile(pattern)
	if err != nil {
		return false, err
	}
	ev, err := eventpattern.Decode([]byte(event))
	if err != nil {
		return false, awserr.Errorf(CodeValidation, "Parameter Event is not valid.")
	}
	for _, f := range []string{"id", "account", "source", "time", "region", "detail-type"} {
		if _, ok := ev[f]; !ok {
			return false, awserr.Errorf(CodeValidation, "Parameter Event is not valid.")
		}
	}
	return p.MatchValue(ev), nil
}

// compile compiles a pattern, a pattern that is not valid answering
// InvalidEventPatternException.
func compile(pattern string) (*eventpattern.Pattern, error) {
	p, err := eventpattern.Compile(pattern)
	var pe *eventpattern.Error
	if errors.As(err, &pe) {
		return nil, awserr.Errorf(CodeInvalidEventPattern, "%s", pe.Error())
	}
	return p, err
}

// EventEntry is one of PutEvents' entries.
type EventEntry struct {
	Source, DetailType, Detail *string
	EventBusName               *string
	Resources                  []string
	Time                       time.Time // zero: now
}

// EventResult is the outcome of one entry: its event's ID, or why it was
// not put.
type EventResult struct {
	EventID, ErrorCode, ErrorMessage string
}

// maxEventsSize bounds the entries of one PutEvents, as EventBridge's
// 256 KB.
const maxEventsSize = 256 * 1024

// PutEvents appends custom events to the outbox of the caller's account
// and region, each in EventBridge's envelope with the entry's source,
// where rules of that registry see them. An entry whose source starts
// with "aws." (an AWS service's, which only the service may send), or
// that lacks a source, detail type or detail, or whose detail is not a
// JSON object, fails alone.
func (s *Service) PutEvents(ctx context.Context, scope Scope, entries []EventEntry) ([]EventResult, error) {
	var c checks
	if c.lengthOf(nil, len(entries), "entries", 1, 10); c.err() != nil {
		return nil, c.err()
	}
	size := 0
	for _, e := range entries {
		size += len(deref(e.Source)) + len(deref(e.DetailType)) + len(deref(e.Detail))
		for _, r := range e.Resources {
			size += len(r)
		}
	}
	if size > maxEventsSize {
		return nil, awserr.Errorf(CodeValidation, "Total size of the entries in the request is over the limit.")
	}
	if err := s.authorize(ctx, scope, "events:PutEvents", busARN(scope), nil, nil); err != nil {
		return nil, err
	}
	results := make([]EventResult, len(entries))
	var records []metadata.Event
	for i, e := range entries {
		code, msg := entryProblem(scope, e)
		if code != "" {
			results[i] = EventResult{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		at := e.Time
		if at.IsZero() {
			at = s.now()
		}
		rec, err := outbox.New(scope, at, *e.Source, *e.DetailType, e.Resources, json.RawMessage(*e.Detail))
		if err != nil {
			return nil, err
		}
		var env struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(rec.Document, &env); err != nil {
			return nil, err
		}
		results[i].EventID = env.ID
		records = append(records, rec)
	}
	if len(records) == 0 {
		return results, nil
	}
	err := s.meta.Update(ctx, func(tx metadata.Tx) error {
		for _, r := range records {
			if err := tx.AppendEvent(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	return results, err
}

// entryProblem says why an entry cannot be put, as EventBridge's entry
// error code and message.
func entryProblem(scope Scope, e EventEntry) (code, msg string) {
	switch {
	case e.EventBusName != nil && checkBus(scope, e.EventBusName) != nil:
		return "InvalidArgument", "Parameter EventBusName is not valid. Reason: " + checkBus(scope, e.EventBusName).(*Error).Message
	case deref(e.Source) == "":
		return "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case strings.HasPrefix(*e.Source, "aws."):
		return "NotAuthorizedForSourceException", "Not authorized for the source."
	case deref(e.DetailType) == "":
		return "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case deref(e.Detail) == "":
		return "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(*e.Detail), &obj) != nil || obj == nil {
		return "MalformedDetail", "Detail is malformed."
	}
	return "", ""
}

// EventBus returns the ARN of the default event bus, the one ecrd has,
// named by name or ARN (absent: the default).
func (s *Service) EventBus(ctx context.Context, scope Scope, name *string) (string, error) {
	if err := checkBus(scope, name); err != nil {
		return "", err
	}
	return busARN(scope), s.authorize(ctx, scope, "events:DescribeEventBus", busARN(scope), nil, nil)
}
