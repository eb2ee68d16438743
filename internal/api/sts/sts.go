// Package sts serves the slice of AWS STS that clients call before
// anything else: GetCallerIdentity, which the AWS CLI and the Terraform
// provider use to learn the account.
package sts

import (
	"net/http"
	"net/url"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
)

// XMLNS is STS's XML namespace.
const XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

// Handler serves STS.
type Handler struct{}

// New returns the STS handler.
func New() *Handler { return &Handler{} }

// Serve answers an authenticated STS request.
func (h *Handler) Serve(w http.ResponseWriter, c auth.Caller, form url.Values, requestID string) {
	switch action := form.Get("Action"); action {
	case "GetCallerIdentity":
		awsquery.WriteResult(w, XMLNS, action, requestID, struct {
			Arn     string
			UserId  string
			Account string
		}{c.Principal.ARN, c.Principal.UserID, c.Principal.Account})
	default:
		awsquery.WriteError(w, XMLNS, "InvalidAction", "Could not find operation "+action+" for version "+form.Get("Version"), http.StatusBadRequest, requestID)
	}
}
