# Pull-through cache rules as a platform team declares them: a public
# upstream ECR knows (quay), one mirrored at the upstream's root named
# explicitly, and any OCI registry (here one on loopback) under a
# prefix of its repositories; and a data source reading one back.
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
    sts = var.endpoint
  }
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

output "k8s_upstream_prefix" {
  value = aws_ecr_pull_through_cache_rule.k8s.upstream_repository_prefix
}
