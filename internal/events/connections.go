package events

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Authorization types of connections.
const (
	AuthAPIKey = "API_KEY"
	AuthBasic  = "BASIC"
	AuthOAuth  = "OAUTH_CLIENT_CREDENTIALS"
)

// Connection states. ecrd makes no call to authorize a connection (an
// OAuth token is fetched when an event is delivered): a connection is
// authorized once stored.
const (
	ConnectionAuthorized = "AUTHORIZED"
	ConnectionDeleting   = "DELETING"
)

// API destination states: an API destination is active while its
// connection exists (a connection deleted, or deleted and made again,
// leaves it inactive until it is updated to name a connection that
// does).
const (
	DestinationActive   = "ACTIVE"
	DestinationInactive = "INACTIVE"
)

// Where a connection's secrets are sealed in Connection.Sealed.
const (
	secretAPIKey       = "apiKey"
	secretPassword     = "password"
	secretClientSecret = "clientSecret"
)

// Connection is a connection, its secrets sealed.
type Connection struct {
	Rev               int       `json:"rev"`
	Name              string    `json:"name"`
	ARN               string    `json:"arn"`
	Account           string    `json:"account"`
	Region            string    `json:"region"`
	Description       string    `json:"description,omitempty"`
	AuthorizationType string    `json:"type"`
	SecretARN         string    `json:"secretArn"`
	KMSKeyIdentifier  string    `json:"kmsKey,omitempty"`
	Created           time.Time `json:"created"`
	Modified          time.Time `json:"modified"`
	Authorized        time.Time `json:"authorized"`
	// APIKeyName is the header an API key goes in; Username a Basic
	// user's name.
	APIKeyName string      `json:"apiKeyName,omitempty"`
	Username   string      `json:"username,omitempty"`
	OAuth      *OAuth      `json:"oauth,omitempty"`
	Invocation *HTTPParams `json:"invocation,omitempty"`
	// Sealed holds the secrets by where they sit: secretAPIKey,
	// secretPassword, secretClientSecret, or a secret parameter's
	// "<oauth|invocation>.<body|header|query>.<index>". Never answered.
	Sealed map[string][]byte `json:"sealed,omitempty"`
}

func (c Connection) revision() int { return c.Rev }

// OAuth is an OAUTH_CLIENT_CREDENTIALS connection's token endpoint.
type OAuth struct {
	Endpoint string      `json:"endpoint"`
	Method   string      `json:"method"`
	ClientID string      `json:"clientId"`
	Params   *HTTPParams `json:"params,omitempty"`
}

// HTTPParams are parameters a connection adds to its requests.
type HTTPParams struct {
	Body   []Param `json:"body,omitempty"`
	Header []Param `json:"header,omitempty"`
	Query  []Param `json:"query,omitempty"`
}

// Param is one HTTP parameter. A secret one's Value is empty once
// stored (it is sealed); in a request it is the value given.
type Param struct {
	Key    string `json:"k"`
	Value  string `json:"v,omitempty"`
	Secret bool   `json:"secret,omitempty"`
}

// public is a connection as answered: without its sealed secrets.
func (c *Connection) public() *Connection {
	out := *c
	out.Sealed = nil
	return &out
}

// APIKeyInput, BasicInput and OAuthInput are the authorization
// parameters of a request; nil members are left out (in UpdateConnection:
// unchanged).
type APIKeyInput struct{ Name, Value *string }

// BasicInput is a BASIC connection's user and password.
type BasicInput struct{ Username, Password *string }

// OAuthInput is an OAUTH_CLIENT_CREDENTIALS connection's token endpoint
// and client.
type OAuthInput struct {
	Endpoint, Method, ClientID, ClientSecret *string
	Params                                   *HTTPParams
}

// AuthInput is a request's AuthParameters.
type AuthInput struct {
	APIKey     *APIKeyInput
	Basic      *BasicInput
	OAuth      *OAuthInput
	Invocation *HTTPParams
	// Connectivity is set when the request gave ConnectivityParameters
	// (private endpoints), which ecrd does not reach.
	Connectivity bool
}

