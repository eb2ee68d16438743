package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecrd/ecrd/internal/api/ecr"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

// The lifecycle page: a repository's lifecycle policy as JSON and as a
// form of rules, a preview of it (now or at a future date), apply and
// delete. The form is only a way to write the JSON: the server turns it
// into policy text (policyFromForm) and the core validates that text as
// PutLifecyclePolicy does.

// formRule is a policy rule as the form shows it: every value as typed.
type formRule struct {
	Index        int
	Priority     string
	Description  string
	TagStatus    string // tagged, untagged, any
	ListType     string // prefix or pattern: what Tags lists
	Tags         string // the tag prefixes or patterns, separated by commas
	StorageClass string // standard or archive
	CountType    string
	CountUnit    string // "" or days
	CountNumber  string
	Action       string // expire or transition
	Target       string // "" or archive: a transition's target storage class
}

// blankRule is the form's empty rule, to add one.
func blankRule(i int) formRule {
	return formRule{Index: i, TagStatus: "any", ListType: "prefix", StorageClass: "standard", CountType: "sinceImagePushed",
		CountUnit: "days", Action: "expire"}
}

// blank says the user left the rule empty: nothing typed.
func (f formRule) blank() bool {
	return strings.TrimSpace(f.Priority) == "" && strings.TrimSpace(f.Description) == "" &&
		strings.TrimSpace(f.Tags) == "" && strings.TrimSpace(f.CountNumber) == ""
}

// ruleOptions are the choices of the form's lists.
type ruleOptions struct {
	TagStatuses, ListTypes, StorageClasses, CountTypes, CountUnits, Actions, Targets []string
}

var lifecycleOptions = ruleOptions{
	TagStatuses:    []string{"tagged", "untagged", "any"},
	ListTypes:      []string{"prefix", "pattern"},
	StorageClasses: []string{"standard", "archive"},
	CountTypes:     []string{"imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"},
	CountUnits:     []string{"", "days"},
	Actions:        []string{"expire", "transition"},
	Targets:        []string{"", "archive"},
}

// maxFormRules bounds the rules a form may carry.
const maxFormRules = 200

// ruleFields are the form's fields of rule i: rules.<i>.<field>.
var ruleFields = []string{"priority", "description", "tagStatus", "listType", "tags", "storageClass", "countType", "countUnit", "countNumber", "action", "target"}

func ruleField(i int, field string) string { return "rules." + strconv.Itoa(i) + "." + field }

// rulesOfForm reads the rules of a submitted form, in the order of
// their indexes, blank ones included.
func rulesOfForm(form url.Values) ([]formRule, error) {
	var idx []int
	for k := range form {
		rest, ok := strings.CutPrefix(k, "rules.")
		if !ok {
			continue
		}
		n, _, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 || i > 10_000 {
			continue
		}
		if !slices.Contains(idx, i) {
			if idx = append(idx, i); len(idx) > maxFormRules {
				return nil, fmt.Errorf("the form has more than %d rules", maxFormRules)
			}
		}
	}
	slices.Sort(idx)
	rules := make([]formRule, 0, len(idx))
	for _, i := range idx {
		get := func(f string) string { return form.Get(ruleField(i, f)) }
		rules = append(rules, formRule{Index: i, Priority: get("priority"), Description: get("description"),
			TagStatus: get("tagStatus"), ListType: get("listType"), Tags: get("tags"), StorageClass: get("storageClass"),
			CountType: get("countType"), CountUnit: get("countUnit"), CountNumber: get("countNumber"),
			Action: get("action"), Target: get("target")})
	}
	return rules, nil
}

// formValues writes rules as the form submits them (rulesOfForm's
// inverse).
func formValues(rules []formRule) url.Values {
	v := url.Values{}
	for i, r := range rules {
		vals := []string{r.Priority, r.Description, r.TagStatus, r.ListType, r.Tags, r.StorageClass, r.CountType, r.CountUnit,
			r.CountNumber, r.Action, r.Target}
		for j, f := range ruleFields {
			v.Set(ruleField(i, f), vals[j])
		}
	}
	return v
}

