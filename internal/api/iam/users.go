package iam

import (
	"context"
	"encoding/xml"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// User is IAM's description of a user.
type User struct {
	Path                string `xml:",omitempty"`
	UserName            string `xml:",omitempty"`
	UserId              string
	Arn                 string
	CreateDate          string
	PermissionsBoundary *Boundary `xml:",omitempty"`
	Tags                *TagList  `xml:",omitempty"`
}

func userOf(u identity.User, full bool) User {
	out := User{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: u.ARN, CreateDate: timestamp(u.CreatedAt)}
	if full {
		out.PermissionsBoundary = boundaryOf(u.Boundary)
		out.Tags = optionalTags(u.Tags)
	}
	return out
}

// AccessKeyMetadata describes an access key without its secret.
type AccessKeyMetadata struct {
	UserName    string `xml:",omitempty"`
	AccessKeyId string
	Status      string
	CreateDate  string
}

var userOps = map[string]op{
	"CreateUser": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("UserName")
		if err != nil {
			return nil, err
		}
		u, err := h.ids.CreateUser(ctx, identity.UserInput{Name: name, Path: f.Get("Path"), Boundary: f.Get("PermissionsBoundary"), Tags: f.Tags("Tags")})
		if err != nil {
			return nil, err
		}
		return struct{ User User }{userOf(u, true)}, nil
	},
	"GetUser": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		u, err := h.ids.User(ctx, f.Get("UserName"), "iam:GetUser")
		if err != nil {
			return nil, err
		}
		return struct{ User User }{userOf(u, true)}, nil
	},
	"ListUsers": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		users, err := h.ids.Users(ctx, f.Get("PathPrefix"))
		if err != nil {
			return nil, err
		}
		users, truncated, marker, err := page(f, users, func(u identity.User) string { return u.Name })
		if err != nil {
			return nil, err
		}
		out := struct {
			Users       []User `xml:"Users>member"`
			IsTruncated bool
			Marker      string `xml:",omitempty"`
		}{Users: []User{}, IsTruncated: truncated, Marker: marker}
		for _, u := range users {
			out.Users = append(out.Users, userOf(u, false))
		}
		return out, nil
	},
	"DeleteUser": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("UserName")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.DeleteUser(ctx, name)
	},
	"CreateAccessKey": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		k, user, err := h.ids.CreateUserAccessKey(ctx, f.Get("UserName"))
		if err != nil {
			return nil, err
		}
		type key struct {
			UserName        string `xml:",omitempty"`
			AccessKeyId     string
			Status          string
			SecretAccessKey string
			CreateDate      string
		}
		return struct{ AccessKey key }{key{user, k.ID, "Active", k.Secret, timestamp(k.CreatedAt)}}, nil
	},
	"ListAccessKeys": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		keys, user, err := h.ids.UserAccessKeys(ctx, f.Get("UserName"))
		if err != nil {
			return nil, err
		}
		keys, truncated, marker, err := page(f, keys, func(k metadata.AccessKey) string { return k.ID })
		if err != nil {
			return nil, err
		}
		out := struct {
			AccessKeyMetadata []AccessKeyMetadata `xml:"AccessKeyMetadata>member"`
			IsTruncated       bool
			Marker            string `xml:",omitempty"`
		}{AccessKeyMetadata: []AccessKeyMetadata{}, IsTruncated: truncated, Marker: marker}
		for _, k := range keys {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, AccessKeyMetadata{user, k.ID, k.Status, timestamp(k.CreatedAt)})
		}
		return out, nil
	},
	"UpdateAccessKey": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		id, err := f.Required("AccessKeyId")
		if err != nil {
			return nil, err
		}
		status, err := f.Required("Status")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.UpdateAccessKey(ctx, f.Get("UserName"), id, status)
	},
	"DeleteAccessKey": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		id, err := f.Required("AccessKeyId")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.DeleteAccessKey(ctx, f.Get("UserName"), id)
	},
	"UpdateUser": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("UserName")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.UpdateUser(ctx, name, f.Get("NewUserName"), f.Get("NewPath"))
	},
	// GetAccessKeyLastUsed says N/A for the service and region of a key
	// never used, as IAM does.
	"GetAccessKeyLastUsed": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		id, err := f.Required("AccessKeyId")
		if err != nil {
			return nil, err
		}
		user, use, used, err := h.ids.AccessKeyLastUsed(ctx, id)
		if err != nil {
			return nil, err
		}
		type lastUsed struct {
			LastUsedDate string `xml:",omitempty"`
			ServiceName  string
			Region       string
		}
		out := struct {
			UserName          string `xml:",omitempty"`
			AccessKeyLastUsed lastUsed
		}{user, lastUsed{ServiceName: "N/A", Region: "N/A"}}
		if used {
			out.AccessKeyLastUsed = lastUsed{timestamp(use.Date), use.Service, use.Region}
		}
		return out, nil
	},
	// ecrd has no console passwords, MFA devices, SSH keys, signing
	// certificates or service-specific credentials: their calls answer
	// for an existing user as IAM does for one without any (Terraform's
	// force_destroy walks them all before deleting a user).
	"GetLoginProfile":                loginProfile("iam:GetLoginProfile"),
	"DeleteLoginProfile":             loginProfile("iam:DeleteLoginProfile"),
	"ListMFADevices":                 noCredentials("iam:ListMFADevices", "MFADevices"),
	"ListSSHPublicKeys":              noCredentials("iam:ListSSHPublicKeys", "SSHPublicKeys"),
	"ListSigningCertificates":        noCredentials("iam:ListSigningCertificates", "Certificates"),
	"ListServiceSpecificCredentials": noCredentials("iam:ListServiceSpecificCredentials", "ServiceSpecificCredentials"),
	"ListVirtualMFADevices": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		if err := h.ids.VirtualMFADevices(ctx); err != nil {
			return nil, err
		}
		return emptyList{"VirtualMFADevices", true}, nil
	},
}

