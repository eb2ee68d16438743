package eventbridge

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	core "github.com/ecrd/ecrd/internal/events"
)

// Connections. A request's secrets (ApiKeyValue, Password,
// ClientSecret, parameter values marked IsValueSecret) go to the core,
// which seals them; no answer carries one.

type param struct {
	Key           *string `json:"Key,omitempty"`
	Value         *string `json:"Value,omitempty"`
	IsValueSecret bool    `json:"IsValueSecret"`
}

type httpParams struct {
	BodyParameters        []param `json:"BodyParameters,omitempty"`
	HeaderParameters      []param `json:"HeaderParameters,omitempty"`
	QueryStringParameters []param `json:"QueryStringParameters,omitempty"`
}

func paramsIn(p *httpParams) *core.HTTPParams {
	if p == nil {
		return nil
	}
	conv := func(ps []param) []core.Param {
		out := make([]core.Param, len(ps))
		for i, x := range ps {
			out[i] = core.Param{Key: deref(x.Key), Value: deref(x.Value), Secret: x.IsValueSecret}
		}
		return out
	}
	return &core.HTTPParams{Body: conv(p.BodyParameters), Header: conv(p.HeaderParameters), Query: conv(p.QueryStringParameters)}
}

// paramsOut answers HTTP parameters, a secret one without its value.
func paramsOut(p *core.HTTPParams) *httpParams {
	if p == nil {
		return nil
	}
	conv := func(ps []core.Param) []param {
		var out []param
		for _, x := range ps {
			o := param{Key: &x.Key, IsValueSecret: x.Secret}
			if !x.Secret {
				v := x.Value
				o.Value = &v
			}
			out = append(out, o)
		}
		return out
	}
	return &httpParams{BodyParameters: conv(p.Body), HeaderParameters: conv(p.Header), QueryStringParameters: conv(p.Query)}
}

type authParams struct {
	ApiKeyAuthParameters *struct {
		ApiKeyName  *string `json:"ApiKeyName"`
		ApiKeyValue *string `json:"ApiKeyValue"`
	} `json:"ApiKeyAuthParameters"`
	BasicAuthParameters *struct {
		Username *string `json:"Username"`
		Password *string `json:"Password"`
	} `json:"BasicAuthParameters"`
	OAuthParameters *struct {
		AuthorizationEndpoint *string `json:"AuthorizationEndpoint"`
		HttpMethod            *string `json:"HttpMethod"`
		ClientParameters      *struct {
			ClientID     *string `json:"ClientID"`
			ClientSecret *string `json:"ClientSecret"`
		} `json:"ClientParameters"`
		OAuthHttpParameters *httpParams `json:"OAuthHttpParameters"`
	} `json:"OAuthParameters"`
	InvocationHttpParameters *httpParams `json:"InvocationHttpParameters"`
	ConnectivityParameters   *struct{}   `json:"ConnectivityParameters"`
}

// authIn converts AuthParameters; create requires the members the model
// requires of a new connection's parameters.
func authIn(a *authParams, create bool, req *awsjson.Required) *core.AuthInput {
	if a == nil {
		return nil
	}
	out := &core.AuthInput{Invocation: paramsIn(a.InvocationHttpParameters), Connectivity: a.ConnectivityParameters != nil}
	if k := a.ApiKeyAuthParameters; k != nil {
		if create {
			req.Check(k.ApiKeyName == nil, "authParameters.apiKeyAuthParameters.apiKeyName")
			req.Check(k.ApiKeyValue == nil, "authParameters.apiKeyAuthParameters.apiKeyValue")
		}
		out.APIKey = &core.APIKeyInput{Name: k.ApiKeyName, Value: k.ApiKeyValue}
	}
	if b := a.BasicAuthParameters; b != nil {
		if create {
			req.Check(b.Username == nil, "authParameters.basicAuthParameters.username")
			req.Check(b.Password == nil, "authParameters.basicAuthParameters.password")
		}
		out.Basic = &core.BasicInput{Username: b.Username, Password: b.Password}
	}
	if o := a.OAuthParameters; o != nil {
		if create {
			req.Check(o.AuthorizationEndpoint == nil, "authParameters.oAuthParameters.authorizationEndpoint")
			req.Check(o.HttpMethod == nil, "authParameters.oAuthParameters.httpMethod")
			req.Check(o.ClientParameters == nil, "authParameters.oAuthParameters.clientParameters")
			if o.ClientParameters != nil {
				req.Check(o.ClientParameters.ClientID == nil, "authParameters.oAuthParameters.clientParameters.clientID")
				req.Check(o.ClientParameters.ClientSecret == nil, "authParameters.oAuthParameters.clientParameters.clientSecret")
			}
		}
		oi := &core.OAuthInput{Endpoint: o.AuthorizationEndpoint, Method: o.HttpMethod, Params: paramsIn(o.OAuthHttpParameters)}
		if c := o.ClientParameters; c != nil {
			oi.ClientID, oi.ClientSecret = c.ClientID, c.ClientSecret
		}
		out.OAuth = oi
	}
	return out
}