// The policy's JSON, properties in the order of ECR's schema and of its
// documentation's examples.
type (
	policyJSON struct {
		Rules []ruleJSON `json:"rules"`
	}
	ruleJSON struct {
		RulePriority int           `json:"rulePriority"`
		Description  string        `json:"description,omitempty"`
		Selection    selectionJSON `json:"selection"`
		Action       actionJSON    `json:"action"`
	}
	selectionJSON struct {
		TagStatus      string   `json:"tagStatus"`
		TagPatternList []string `json:"tagPatternList,omitempty"`
		TagPrefixList  []string `json:"tagPrefixList,omitempty"`
		StorageClass   string   `json:"storageClass,omitempty"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit,omitempty"`
		CountNumber    int      `json:"countNumber"`
	}
	actionJSON struct {
		Type               string `json:"type"`
		TargetStorageClass string `json:"targetStorageClass,omitempty"`
	}
)

// errNoRules is a form without a rule: a policy needs one.
var errNoRules = errors.New("the form has no rule: give at least one (to remove the policy, delete it)")

// policyFromForm turns the rules of a submitted form into policy text.
// It writes what the form says, checking only what JSON cannot hold (a
// number that is not one): the rules of policies are the core's to
// check, with ECR's messages. Blank rules are left out; the standard
// storage class, ECR's default, is left implicit.
func policyFromForm(form url.Values) (string, error) {
	rules, err := rulesOfForm(form)
	if err != nil {
		return "", err
	}
	var p policyJSON
	for n, r := range rules {
		if r.blank() {
			continue
		}
		priority, err := formNumber(r.Priority)
		if err != nil {
			return "", fmt.Errorf("rule %d: the rule priority %w", n+1, err)
		}
		count, err := formNumber(r.CountNumber)
		if err != nil {
			return "", fmt.Errorf("rule %d: the count number %w", n+1, err)
		}
		sel := selectionJSON{TagStatus: strings.TrimSpace(r.TagStatus), CountType: strings.TrimSpace(r.CountType),
			CountUnit: strings.TrimSpace(r.CountUnit), CountNumber: count}
		if tags := splitTags(r.Tags); len(tags) > 0 {
			if strings.TrimSpace(r.ListType) == "pattern" {
				sel.TagPatternList = tags
			} else {
				sel.TagPrefixList = tags
			}
		}
		if sc := strings.TrimSpace(r.StorageClass); sc != "" && sc != "standard" {
			sel.StorageClass = sc
		}
		p.Rules = append(p.Rules, ruleJSON{RulePriority: priority, Description: r.Description, Selection: sel,
			Action: actionJSON{Type: strings.TrimSpace(r.Action), TargetStorageClass: strings.TrimSpace(r.Target)}})
	}
	if len(p.Rules) == 0 {
		return "", errNoRules
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // tag patterns are not HTML; keep them readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// formNumber reads a whole number as typed; an empty field is 0, which
// the core refuses with its own message (a minimum of 1).
func formNumber(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return int(n), nil
}

// splitTags reads a list of tag prefixes or patterns, which hold no
// comma or space: those separate them.
func splitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// formFromPolicy turns policy text into the form's rules, to show it.
// It reads any text of the policy's shape, valid or not, as the core's
// parser does (a repeated property's last value counts, names match
// exactly); a text that is not of that shape (not JSON, a number where a
// text belongs) is an error, and the form then shows no rules.
func formFromPolicy(text string) ([]formRule, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	rules, err := readRules(text)
	if err != nil {
		return nil, fmt.Errorf("the policy text cannot be shown as a form: %w", err)
	}
	return rules, nil
}

func readRules(text string) ([]formRule, error) {
	top, err := jsonObject([]byte(text))
	if err != nil {
		return nil, err
	}
	var list []json.RawMessage
	if raw, ok := top["rules"]; ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errors.New("rules is not a list")
		}
	}
	rules := make([]formRule, 0, len(list))
	for i, raw := range list {
		rule, err := jsonObject(raw)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		sel, err := jsonObject(rule["selection"])
		if err != nil {
			return nil, fmt.Errorf("rule %d: selection: %w", i+1, err)
		}
		act, err := jsonObject(rule["action"])
		if err != nil {
			return nil, fmt.Errorf("rule %d: action: %w", i+1, err)
		}
		f := formRule{Index: i}
		var prefixes, patterns []string
		err = errors.Join(
			jsonNumber(rule, "rulePriority", &f.Priority),
			jsonText(rule, "description", &f.Description),
			jsonText(sel, "tagStatus", &f.TagStatus),
			jsonList(sel, "tagPrefixList", &prefixes),
			jsonList(sel, "tagPatternList", &patterns),
			jsonText(sel, "storageClass", &f.StorageClass),
			jsonText(sel, "countType", &f.CountType),
			jsonText(sel, "countUnit", &f.CountUnit),
			jsonNumber(sel, "countNumber", &f.CountNumber),
			jsonText(act, "type", &f.Action),
			jsonText(act, "targetStorageClass", &f.Target),
		)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		f.ListType, f.Tags = "prefix", strings.Join(prefixes, ", ")
		if patterns != nil {
			f.ListType, f.Tags = "pattern", strings.Join(patterns, ", ")
		}
		if f.StorageClass == "" {
			f.StorageClass = "standard"
		}
		rules = append(rules, f)
	}
	return rules, nil
}