// ConnectionInput is CreateConnection's and UpdateConnection's request.
type ConnectionInput struct {
	Name              string
	Description       *string
	AuthorizationType string
	Auth              *AuthInput
	KMSKeyIdentifier  *string
	// Connectivity is set when the request gave
	// InvocationConnectivityParameters.
	Connectivity bool
}

func connectionNotFound(name string) error {
	return awserr.Errorf(CodeNotFound, "Failed to describe the connection(s). Connection '%s' does not exist.", name)
}

// sealContext binds a sealed secret to its connection and place.
func sealContext(arn, where string) []byte { return []byte(arn + "\x00" + where) }

// applyAuth applies a request's authorization parameters to a
// connection, sealing each secret given, and checks lengths.
func (s *Service) applyAuth(c *Connection, in *AuthInput, v *checks) {
	seal := func(where, secret string) {
		c.Sealed[where] = s.keys.Seal([]byte(secret), sealContext(c.ARN, where))
	}
	const p = "authParameters."
	if k := in.APIKey; k != nil {
		if k.Name != nil {
			v.length(*k.Name, p+"apiKeyAuthParameters.apiKeyName", 1, 512)
			c.APIKeyName = *k.Name
		}
		if k.Value != nil {
			v.secret(*k.Value, p+"apiKeyAuthParameters.apiKeyValue", 1, 512)
			seal(secretAPIKey, *k.Value)
		}
	}
	if b := in.Basic; b != nil {
		if b.Username != nil {
			v.length(*b.Username, p+"basicAuthParameters.username", 1, 512)
			c.Username = *b.Username
		}
		if b.Password != nil {
			v.secret(*b.Password, p+"basicAuthParameters.password", 1, 512)
			seal(secretPassword, *b.Password)
		}
	}
	if o := in.OAuth; o != nil {
		if c.OAuth == nil {
			c.OAuth = &OAuth{}
		}
		if o.Endpoint != nil {
			v.length(*o.Endpoint, p+"oAuthParameters.authorizationEndpoint", 1, 2048)
			c.OAuth.Endpoint = *o.Endpoint
		}
		if o.Method != nil {
			v.enum(*o.Method, p+"oAuthParameters.httpMethod", "GET", "POST", "PUT")
			c.OAuth.Method = *o.Method
		}
		if o.ClientID != nil {
			v.length(*o.ClientID, p+"oAuthParameters.clientParameters.clientID", 1, 512)
			c.OAuth.ClientID = *o.ClientID
		}
		if o.ClientSecret != nil {
			v.secret(*o.ClientSecret, p+"oAuthParameters.clientParameters.clientSecret", 1, 512)
			seal(secretClientSecret, *o.ClientSecret)
		}
		if o.Params != nil {
			c.OAuth.Params = s.sealParams(c, "oauth", o.Params, p+"oAuthParameters.oAuthHttpParameters", v)
		}
	}
	if in.Invocation != nil {
		c.Invocation = s.sealParams(c, "invocation", in.Invocation, p+"invocationHttpParameters", v)
	}
}

// sealParams stores a request's HTTP parameters under prefix, replacing
// those there, with each secret value sealed.
func (s *Service) sealParams(c *Connection, prefix string, in *HTTPParams, member string, v *checks) *HTTPParams {
	maps.DeleteFunc(c.Sealed, func(k string, _ []byte) bool { return strings.HasPrefix(k, prefix+".") })
	out := &HTTPParams{}
	for _, l := range []struct {
		name     string
		from     []Param
		to       *[]Param
		listName string
	}{{"body", in.Body, &out.Body, "bodyParameters"}, {"header", in.Header, &out.Header, "headerParameters"}, {"query", in.Query, &out.Query, "queryStringParameters"}} {
		if len(l.from) > 100 {
			v.lengthOf(nil, len(l.from), member+"."+l.listName, 0, 100)
		}
		for i, prm := range l.from {
			m := fmt.Sprintf("%s.%s.%d.member", member, l.listName, i+1)
			v.length(prm.Key, m+".key", 0, 512)
			if prm.Secret {
				v.secret(prm.Value, m+".value", 0, 512)
				where := prefix + "." + l.name + "." + strconv.Itoa(i)
				c.Sealed[where] = s.keys.Seal([]byte(prm.Value), sealContext(c.ARN, where))
				prm.Value = ""
			} else {
				v.length(prm.Value, m+".value", 0, 512)
			}
			*l.to = append(*l.to, prm)
		}
	}
	return out
}