type connectionInput struct {
	Name                             *string     `json:"Name"`
	Description                      *string     `json:"Description"`
	AuthorizationType                *string     `json:"AuthorizationType"`
	AuthParameters                   *authParams `json:"AuthParameters"`
	InvocationConnectivityParameters *struct{}   `json:"InvocationConnectivityParameters"`
	KmsKeyIdentifier                 *string     `json:"KmsKeyIdentifier"`
}

func (in *connectionInput) core(create bool) (core.ConnectionInput, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	if create {
		req.Check(in.AuthorizationType == nil, "authorizationType")
		req.Check(in.AuthParameters == nil, "authParameters")
	}
	out := core.ConnectionInput{Name: deref(in.Name), Description: in.Description, AuthorizationType: deref(in.AuthorizationType),
		Auth: authIn(in.AuthParameters, create, &req), KMSKeyIdentifier: in.KmsKeyIdentifier, Connectivity: in.InvocationConnectivityParameters != nil}
	return out, req.Err(core.CodeValidation)
}

// connectionState is what CreateConnection, UpdateConnection and
// DeleteConnection answer.
type connectionState struct {
	ConnectionArn      string             `json:"ConnectionArn"`
	ConnectionState    string             `json:"ConnectionState"`
	CreationTime       *awsjson.Timestamp `json:"CreationTime,omitempty"`
	LastModifiedTime   *awsjson.Timestamp `json:"LastModifiedTime,omitempty"`
	LastAuthorizedTime *awsjson.Timestamp `json:"LastAuthorizedTime,omitempty"`
}

func stateOf(c *core.Connection, state string) *connectionState {
	return &connectionState{ConnectionArn: c.ARN, ConnectionState: state, CreationTime: awsjson.NewTimestamp(c.Created),
		LastModifiedTime: awsjson.NewTimestamp(c.Modified), LastAuthorizedTime: awsjson.NewTimestamp(c.Authorized)}
}

func (h *Handler) createConnection(ctx context.Context, s core.Scope, in *connectionInput) (*connectionState, error) {
	ci, err := in.core(true)
	if err != nil {
		return nil, err
	}
	c, err := h.svc.CreateConnection(ctx, s, ci)
	if err != nil {
		return nil, err
	}
	out := stateOf(c, core.ConnectionAuthorized)
	out.LastAuthorizedTime = nil
	return out, nil
}

func (h *Handler) updateConnection(ctx context.Context, s core.Scope, in *connectionInput) (*connectionState, error) {
	ci, err := in.core(false)
	if err != nil {
		return nil, err
	}
	c, err := h.svc.UpdateConnection(ctx, s, ci)
	if err != nil {
		return nil, err
	}
	return stateOf(c, core.ConnectionAuthorized), nil
}

type nameInput struct {
	Name *string `json:"Name"`
}

func (in *nameInput) name() (string, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	return deref(in.Name), req.Err(core.CodeValidation)
}

func (h *Handler) deleteConnection(ctx context.Context, s core.Scope, in *nameInput) (*connectionState, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	c, err := h.svc.DeleteConnection(ctx, s, name)
	if err != nil {
		return nil, err
	}
	return stateOf(c, core.ConnectionDeleting), nil
}