// jsonObject decodes an object's properties; absent (nil) is empty.
func jsonObject(raw []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if raw == nil {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// jsonText reads a text property into dst, if present.
func jsonText(m map[string]json.RawMessage, name string, dst *string) error {
	if raw, ok := m[name]; ok && json.Unmarshal(raw, dst) != nil {
		return fmt.Errorf("%s is not a text", name)
	}
	return nil
}

// jsonNumber reads a number property, as written, into dst, if present.
func jsonNumber(m map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("%s is not a number", name)
	}
	*dst = n.String()
	return nil
}

// jsonList reads a list of texts, if present (then never nil).
func jsonList(m map[string]json.RawMessage, name string, dst *[]string) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s is not a list of texts", name)
	}
	if *dst == nil {
		*dst = []string{}
	}
	return nil
}

// The lengths ECR's model allows a lifecycle policy text.
const (
	minPolicyText = 100
	maxPolicyText = 30720
)

// checkPolicyLength applies the model's length rule of
// lifecyclePolicyText, which the API checks before the core sees the
// text, with the API's message.
func checkPolicyLength(text string) error {
	n := utf8.RuneCountInString(text)
	constraint := ""
	switch {
	case n < minPolicyText:
		constraint = "must have length greater than or equal to " + strconv.Itoa(minPolicyText)
	case n > maxPolicyText:
		constraint = "must have length less than or equal to " + strconv.Itoa(maxPolicyText)
	default:
		return nil
	}
	return &ecr.InvalidParameterError{Member: "lifecyclePolicyText", Constraint: constraint}
}

// apiMessage words a refused change as ECR's API does: a parameter the
// core refused is InvalidParameterException's message.
func apiMessage(err error) string {
	var pe *registry.ParamError
	if errors.As(err, &pe) {
		return (&ecr.InvalidParameterError{Member: pe.Field, Constraint: pe.Constraint}).Error()
	}
	return err.Error()
}

// inlineError says whether a refused change is shown on the page, beside
// the text that caused it, rather than as an error page.
func inlineError(err error) bool {
	var ip *ecr.InvalidParameterError
	if errors.As(err, &ip) {
		return true
	}
	switch registry.CodeOf(err) {
	case registry.CodeInvalidParameter, registry.CodePreviewInProgress, registry.CodeValidation:
		return true
	}
	return false
}