// completeAuth drops what a connection holds for another authorization
// type than its own, and checks that its own is complete.
func completeAuth(c *Connection) error {
	keep := map[string]bool{}
	switch c.AuthorizationType {
	case AuthAPIKey:
		c.Username, c.OAuth = "", nil
		keep[secretAPIKey] = true
		if c.APIKeyName == "" || c.Sealed[secretAPIKey] == nil {
			return awserr.Errorf(CodeValidation, "Parameter AuthParameters is not valid. Reason: an API_KEY connection needs ApiKeyAuthParameters with ApiKeyName and ApiKeyValue.")
		}
	case AuthBasic:
		c.APIKeyName, c.OAuth = "", nil
		keep[secretPassword] = true
		if c.Username == "" || c.Sealed[secretPassword] == nil {
			return awserr.Errorf(CodeValidation, "Parameter AuthParameters is not valid. Reason: a BASIC connection needs BasicAuthParameters with Username and Password.")
		}
	case AuthOAuth:
		c.APIKeyName, c.Username = "", ""
		keep[secretClientSecret] = true
		if o := c.OAuth; o == nil || o.Endpoint == "" || o.Method == "" || o.ClientID == "" || c.Sealed[secretClientSecret] == nil {
			return awserr.Errorf(CodeValidation, "Parameter AuthParameters is not valid. Reason: an OAUTH_CLIENT_CREDENTIALS connection needs OAuthParameters with AuthorizationEndpoint, HttpMethod and ClientParameters (ClientID and ClientSecret).")
		}
	}
	maps.DeleteFunc(c.Sealed, func(k string, _ []byte) bool {
		return !keep[k] && !strings.HasPrefix(k, "invocation.") && !(c.OAuth != nil && strings.HasPrefix(k, "oauth."))
	})
	return nil
}

// checkConnectionInput checks what CreateConnection and UpdateConnection
// share.
func checkConnectionInput(in *ConnectionInput, v *checks) error {
	v.name(in.Name, "name")
	if in.Description != nil {
		v.length(*in.Description, "description", 0, maxDescriptionLength)
	}
	if in.AuthorizationType != "" {
		v.enum(in.AuthorizationType, "authorizationType", AuthAPIKey, AuthBasic, AuthOAuth)
	}
	if in.Connectivity || (in.Auth != nil && in.Auth.Connectivity) {
		return awserr.Errorf(CodeValidation, "Parameter InvocationConnectivityParameters is not valid. Reason: ecrd calls public endpoints only; private connectivity through a resource configuration is not supported.")
	}
	return nil
}

