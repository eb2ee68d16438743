package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/events"
)

type eventsView struct {
	// Off says the server serves no EventBridge rules.
	Off       bool
	Rules     []eventRuleRow
	RulesNext string
	// DeadLetters are a page of the events targets gave up on, or
	// DeadLetterError says why they cannot be shown.
	DeadLetters     []deadLetterRow
	DeadLettersNext string
	DeadLetterError string
}

type eventRuleRow struct {
	Name, ARN, Description, Pattern, State string
	Enabled                                bool
	Targets                                []events.Target
	// TargetsError says why the rule's targets cannot be shown.
	TargetsError string
}

type deadLetterRow struct {
	Rule, Target, LastError string
	EventID                 int64
	Attempts                int
	Time                    time.Time
	Event                   string
}

// events shows the EventBridge rules of the registry's account and
// region, with their targets, and event delivery's dead letters. Each
// list is authorized as its API is: events:ListRules and
// events:ListTargetsByRule, ecrd:ListDeadLetters.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	var v eventsView
	if h.o.Events == nil {
		v.Off = true
	} else {
		var token *string
		if t := r.FormValue("next"); t != "" {
			token = &t
		}
		limit := pageSize
		rules, next, err := h.o.Events.ListRules(s.ctx, s.scope, nil, "", token, &limit)
		if err != nil {
			h.fail(w, r, s, awsError(err))
			return
		}
		v.RulesNext = next
		for _, rule := range rules {
			row := eventRuleRow{Name: rule.Name, ARN: rule.ARN, Description: rule.Description, Pattern: rule.EventPattern,
				State: rule.State, Enabled: rule.Enabled()}
			// A rule has at most five targets: one page.
			if targets, _, err := h.o.Events.ListTargetsByRule(s.ctx, s.scope, nil, rule.Name, nil, nil); err != nil {
				row.TargetsError = h.errorOf(awsError(err)).Message
			} else {
				row.Targets = targets
			}
			v.Rules = append(v.Rules, row)
		}
	}
	letters, next, err := h.o.Registry.ListDeadLetters(s.ctx, s.scope, "", r.FormValue("dlnext"), pageSize)
	if err != nil {
		v.DeadLetterError = h.errorOf(err).Message
	}
	v.DeadLettersNext = next
	for _, d := range letters {
		rule := d.Rule
		if i := strings.LastIndex(rule, "rule/"); i >= 0 {
			rule = rule[i+len("rule/"):]
		}
		v.DeadLetters = append(v.DeadLetters, deadLetterRow{Rule: rule, Target: d.Target, LastError: d.LastError, EventID: d.EventID,
			Attempts: d.Attempts, Time: d.Time, Event: string(d.Event)})
	}
	h.render(w, r, s, http.StatusOK, "events", view{Title: "Events", Nav: "events", Data: v})
}