// parsePreviewAt reads the preview's date: a date (midnight UTC, or now
// if it is today's date), a date and time (UTC), or an RFC 3339 time;
// empty is now (the zero time). A time in the past is the core's to
// refuse.
func parsePreviewAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if t.Format(time.DateOnly) == now.UTC().Format(time.DateOnly) {
			return time.Time{}, nil
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest(fmt.Sprintf("the preview date %q is not a date (2026-12-01) or a date and time (2026-12-01T09:30)", s))
}

// previewRow is a row of the preview's results.
type previewRow struct {
	Digest       string
	Tags         []string
	PushedAt     time.Time
	StorageClass string
	Action       string // EXPIRE or TRANSITION, as the API's enums
	Target       string // ARCHIVE for a transition
	RulePriority int    // 0: a referrer whose subject is gone
}

type previewView struct {
	Status     string
	InProgress bool
	EvaluateAt time.Time
	Text       string
	Rows       []previewRow
	Expiring   int
	Archiving  int
	Next       string
}

type lifecycleView struct {
	Name string
	// HasPolicy says the repository has a policy (the editor may hold
	// another text).
	HasPolicy bool
	// Text is the editor's text; Rules the form's, then one blank.
	Text  string
	Rules []formRule
	// EditorNote says what the editor holds, when it is not the policy.
	EditorNote string
	// FormNote says why the form cannot show the text.
	FormNote string
	// Problem is a refused change, as the API words it.
	Problem string
	Notice  string
	At      string
	Preview *previewView
	// PreviewError is why the latest preview cannot be shown.
	PreviewError string
	Options      ruleOptions
}

// lifecycle shows a repository's lifecycle policy and its latest
// preview.
func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.FormValue("name")
	key := metadata.RepoKey{Scope: s.scope, Name: name}
	v := lifecycleView{Name: name, Notice: s.notice, Options: lifecycleOptions}
	p, err := h.o.Registry.LifecyclePolicy(s.ctx, key)
	switch {
	case err == nil:
		v.HasPolicy, v.Text = true, p.Text
	case registry.CodeOf(err) != registry.CodeLifecyclePolicyNotFound:
		h.fail(w, r, s, err)
		return
	}
	h.addPreview(r, s, key, &v)
	if v.Preview != nil && r.FormValue("preview") != "" && v.Preview.Text != "" {
		// Just previewed: the editor holds what was previewed, to apply.
		v.Text = v.Preview.Text
		v.EditorNote = "The editor holds the policy just previewed: Apply makes it the repository's policy."
	}
	h.renderLifecycle(w, r, s, http.StatusOK, v, nil)
}

// addPreview adds the repository's latest preview to the page, a page of
// its results.
func (h *Handler) addPreview(r *http.Request, s *session, key metadata.RepoKey, v *lifecycleView) {
	p, sum, next, err := h.o.Registry.LifecyclePolicyPreviewPage(s.ctx, key, registry.PreviewFilter{}, r.FormValue("pnext"), pageSize)
	if err != nil {
		if registry.CodeOf(err) != registry.CodePreviewNotFound {
			v.PreviewError = h.errorOf(err).Message
		}
		return
	}
	pv := &previewView{Status: p.Status, InProgress: p.Status == registry.PreviewInProgress, EvaluateAt: p.EvaluateAt, Text: p.Text,
		Expiring: sum.Expiring, Archiving: sum.Archiving, Next: next}
	for _, res := range p.Results {
		pv.Rows = append(pv.Rows, previewRow{Digest: res.Digest, Tags: res.Tags, PushedAt: res.PushedAt, StorageClass: res.StorageClass,
			Action: strings.ToUpper(string(res.Action.Type)), Target: strings.ToUpper(string(res.Action.TargetStorageClass)),
			RulePriority: res.RulePriority})
	}
	v.Preview = pv
}

