# Pull-through cache rules as a platform team declares them: a public
# upstream ECR knows (quay), one mirrored at the upstream's root named
# explicitly, any OCI registry (here one on loopback) under a prefix of
# its repositories, and another account's ECR registry as a role that
# trusts the pull-through cache service; and a data source reading one
# back.
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
  region                      = "us-east-1"
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_credentials_validation = true

  endpoints {
    ecr = var.endpoint
    iam = var.endpoint
    sts = var.endpoint
  }
}

resource "aws_iam_role" "ptc" {
  name = "ecr-to-ecr-cache"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "pullthroughcache.ecr.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "ptc" {
  name = "pull"
  role = aws_iam_role.ptc.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      Resource = "*"
    }]
  })
}

resource "aws_ecr_pull_through_cache_rule" "upstream_account" {
  ecr_repository_prefix = "primary"
  upstream_registry_url = "210987654321.dkr.ecr.us-east-1.amazonaws.com"
  custom_role_arn       = aws_iam_role.ptc.arn
}

resource "aws_ecr_pull_through_cache_rule" "quay" {
  ecr_repository_prefix = "quay"
  upstream_registry_url = "quay.io"
}

resource "aws_ecr_pull_through_cache_rule" "k8s" {
  ecr_repository_prefix      = "k8s"
  upstream_registry_url      = "registry.k8s.io"
  upstream_repository_prefix = "ROOT"
}

resource "aws_ecr_pull_through_cache_rule" "local" {
  ecr_repository_prefix      = "local/mirror"
  upstream_registry_url      = "127.0.0.1:5001"
  upstream_repository_prefix = "library"
}

data "aws_ecr_pull_through_cache_rule" "quay" {
  ecr_repository_prefix = aws_ecr_pull_through_cache_rule.quay.ecr_repository_prefix
}

output "registry_id" {
  value = aws_ecr_pull_through_cache_rule.quay.registry_id
}

output "read_url" {
  value = data.aws_ecr_pull_through_cache_rule.quay.upstream_registry_url
}

output "read_upstream_prefix" {
  value = data.aws_ecr_pull_through_cache_rule.quay.upstream_repository_prefix
}

output "role_rule_role" {
  value = aws_ecr_pull_through_cache_rule.upstream_account.custom_role_arn
}

output "role_rule_upstream" {
  value = aws_ecr_pull_through_cache_rule.upstream_account.upstream_registry_url
}

output "k8s_upstream_prefix" {
  value = aws_ecr_pull_through_cache_rule.k8s.upstream_repository_prefix
}