func loginProfile(action string) op {
	return func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("UserName")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.LoginProfile(ctx, name, action)
	}
}

// noCredentials is a listing of a user's credentials of a kind ecrd does
// not issue: empty, for a user that exists (no name: the caller).
func noCredentials(action, list string) op {
	return func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		if _, err := h.ids.UserCredentials(ctx, f.Get("UserName"), action); err != nil {
			return nil, err
		}
		return emptyList{list, list != "ServiceSpecificCredentials"}, nil
	}
}

// emptyList is <Name/> and, for a paged listing, IsTruncated false.
type emptyList struct {
	name  string
	paged bool
}

func (l emptyList) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement("", xml.StartElement{Name: xml.Name{Local: l.name}}); err != nil {
		return err
	}
	if l.paged {
		if err := e.EncodeElement(false, xml.StartElement{Name: xml.Name{Local: "IsTruncated"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// OpenIDConnectProvider is IAM's description of an OIDC provider.
type OpenIDConnectProvider struct {
	Url            string
	ClientIDList   []string `xml:"ClientIDList>member"`
	ThumbprintList []string `xml:"ThumbprintList>member"`
	CreateDate     string
	Tags           *TagList `xml:",omitempty"`
}

func providerARN(f awsquery.Form) (string, error) { return f.Required("OpenIDConnectProviderArn") }

// providerURL is a provider's Url as GetOpenIDConnectProvider gives it:
// without the scheme, as IAM does, except for an issuer on an explicit
// port (a private or test issuer), whose scheme-less form clients cannot
// parse back (Terraform would replace the provider on every plan).
func providerURL(u string) string {
	host, _, _ := strings.Cut(u, "/")
	if strings.Contains(host, ":") {
		return "https://" + u
	}
	return u
}

func changeProvider(action string, change func(f awsquery.Form) identity.OIDCChange) op {
	return func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := providerARN(f)
		if err != nil {
			return nil, err
		}
		return nil, h.ids.ChangeOIDCProvider(ctx, arn, action, change(f))
	}
}

var oidcOps = map[string]op{
	"CreateOpenIDConnectProvider": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		u, err := f.Required("Url")
		if err != nil {
			return nil, err
		}
		p, err := h.ids.CreateOIDCProvider(ctx, identity.OIDCProviderInput{URL: u, ClientIDs: f.Members("ClientIDList"), Thumbprints: f.Members("ThumbprintList"), Tags: f.Tags("Tags")})
		if err != nil {
			return nil, err
		}
		return struct {
			OpenIDConnectProviderArn string
			Tags                     *TagList `xml:",omitempty"`
		}{p.ARN, optionalTags(p.Tags)}, nil
	},
	"GetOpenIDConnectProvider": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := providerARN(f)
		if err != nil {
			return nil, err
		}
		p, err := h.ids.OIDCProvider(ctx, arn)
		if err != nil {
			return nil, err
		}
		return OpenIDConnectProvider{providerURL(p.URL), p.ClientIDs, p.Thumbprints, timestamp(p.CreatedAt), optionalTags(p.Tags)}, nil
	},
	"ListOpenIDConnectProviders": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		ps, err := h.ids.OIDCProviders(ctx)
		if err != nil {
			return nil, err
		}
		type entry struct{ Arn string }
		out := struct {
			OpenIDConnectProviderList []entry `xml:"OpenIDConnectProviderList>member"`
		}{[]entry{}}
		for _, p := range ps {
			out.OpenIDConnectProviderList = append(out.OpenIDConnectProviderList, entry{p.ARN})
		}
		return out, nil
	},
	"DeleteOpenIDConnectProvider": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := providerARN(f)
		if err != nil {
			return nil, err
		}
		return nil, h.ids.DeleteOIDCProvider(ctx, arn)
	},
	"UpdateOpenIDConnectProviderThumbprint": changeProvider("iam:UpdateOpenIDConnectProviderThumbprint", func(f awsquery.Form) identity.OIDCChange {
		return identity.OIDCChange{Thumbprints: append([]string{}, f.Members("ThumbprintList")...)}
	}),
	"AddClientIDToOpenIDConnectProvider": changeProvider("iam:AddClientIDToOpenIDConnectProvider", func(f awsquery.Form) identity.OIDCChange {
		return identity.OIDCChange{AddClientID: f.Get("ClientID")}
	}),
	"RemoveClientIDFromOpenIDConnectProvider": changeProvider("iam:RemoveClientIDFromOpenIDConnectProvider", func(f awsquery.Form) identity.OIDCChange {
		return identity.OIDCChange{RemoveClientID: f.Get("ClientID")}
	}),
	"TagOpenIDConnectProvider": changeProvider("iam:TagOpenIDConnectProvider", func(f awsquery.Form) identity.OIDCChange {
		return identity.OIDCChange{AddTags: f.Tags("Tags")}
	}),
	"UntagOpenIDConnectProvider": changeProvider("iam:UntagOpenIDConnectProvider", func(f awsquery.Form) identity.OIDCChange {
		return identity.OIDCChange{RemoveTags: f.Members("TagKeys")}
	}),
	"ListOpenIDConnectProviderTags": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := providerARN(f)
		if err != nil {
			return nil, err
		}
		p, err := h.ids.OIDCProvider(ctx, arn)
		if err != nil {
			return nil, err
		}
		return struct {
			Tags        []Tag `xml:"Tags>member"`
			IsTruncated bool
		}{append([]Tag{}, tagsOf(p.Tags)...), false}, nil
	},
}