// renderLifecycle renders the page; rules, if not nil, are the form as
// submitted, else the form shows v.Text.
func (h *Handler) renderLifecycle(w http.ResponseWriter, r *http.Request, s *session, status int, v lifecycleView, rules []formRule) {
	if rules == nil {
		var err error
		if rules, err = formFromPolicy(v.Text); err != nil {
			v.FormNote = err.Error()
		}
	}
	next := 0
	for _, r := range rules {
		next = max(next, r.Index+1)
	}
	v.Rules = append(slices.DeleteFunc(slices.Clone(rules), formRule.blank), blankRule(next))
	h.render(w, r, s, status, "lifecycle", view{Title: "Lifecycle policy · " + v.Name, Nav: "repositories", Data: v})
}

// lifecyclePost previews or applies the policy of the JSON text or of
// the form, or shows the form's rules as JSON.
func (h *Handler) lifecyclePost(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PostFormValue("name")
	key := metadata.RepoKey{Scope: s.scope, Name: name}
	op := r.PostFormValue("op")
	v := lifecycleView{Name: name, Text: r.PostFormValue("text"), At: r.PostFormValue("at"), Options: lifecycleOptions}
	var submitted []formRule
	// again shows the page again, with what was submitted.
	again := func(status int, rules []formRule) {
		if _, err := h.o.Registry.LifecyclePolicy(s.ctx, key); err == nil {
			v.HasPolicy = true
		}
		h.renderLifecycle(w, r, s, status, v, rules)
	}
	if fromForm := strings.HasPrefix(op, "rules-"); fromForm {
		var err error
		if submitted, err = rulesOfForm(r.PostForm); err != nil {
			h.fail(w, r, s, badRequest(err.Error()))
			return
		}
		text, err := policyFromForm(r.PostForm)
		if err != nil {
			v.Problem = err.Error()
			again(http.StatusBadRequest, submitted)
			return
		}
		v.Text = text
		op = strings.TrimPrefix(op, "rules-")
	}
	refused := func(err error) {
		if !inlineError(err) {
			h.fail(w, r, s, err)
			return
		}
		v.Problem = apiMessage(err)
		again(http.StatusBadRequest, submitted)
	}
	switch op {
	case "json":
		// The form's rules as JSON, to read or edit: nothing changes.
		again(http.StatusOK, nil)
	case "preview":
		at, err := parsePreviewAt(v.At, h.o.Registry.Now())
		if err != nil {
			v.Problem = err.Error()
			again(http.StatusBadRequest, submitted)
			return
		}
		if err := checkPolicyLength(v.Text); err != nil {
			refused(err)
			return
		}
		p, err := h.o.Registry.StartLifecyclePolicyPreview(s.ctx, key, v.Text, at)
		if err != nil {
			refused(err)
			return
		}
		notice := "Preview complete."
		if p.Status == registry.PreviewInProgress {
			notice = "Preview started: it is still running."
		}
		back(w, r, "/console/lifecycle?"+scopeQuery(s, "name", name, "preview", "1"), notice)
	case "apply":
		if err := checkPolicyLength(v.Text); err != nil {
			refused(err)
			return
		}
		if _, err := h.o.Registry.PutLifecyclePolicy(s.ctx, key, v.Text); err != nil {
			refused(err)
			return
		}
		back(w, r, "/console/lifecycle?"+scopeQuery(s, "name", name), "Applied the lifecycle policy.")
	default:
		h.fail(w, r, s, badRequest("unknown lifecycle action "+strconv.Quote(op)))
	}
}

// lifecycleDelete deletes the repository's lifecycle policy.
func (h *Handler) lifecycleDelete(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PostFormValue("name")
	_, err := h.o.Registry.DeleteLifecyclePolicy(s.ctx, metadata.RepoKey{Scope: s.scope, Name: name})
	notice := "Deleted the lifecycle policy."
	if registry.CodeOf(err) == registry.CodeLifecyclePolicyNotFound {
		err, notice = nil, "The repository has no lifecycle policy."
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	back(w, r, "/console/lifecycle?"+scopeQuery(s, "name", name), notice)
}