type authOut struct {
	ApiKeyAuthParameters *struct {
		ApiKeyName string `json:"ApiKeyName"`
	} `json:"ApiKeyAuthParameters,omitempty"`
	BasicAuthParameters *struct {
		Username string `json:"Username"`
	} `json:"BasicAuthParameters,omitempty"`
	OAuthParameters *oauthOut `json:"OAuthParameters,omitempty"`
	// InvocationHttpParameters answers secret values as left out.
	InvocationHttpParameters *httpParams `json:"InvocationHttpParameters,omitempty"`
}

type oauthOut struct {
	AuthorizationEndpoint string `json:"AuthorizationEndpoint"`
	HttpMethod            string `json:"HttpMethod"`
	ClientParameters      struct {
		ClientID string `json:"ClientID"`
	} `json:"ClientParameters"`
	OAuthHttpParameters *httpParams `json:"OAuthHttpParameters,omitempty"`
}

type describeConnectionOutput struct {
	Name               string             `json:"Name"`
	ConnectionArn      string             `json:"ConnectionArn"`
	ConnectionState    string             `json:"ConnectionState"`
	AuthorizationType  string             `json:"AuthorizationType"`
	AuthParameters     *authOut           `json:"AuthParameters"`
	Description        *string            `json:"Description,omitempty"`
	SecretArn          string             `json:"SecretArn"`
	KmsKeyIdentifier   *string            `json:"KmsKeyIdentifier,omitempty"`
	CreationTime       *awsjson.Timestamp `json:"CreationTime,omitempty"`
	LastModifiedTime   *awsjson.Timestamp `json:"LastModifiedTime,omitempty"`
	LastAuthorizedTime *awsjson.Timestamp `json:"LastAuthorizedTime,omitempty"`
}

func (h *Handler) describeConnection(ctx context.Context, s core.Scope, in *nameInput) (*describeConnectionOutput, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	c, err := h.svc.DescribeConnection(ctx, s, name)
	if err != nil {
		return nil, err
	}
	a := &authOut{InvocationHttpParameters: paramsOut(c.Invocation)}
	switch c.AuthorizationType {
	case core.AuthAPIKey:
		a.ApiKeyAuthParameters = &struct {
			ApiKeyName string `json:"ApiKeyName"`
		}{c.APIKeyName}
	case core.AuthBasic:
		a.BasicAuthParameters = &struct {
			Username string `json:"Username"`
		}{c.Username}
	case core.AuthOAuth:
		if o := c.OAuth; o != nil {
			oo := &oauthOut{AuthorizationEndpoint: o.Endpoint, HttpMethod: o.Method, OAuthHttpParameters: paramsOut(o.Params)}
			oo.ClientParameters.ClientID = o.ClientID
			a.OAuthParameters = oo
		}
	}
	return &describeConnectionOutput{Name: c.Name, ConnectionArn: c.ARN, ConnectionState: core.ConnectionAuthorized,
		AuthorizationType: c.AuthorizationType, AuthParameters: a, Description: strp(c.Description), SecretArn: c.SecretARN,
		KmsKeyIdentifier: strp(c.KMSKeyIdentifier), CreationTime: awsjson.NewTimestamp(c.Created),
		LastModifiedTime: awsjson.NewTimestamp(c.Modified), LastAuthorizedTime: awsjson.NewTimestamp(c.Authorized)}, nil
}

type listInput struct {
	NamePrefix      *string `json:"NamePrefix"`
	ConnectionState *string `json:"ConnectionState"`
	ConnectionArn   *string `json:"ConnectionArn"`
	NextToken       *string `json:"NextToken"`
	Limit           *int32  `json:"Limit"`
}

type connectionOut struct {
	Name               string             `json:"Name"`
	ConnectionArn      string             `json:"ConnectionArn"`
	ConnectionState    string             `json:"ConnectionState"`
	AuthorizationType  string             `json:"AuthorizationType"`
	CreationTime       *awsjson.Timestamp `json:"CreationTime,omitempty"`
	LastModifiedTime   *awsjson.Timestamp `json:"LastModifiedTime,omitempty"`
	LastAuthorizedTime *awsjson.Timestamp `json:"LastAuthorizedTime,omitempty"`
}

