package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ecrLogin turns -ecr KEY:SECRET into registry credentials, as
// `aws ecr get-login-password | docker login` would, and makes sure pushes
// may create repositories.
func ecrLogin(ctx context.Context, cfg *config) error {
	id, secret, ok := strings.Cut(cfg.ecrKey, ":")
	if !ok {
		return errors.New("-ecr wants ACCESS_KEY_ID:SECRET")
	}
	client := ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(cfg.registry.String()),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return fmt.Errorf("GetAuthorizationToken: %w", err)
	}
	token, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		return fmt.Errorf("decoding the authorization token: %w", err)
	}
	if cfg.user, cfg.password, ok = strings.Cut(string(token), ":"); !ok {
		return errors.New("the authorization token is not user:password")
	}
	_, err = client.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:     aws.String("ROOT"),
		AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush},
	})
	var exists *ecrtypes.TemplateAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("CreateRepositoryCreationTemplate: %w", err)
	}
	return nil
}
