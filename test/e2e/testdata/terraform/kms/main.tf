# A platform team's KMS set-up beyond the registry's own key: grants that
# let a deployment role use a repository key (one constrained to its
# repository's encryption context, one retired rather than revoked on
# destroy, one created with another's grant token), and an asymmetric
# signing key for image signatures, with a grant to sign and its public
# key read back.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "endpoint" {
  type = string
}

provider "aws" {
  region                  = "us-east-1"
  skip_metadata_api_check = true

  endpoints {
    iam = var.endpoint
    kms = var.endpoint
    sts = var.endpoint
  }
}

data "aws_caller_identity" "current" {}

resource "aws_iam_role" "deployer" {
  name = "deployer"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_kms_key" "repository" {
  description             = "repository key"
  deletion_window_in_days = 7
  enable_key_rotation     = true
}

resource "aws_kms_grant" "deployer" {
  name              = "deployer-app"
  key_id            = aws_kms_key.repository.key_id
  grantee_principal = aws_iam_role.deployer.arn
  operations        = ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"]

  constraints {
    encryption_context_subset = {
      repository = "app"
    }
  }
}

resource "aws_kms_grant" "retiring" {
  name                  = "deployer-exact"
  key_id                = aws_kms_key.repository.arn
  grantee_principal     = aws_iam_role.deployer.arn
  retiring_principal    = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
  operations            = ["Decrypt", "RetireGrant"]
  retire_on_delete      = true
  grant_creation_tokens = [aws_kms_grant.deployer.grant_token]

  constraints {
    encryption_context_equals = {
      repository = "app"
      layer      = "config"
    }
  }
}

resource "aws_kms_key" "signing" {
  description              = "image signing key"
  deletion_window_in_days  = 7
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
}

resource "aws_kms_alias" "signing" {
  name          = "alias/image-signing"
  target_key_id = aws_kms_key.signing.key_id
}

resource "aws_kms_grant" "signer" {
  key_id            = aws_kms_key.signing.key_id
  grantee_principal = aws_iam_role.deployer.arn
  operations        = ["Sign", "Verify", "GetPublicKey", "DescribeKey"]
}

data "aws_kms_public_key" "signing" {
  key_id = aws_kms_alias.signing.name
}

output "role_arn" {
  value = aws_iam_role.deployer.arn
}

output "repository_key_arn" {
  value = aws_kms_key.repository.arn
}

output "signing_key_arn" {
  value = aws_kms_key.signing.arn
}

output "grant_ids" {
  value = [aws_kms_grant.deployer.grant_id, aws_kms_grant.retiring.grant_id, aws_kms_grant.signer.grant_id]
}

output "public_key_pem" {
  value = data.aws_kms_public_key.signing.public_key_pem
}

output "signing_algorithms" {
  value = data.aws_kms_public_key.signing.signing_algorithms
}