type listConnectionsOutput struct {
	Connections []connectionOut `json:"Connections"`
	NextToken   string          `json:"NextToken,omitempty"`
}

func (h *Handler) listConnections(ctx context.Context, s core.Scope, in *listInput) (*listConnectionsOutput, error) {
	cs, next, err := h.svc.ListConnections(ctx, s, deref(in.NamePrefix), deref(in.ConnectionState), in.NextToken, intp(in.Limit))
	if err != nil {
		return nil, err
	}
	out := &listConnectionsOutput{Connections: []connectionOut{}, NextToken: next}
	for _, c := range cs {
		out.Connections = append(out.Connections, connectionOut{Name: c.Name, ConnectionArn: c.ARN, ConnectionState: core.ConnectionAuthorized,
			AuthorizationType: c.AuthorizationType, CreationTime: awsjson.NewTimestamp(c.Created),
			LastModifiedTime: awsjson.NewTimestamp(c.Modified), LastAuthorizedTime: awsjson.NewTimestamp(c.Authorized)})
	}
	return out, nil
}

// API destinations.

type destinationInput struct {
	Name                         *string `json:"Name"`
	Description                  *string `json:"Description"`
	ConnectionArn                *string `json:"ConnectionArn"`
	InvocationEndpoint           *string `json:"InvocationEndpoint"`
	HttpMethod                   *string `json:"HttpMethod"`
	InvocationRateLimitPerSecond *int32  `json:"InvocationRateLimitPerSecond"`
}

func (in *destinationInput) core() core.APIDestinationInput {
	return core.APIDestinationInput{Name: deref(in.Name), Description: in.Description, ConnectionARN: in.ConnectionArn,
		Endpoint: in.InvocationEndpoint, Method: in.HttpMethod, RateLimit: intp(in.InvocationRateLimitPerSecond)}
}

type destinationState struct {
	ApiDestinationArn   string             `json:"ApiDestinationArn"`
	ApiDestinationState string             `json:"ApiDestinationState"`
	CreationTime        *awsjson.Timestamp `json:"CreationTime,omitempty"`
	LastModifiedTime    *awsjson.Timestamp `json:"LastModifiedTime,omitempty"`
}

type destinationOut struct {
	Name                         string             `json:"Name"`
	ApiDestinationArn            string             `json:"ApiDestinationArn"`
	ApiDestinationState          string             `json:"ApiDestinationState"`
	ConnectionArn                string             `json:"ConnectionArn"`
	Description                  *string            `json:"Description,omitempty"`
	HttpMethod                   string             `json:"HttpMethod"`
	InvocationEndpoint           string             `json:"InvocationEndpoint"`
	InvocationRateLimitPerSecond int                `json:"InvocationRateLimitPerSecond"`
	CreationTime                 *awsjson.Timestamp `json:"CreationTime,omitempty"`
	LastModifiedTime             *awsjson.Timestamp `json:"LastModifiedTime,omitempty"`
}

func destinationOf(d *core.APIDestination) destinationOut {
	return destinationOut{Name: d.Name, ApiDestinationArn: d.ARN, ApiDestinationState: d.State, ConnectionArn: d.ConnectionARN,
		Description: strp(d.Description), HttpMethod: d.Method, InvocationEndpoint: d.Endpoint, InvocationRateLimitPerSecond: d.RateLimit,
		CreationTime: awsjson.NewTimestamp(d.Created), LastModifiedTime: awsjson.NewTimestamp(d.Modified)}
}

func (h *Handler) createAPIDestination(ctx context.Context, s core.Scope, in *destinationInput) (*destinationState, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	req.Check(in.ConnectionArn == nil, "connectionArn")
	req.Check(in.InvocationEndpoint == nil, "invocationEndpoint")
	req.Check(in.HttpMethod == nil, "httpMethod")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	d, err := h.svc.CreateAPIDestination(ctx, s, in.core())
	if err != nil {
		return nil, err
	}
	return &destinationState{ApiDestinationArn: d.ARN, ApiDestinationState: d.State, CreationTime: awsjson.NewTimestamp(d.Created),
		LastModifiedTime: awsjson.NewTimestamp(d.Modified)}, nil
}

