package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/secrets"
)

// ptcSecrets gives the registry's pull-through cache the credential
// secrets of its rules, as ECR reads them on the account's behalf, with
// the kinds of failure ECR answers.
type ptcSecrets struct{ s *secrets.Service }

func (a ptcSecrets) ValueForService(ctx context.Context, account, arn string) (string, error) {
	v, err := a.s.ValueForService(ctx, account, arn)
	switch {
	case errors.Is(err, secrets.ErrSecretNotFound):
		return "", fmt.Errorf("%w: %w", registry.ErrSecretNotFound, err)
	case errors.Is(err, secrets.ErrSecretAccess):
		return "", fmt.Errorf("%w: %w", registry.ErrSecretAccess, err)
	case errors.Is(err, secrets.ErrSecretDecrypt):
		return "", fmt.Errorf("%w: %w", registry.ErrSecretDecrypt, err)
	}
	return v, err
}