// CreateConnection creates a connection. Its secrets are sealed; it is
// AUTHORIZED at once.
func (s *Service) CreateConnection(ctx context.Context, scope Scope, in ConnectionInput) (*Connection, error) {
	var v checks
	if err := checkConnectionInput(&in, &v); err != nil {
		return nil, err
	}
	if in.AuthorizationType == "" {
		v.fail(nil, "authorizationType", "Member must not be null")
	}
	if in.Auth == nil {
		v.fail(nil, "authParameters", "Member must not be null")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return decided(func() (*Connection, error) {
		cur, err := load[Connection](ctx, s.meta, scope, metadata.EventConnection, in.Name)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, awserr.Errorf(CodeAlreadyExists, "Connection %s already exists.", in.Name)
		}
		id := awsid.NewUUID()
		now := s.now().UTC()
		c := &Connection{Rev: 1, Name: in.Name, Account: scope.Account, Region: scope.Region,
			ARN:               awsid.ARN("events", scope.Region, scope.Account, "connection/"+in.Name+"/"+id),
			SecretARN:         awsid.ARN("secretsmanager", scope.Region, scope.Account, "secret:events!connection/"+in.Name+"/"+id+"-"+strings.ReplaceAll(awsid.NewUUID(), "-", "")[:6]),
			Description:       deref(in.Description),
			AuthorizationType: in.AuthorizationType, KMSKeyIdentifier: deref(in.KMSKeyIdentifier),
			Created: now, Modified: now, Authorized: now, Sealed: map[string][]byte{}}
		var v checks
		s.applyAuth(c, in.Auth, &v)
		if err := v.err(); err != nil {
			return nil, err
		}
		if err := completeAuth(c); err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, scope, "events:CreateConnection", c.ARN, nil, nil); err != nil {
			return nil, err
		}
		all, err := list[Connection](ctx, s.meta, scope, metadata.EventConnection)
		if err != nil {
			return nil, err
		}
		if len(all) >= maxConnections {
			return nil, limitExceeded()
		}
		return c.public(), s.update(ctx, scope, call{"CreateConnection", connectionParams(c)}, []string{c.ARN}, func(tx metadata.Tx) error {
			return write(ctx, tx, scope, metadata.EventConnection, in.Name, 0, c)
		})
	})
}

// connectionParams are a connection's record's parameters: what it is,
// never a secret.
func connectionParams(c *Connection) map[string]any {
	p := map[string]any{"name": c.Name, "authorizationType": c.AuthorizationType}
	if c.Description != "" {
		p["description"] = c.Description
	}
	return p
}

// DescribeConnection returns a connection, without its secrets.
func (s *Service) DescribeConnection(ctx context.Context, scope Scope, name string) (*Connection, error) {
	var v checks
	if v.name(name, "name"); v.err() != nil {
		return nil, v.err()
	}
	c, err := load[Connection](ctx, s.meta, scope, metadata.EventConnection, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, connectionNotFound(name)
	}
	return c.public(), s.authorize(ctx, scope, "events:DescribeConnection", c.ARN, nil, nil)
}

// UpdateConnection changes a connection: what the request gives replaces
// what the connection had (a list of HTTP parameters as a whole), the
// rest stays.
func (s *Service) UpdateConnection(ctx context.Context, scope Scope, in ConnectionInput) (*Connection, error) {
	var v checks
	if err := checkConnectionInput(&in, &v); err != nil {
		return nil, err
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return decided(func() (*Connection, error) {
		c, err := load[Connection](ctx, s.meta, scope, metadata.EventConnection, in.Name)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, connectionNotFound(in.Name)
		}
		if err := s.authorize(ctx, scope, "events:UpdateConnection", c.ARN, nil, nil); err != nil {
			return nil, err
		}
		was := c.Rev
		if c.Sealed == nil {
			c.Sealed = map[string][]byte{}
		}
		if in.Description != nil {
			c.Description = *in.Description
		}
		if in.KMSKeyIdentifier != nil {
			c.KMSKeyIdentifier = *in.KMSKeyIdentifier
		}
		if in.AuthorizationType != "" {
			c.AuthorizationType = in.AuthorizationType
		}
		if in.Auth != nil {
			var v checks
			s.applyAuth(c, in.Auth, &v)
			if err := v.err(); err != nil {
				return nil, err
			}
		}
		if err := completeAuth(c); err != nil {
			return nil, err
		}
		now := s.now().UTC()
		c.Rev, c.Modified, c.Authorized = was+1, now, now
		return c.public(), s.update(ctx, scope, call{"UpdateConnection", connectionParams(c)}, []string{c.ARN}, func(tx metadata.Tx) error {
			return write(ctx, tx, scope, metadata.EventConnection, in.Name, was, c)
		})
	})
}