func (h *Handler) updateAPIDestination(ctx context.Context, s core.Scope, in *destinationInput) (*destinationState, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	d, err := h.svc.UpdateAPIDestination(ctx, s, in.core())
	if err != nil {
		return nil, err
	}
	return &destinationState{ApiDestinationArn: d.ARN, ApiDestinationState: d.State, CreationTime: awsjson.NewTimestamp(d.Created),
		LastModifiedTime: awsjson.NewTimestamp(d.Modified)}, nil
}

func (h *Handler) describeAPIDestination(ctx context.Context, s core.Scope, in *nameInput) (*destinationOut, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	d, err := h.svc.DescribeAPIDestination(ctx, s, name)
	if err != nil {
		return nil, err
	}
	out := destinationOf(d)
	return &out, nil
}

func (h *Handler) deleteAPIDestination(ctx context.Context, s core.Scope, in *nameInput) (*empty, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.DeleteAPIDestination(ctx, s, name)
}

type listDestinationsOutput struct {
	ApiDestinations []destinationOut `json:"ApiDestinations"`
	NextToken       string           `json:"NextToken,omitempty"`
}

func (h *Handler) listAPIDestinations(ctx context.Context, s core.Scope, in *listInput) (*listDestinationsOutput, error) {
	ds, next, err := h.svc.ListAPIDestinations(ctx, s, deref(in.NamePrefix), deref(in.ConnectionArn), in.NextToken, intp(in.Limit))
	if err != nil {
		return nil, err
	}
	out := &listDestinationsOutput{ApiDestinations: []destinationOut{}, NextToken: next}
	for _, d := range ds {
		out.ApiDestinations = append(out.ApiDestinations, destinationOf(d))
	}
	return out, nil
}

// Events.

type testEventPatternInput struct {
	Event        *string `json:"Event"`
	EventPattern *string `json:"EventPattern"`
}

type testEventPatternOutput struct {
	Result bool `json:"Result"`
}

func (h *Handler) testEventPattern(ctx context.Context, s core.Scope, in *testEventPatternInput) (*testEventPatternOutput, error) {
	var req awsjson.Required
	req.Check(in.Event == nil, "event")
	req.Check(in.EventPattern == nil, "eventPattern")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	ok, err := h.svc.TestEventPattern(ctx, s, *in.EventPattern, *in.Event)
	if err != nil {
		return nil, err
	}
	return &testEventPatternOutput{Result: ok}, nil
}

type putEventsInput struct {
	Entries []struct {
		Source       *string            `json:"Source"`
		DetailType   *string            `json:"DetailType"`
		Detail       *string            `json:"Detail"`
		EventBusName *string            `json:"EventBusName"`
		Resources    []string           `json:"Resources"`
		Time         *awsjson.Timestamp `json:"Time"`
		TraceHeader  *string            `json:"TraceHeader"`
	} `json:"Entries"`
	EndpointId *string `json:"EndpointId"`
}

type putEventsResult struct {
	EventId      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putEventsOutput struct {
	Entries          []putEventsResult `json:"Entries"`
	FailedEntryCount int               `json:"FailedEntryCount"`
}

func (h *Handler) putEvents(ctx context.Context, s core.Scope, in *putEventsInput) (*putEventsOutput, error) {
	var req awsjson.Required
	req.Check(in.Entries == nil, "entries")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	entries := make([]core.EventEntry, len(in.Entries))
	for i, e := range in.Entries {
		entries[i] = core.EventEntry{Source: e.Source, DetailType: e.DetailType, Detail: e.Detail, EventBusName: e.EventBusName, Resources: e.Resources}
		if e.Time != nil {
			entries[i].Time = e.Time.Time
		}
	}
	results, err := h.svc.PutEvents(ctx, s, entries)
	if err != nil {
		return nil, err
	}
	out := &putEventsOutput{Entries: make([]putEventsResult, len(results))}
	for i, r := range results {
		out.Entries[i] = putEventsResult{EventId: r.EventID, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage}
		if r.ErrorCode != "" {
			out.FailedEntryCount++
		}
	}
	return out, nil
}
