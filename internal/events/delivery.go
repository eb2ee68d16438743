package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/metadata"
)

// DeliveryRules lists every enabled rule (of every account and region)
// that has at least one target that is an API destination whose
// connection exists. A target whose API destination or connection is
// gone is left out. Where a target's HTTP parameters and its
// connection's invocation parameters name the same header or query
// parameter, the connection's value wins, as on EventBridge.
func (s *Service) DeliveryRules(ctx context.Context) ([]delivery.Rule, error) {
	accounts, err := s.meta.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []delivery.Rule
	for _, a := range accounts {
		rules, err := s.meta.IAMEntities(ctx, a.ID, metadata.EventRule)
		if err != nil {
			return nil, err
		}
		if len(rules) == 0 {
			continue
		}
		dests, err := allOf[APIDestination](ctx, s.meta, a.ID, metadata.EventAPIDestination)
		if err != nil {
			return nil, err
		}
		conns, err := allOf[Connection](ctx, s.meta, a.ID, metadata.EventConnection)
		if err != nil {
			return nil, err
		}
		for _, e := range rules {
			r, err := decode[Rule](e)
			if err != nil {
				return nil, err
			}
			if !r.Enabled() || r.EventPattern == "" {
				continue
			}
			since := r.Changed
			if since.IsZero() {
				since = r.Created
			}
			dr := delivery.Rule{ARN: r.ARN, Scope: metadata.Scope{Account: r.Account, Region: r.Region}, Pattern: r.EventPattern, Since: since}
			for _, t := range r.Targets {
				d, ok := dests[t.ARN]
				if !ok {
					continue
				}
				c, ok := conns[d.ConnectionARN]
				if !ok {
					continue
				}
				dt, err := s.deliveryTarget(t, d, c)
				if err != nil {
					return nil, err
				}
				dr.Targets = append(dr.Targets, dt)
			}
			if len(dr.Targets) > 0 {
				out = append(out, dr)
			}
		}
	}
	return out, nil
}

// allOf reads an account's documents of a kind, by ARN.
func allOf[T interface {
	APIDestination | Connection
}](ctx context.Context, r metadata.Reader, account, kind string) (map[string]*T, error) {
	es, err := r.IAMEntities(ctx, account, kind)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*T, len(es))
	for _, e := range es {
		v, err := decode[T](e)
		if err != nil {
			return nil, err
		}
		switch x := any(v).(type) {
		case *APIDestination:
			out[x.ARN] = v
		case *Connection:
			out[x.ARN] = v
		}
	}
	return out, nil
}

func (s *Service) deliveryTarget(t Target, d *APIDestination, c *Connection) (delivery.Target, error) {
	dt := delivery.Target{ID: t.ID, Endpoint: d.Endpoint, Method: d.Method, RateLimit: d.RateLimit,
		Input: t.Input, InputPath: t.InputPath, MaxAttempts: defaultMaxAttempts, MaxAge: defaultMaxAgeSeconds * time.Second,
		Headers: map[string]string{}, Query: map[string]string{}}
	if dt.RateLimit == 0 {
		dt.RateLimit = defaultRateLimit
	}
	if it := t.InputTransformer; it != nil {
		dt.InputPathsMap, dt.InputTemplate = it.PathsMap, it.Template
	}
	if rp := t.RetryPolicy; rp != nil {
		if rp.MaximumRetryAttempts != nil {
			dt.MaxAttempts = *rp.MaximumRetryAttempts
			if dt.MaxAttempts == 0 {
				dt.MaxAttempts = -1 // delivery's "no retries" (its 0 is the default)
			}
		}
		if rp.MaximumEventAgeInSeconds != nil {
			dt.MaxAge = time.Duration(*rp.MaximumEventAgeInSeconds) * time.Second
		}
	}
	if h := t.HTTPParameters; h != nil {
		for k, v := range h.HeaderParameters {
			dt.Headers[k] = v
		}
		for k, v := range h.QueryStringParameters {
			dt.Query[k] = v
		}
	}
	open := func(where string) (string, error) {
		sealed, ok := c.Sealed[where]
		if !ok {
			return "", nil
		}
		b, err := s.keys.Open(sealed, sealContext(c.ARN, where))
		if err != nil {
			return "", fmt.Errorf("unsealing a secret of connection %s: %w", c.ARN, err)
		}
		return string(b), nil
	}
	params := func(prefix string, p *HTTPParams, body, header, query map[string]string) error {
		if p == nil {
			return nil
		}
		for _, l := range []struct {
			name string
			ps   []Param
			to   map[string]string
		}{{"body", p.Body, body}, {"header", p.Header, header}, {"query", p.Query, query}} {
			for i, prm := range l.ps {
				v := prm.Value
				if prm.Secret {
					var err error
					if v, err = open(fmt.Sprintf("%s.%s.%d", prefix, l.name, i)); err != nil {
						return err
					}
				}
				if l.to != nil {
					l.to[prm.Key] = v
				}
			}
		}
		return nil
	}
	a := &dt.Auth
	a.Type = c.AuthorizationType
	var err error
	switch c.AuthorizationType {
	case AuthAPIKey:
		a.APIKeyName = c.APIKeyName
		a.APIKeyValue, err = open(secretAPIKey)
	case AuthBasic:
		a.Username = c.Username
		a.Password, err = open(secretPassword)
	case AuthOAuth:
		if o := c.OAuth; o != nil {
			a.OAuthEndpoint, a.OAuthMethod, a.ClientID = o.Endpoint, o.Method, o.ClientID
			a.OAuthBody, a.OAuthHeaders, a.OAuthQuery = map[string]string{}, map[string]string{}, map[string]string{}
			if err = params("oauth", o.Params, a.OAuthBody, a.OAuthHeaders, a.OAuthQuery); err == nil {
				a.ClientSecret, err = open(secretClientSecret)
			}
		}
	}
	if err != nil {
		return dt, err
	}
	// Body parameters of the invocation are not part of the contract
	// (delivery sends the event, or its transformed input, as the body).
	return dt, params("invocation", c.Invocation, nil, dt.Headers, dt.Query)
}

// decode reads one stored document.
func decode[T any](e metadata.IAMEntity) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(e.Document, v); err != nil {
		return nil, fmt.Errorf("reading %s %s of %s: %w", e.Kind, e.Name, e.Account, err)
	}
	return v, nil
}