// DeleteConnection deletes a connection. API destinations that use it
// stay, inactive: nothing is delivered to them until they are updated to
// use a connection that exists.
func (s *Service) DeleteConnection(ctx context.Context, scope Scope, name string) (*Connection, error) {
	var v checks
	if v.name(name, "name"); v.err() != nil {
		return nil, v.err()
	}
	return decided(func() (*Connection, error) {
		c, err := load[Connection](ctx, s.meta, scope, metadata.EventConnection, name)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, connectionNotFound(name)
		}
		if err := s.authorize(ctx, scope, "events:DeleteConnection", c.ARN, nil, nil); err != nil {
			return nil, err
		}
		return c.public(), s.update(ctx, scope, call{"DeleteConnection", map[string]any{"name": name}}, []string{c.ARN}, func(tx metadata.Tx) error {
			return write[Connection](ctx, tx, scope, metadata.EventConnection, name, c.Rev, nil)
		})
	})
}

// ListConnections lists connections in name order, those whose names
// start with prefix (and, if state is set, in that state), a page at a
// time.
func (s *Service) ListConnections(ctx context.Context, scope Scope, prefix, state string, token *string, limit *int) ([]*Connection, string, error) {
	if err := s.authorize(ctx, scope, "events:ListConnections", awsid.ARN("events", scope.Region, scope.Account, "connection/*"), nil, nil); err != nil {
		return nil, "", err
	}
	all, err := list[Connection](ctx, s.meta, scope, metadata.EventConnection)
	if err != nil {
		return nil, "", err
	}
	var out []*Connection
	for _, c := range all {
		if strings.HasPrefix(c.Name, prefix) && (state == "" || state == ConnectionAuthorized) {
			out = append(out, c.public())
		}
	}
	slices.SortFunc(out, func(a, b *Connection) int { return strings.Compare(a.Name, b.Name) })
	return pageOf(out, func(c *Connection) string { return c.Name }, token, limit)
}

// APIDestination is an HTTP endpoint events are delivered to.
type APIDestination struct {
	Rev           int       `json:"rev"`
	Name          string    `json:"name"`
	ARN           string    `json:"arn"`
	Account       string    `json:"account"`
	Region        string    `json:"region"`
	Description   string    `json:"description,omitempty"`
	ConnectionARN string    `json:"connection"`
	Endpoint      string    `json:"endpoint"`
	Method        string    `json:"method"`
	RateLimit     int       `json:"rateLimit"`
	Created       time.Time `json:"created"`
	Modified      time.Time `json:"modified"`
	// State is worked out when read (see DestinationActive).
	State string `json:"-"`
}

func (d APIDestination) revision() int { return d.Rev }

// APIDestinationInput is CreateApiDestination's and
// UpdateApiDestination's request; nil members are left out (in an
// update: unchanged).
type APIDestinationInput struct {
	Name                                 string
	Description, ConnectionARN, Endpoint *string
	Method                               *string
	RateLimit                            *int
}

func destinationNotFound(name string) error {
	return awserr.Errorf(CodeNotFound, "Failed to describe the api-destination(s). An api-destination '%s' does not exist.", name)
}

var connectionARNPattern = regexp.MustCompile(`^arn:aws([a-z]|\-)*:events:([a-z]|\d|\-)*:([0-9]{12})?:connection\/[\.\-_A-Za-z0-9]+\/[\-A-Za-z0-9]+$`)

func checkDestinationInput(in *APIDestinationInput, v *checks) {
	v.name(in.Name, "name")
	if in.Description != nil {
		v.length(*in.Description, "description", 0, maxDescriptionLength)
	}
	if in.ConnectionARN != nil {
		v.length(*in.ConnectionARN, "connectionArn", 1, 1600)
		if *in.ConnectionARN != "" && !connectionARNPattern.MatchString(*in.ConnectionARN) {
			v.fail(in.ConnectionARN, "connectionArn", "Member must satisfy regular expression pattern: "+connectionARNPattern.String())
		}
	}
	if in.Endpoint != nil {
		v.length(*in.Endpoint, "invocationEndpoint", 1, 2048)
		if *in.Endpoint != "" {
			v.pattern(*in.Endpoint, "invocationEndpoint", endpointPattern)
		}
	}
	if in.Method != nil {
		v.enum(*in.Method, "httpMethod", "POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")
	}
	if in.RateLimit != nil {
		v.number(*in.RateLimit, "invocationRateLimitPerSecond", 1, defaultRateLimit)
	}
}

// checkEndpoint requires an absolute http or https URL: delivery calls
// it.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return awserr.Errorf(CodeValidation, "Parameter InvocationEndpoint is not valid. Reason: %s is not an absolute http or https URL.", endpoint)
	}
	return nil
}

// connectionOf finds the connection an API destination names, in the
// destination's scope.
func (s *Service) connectionOf(ctx context.Context, scope Scope, arn string) error {
	a, _ := awsid.Parse(arn)
	name := strings.TrimPrefix(a.Resource, "connection/")
	name, _, _ = strings.Cut(name, "/")
	if a.Region != scope.Region || a.AccountID != scope.Account {
		return connectionNotFound(name)
	}
	c, err := load[Connection](ctx, s.meta, scope, metadata.EventConnection, name)
	if err != nil {
		return err
	}
	if c == nil || c.ARN != arn {
		return connectionNotFound(name)
	}
	return nil
}

// CreateAPIDestination creates an API destination.
func (s *Service) CreateAPIDestination(ctx context.Context, scope Scope, in APIDestinationInput) (*APIDestination, error) {
	var v checks
	checkDestinationInput(&in, &v)
	for _, r := range []struct {
		p      *string
		member string
	}{{in.ConnectionARN, "connectionArn"}, {in.Endpoint, "invocationEndpoint"}, {in.Method, "httpMethod"}} {
		if r.p == nil {
			v.fail(nil, r.member, "Member must not be null")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkEndpoint(*in.Endpoint); err != nil {
		return nil, err
	}
	return decided(func() (*APIDestination, error) {
		cur, err := load[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination, in.Name)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, awserr.Errorf(CodeAlreadyExists, "An api-destination '%s' already exists.", in.Name)
		}
		if err := s.connectionOf(ctx, scope, *in.ConnectionARN); err != nil {
			return nil, err
		}
		now := s.now().UTC()
		d := &APIDestination{Rev: 1, Name: in.Name, Account: scope.Account, Region: scope.Region,
			ARN:         awsid.ARN("events", scope.Region, scope.Account, "api-destination/"+in.Name+"/"+awsid.NewUUID()),
			Description: deref(in.Description), ConnectionARN: *in.ConnectionARN, Endpoint: *in.Endpoint, Method: *in.Method,
			RateLimit: defaultRateLimit, Created: now, Modified: now, State: DestinationActive}
		if in.RateLimit != nil {
			d.RateLimit = *in.RateLimit
		}
		if err := s.authorize(ctx, scope, "events:CreateApiDestination", d.ARN, nil, nil); err != nil {
			return nil, err
		}
		all, err := list[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination)
		if err != nil {
			return nil, err
		}
		if len(all) >= maxAPIDestinations {
			return nil, limitExceeded()
		}
		return d, s.update(ctx, scope, call{"CreateApiDestination", destinationParams(d)}, []string{d.ARN}, func(tx metadata.Tx) error {
			return write(ctx, tx, scope, metadata.EventAPIDestination, in.Name, 0, d)
		})
	})
}

func destinationParams(d *APIDestination) map[string]any {
	return map[string]any{"name": d.Name, "connectionArn": d.ConnectionARN, "invocationEndpoint": d.Endpoint,
		"httpMethod": d.Method, "invocationRateLimitPerSecond": d.RateLimit}
}

// withState works out a destination's state: active while its
// connection exists.
func (s *Service) withState(ctx context.Context, scope Scope, d *APIDestination) (*APIDestination, error) {
	err := s.connectionOf(ctx, scope, d.ConnectionARN)
	switch awserr.Code(err) {
	case "":
		d.State = DestinationActive
	case CodeNotFound:
		d.State = DestinationInactive
	default:
		return nil, err
	}
	return d, nil
}

// DescribeAPIDestination returns an API destination.
func (s *Service) DescribeAPIDestination(ctx context.Context, scope Scope, name string) (*APIDestination, error) {
	var v checks
	if v.name(name, "name"); v.err() != nil {
		return nil, v.err()
	}
	d, err := load[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination, name)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, destinationNotFound(name)
	}
	if err := s.authorize(ctx, scope, "events:DescribeApiDestination", d.ARN, nil, nil); err != nil {
		return nil, err
	}
	return s.withState(ctx, scope, d)
}

// UpdateAPIDestination changes what the request gives of an API
// destination.
func (s *Service) UpdateAPIDestination(ctx context.Context, scope Scope, in APIDestinationInput) (*APIDestination, error) {
	var v checks
	if checkDestinationInput(&in, &v); v.err() != nil {
		return nil, v.err()
	}
	if in.Endpoint != nil {
		if err := checkEndpoint(*in.Endpoint); err != nil {
			return nil, err
		}
	}
	return decided(func() (*APIDestination, error) {
		d, err := load[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination, in.Name)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return nil, destinationNotFound(in.Name)
		}
		if err := s.authorize(ctx, scope, "events:UpdateApiDestination", d.ARN, nil, nil); err != nil {
			return nil, err
		}
		if in.ConnectionARN != nil {
			if err := s.connectionOf(ctx, scope, *in.ConnectionARN); err != nil {
				return nil, err
			}
			d.ConnectionARN = *in.ConnectionARN
		}
		if in.Description != nil {
			d.Description = *in.Description
		}
		if in.Endpoint != nil {
			d.Endpoint = *in.Endpoint
		}
		if in.Method != nil {
			d.Method = *in.Method
		}
		if in.RateLimit != nil {
			d.RateLimit = *in.RateLimit
		}
		was := d.Rev
		d.Rev, d.Modified = was+1, s.now().UTC()
		if d, err = s.withState(ctx, scope, d); err != nil {
			return nil, err
		}
		return d, s.update(ctx, scope, call{"UpdateApiDestination", destinationParams(d)}, []string{d.ARN}, func(tx metadata.Tx) error {
			return write(ctx, tx, scope, metadata.EventAPIDestination, in.Name, was, d)
		})
	})
}

// DeleteAPIDestination deletes an API destination. Rule targets that
// name it stay (as on EventBridge) and receive nothing.
func (s *Service) DeleteAPIDestination(ctx context.Context, scope Scope, name string) error {
	var v checks
	if v.name(name, "name"); v.err() != nil {
		return v.err()
	}
	_, err := decided(func() (struct{}, error) {
		d, err := load[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination, name)
		if err != nil {
			return struct{}{}, err
		}
		if d == nil {
			return struct{}{}, destinationNotFound(name)
		}
		if err := s.authorize(ctx, scope, "events:DeleteApiDestination", d.ARN, nil, nil); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, s.update(ctx, scope, call{"DeleteApiDestination", map[string]any{"name": name}}, []string{d.ARN}, func(tx metadata.Tx) error {
			return write[APIDestination](ctx, tx, scope, metadata.EventAPIDestination, name, d.Rev, nil)
		})
	})
	return err
}

// ListAPIDestinations lists API destinations in name order, those whose
// names start with prefix (and, if connection is set, that use it), a
// page at a time.
func (s *Service) ListAPIDestinations(ctx context.Context, scope Scope, prefix, connection string, token *string, limit *int) ([]*APIDestination, string, error) {
	if err := s.authorize(ctx, scope, "events:ListApiDestinations", awsid.ARN("events", scope.Region, scope.Account, "api-destination/*"), nil, nil); err != nil {
		return nil, "", err
	}
	all, err := list[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination)
	if err != nil {
		return nil, "", err
	}
	conns, err := list[Connection](ctx, s.meta, scope, metadata.EventConnection)
	if err != nil {
		return nil, "", err
	}
	var out []*APIDestination
	for _, d := range all {
		if !strings.HasPrefix(d.Name, prefix) || (connection != "" && d.ConnectionARN != connection) {
			continue
		}
		d.State = DestinationInactive
		if slices.ContainsFunc(conns, func(c *Connection) bool { return c.ARN == d.ConnectionARN }) {
			d.State = DestinationActive
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *APIDestination) int { return strings.Compare(a.Name, b.Name) })
	return pageOf(out, func(d *APIDestination) string { return d.Name }, token, limit)
}
