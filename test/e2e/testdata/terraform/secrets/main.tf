# An upstream registry's credentials for ECR's pull-through cache, as a
# platform team keeps them: a secret under the ecr-pullthroughcache/
# prefix, deleted at once on destroy, and its value, a JSON document with
# the user name and access token.
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
    secretsmanager = var.endpoint
    sts            = var.endpoint
  }
}

resource "aws_secretsmanager_secret" "upstream" {
  name                    = "ecr-pullthroughcache/upstream"
  description             = "Credentials of the upstream registry"
  recovery_window_in_days = 0

  tags = {
    purpose = "pull-through-cache"
  }
}

resource "aws_secretsmanager_secret_version" "upstream" {
  secret_id = aws_secretsmanager_secret.upstream.id
  secret_string = jsonencode({
    username    = "terraform-user"
    accessToken = "terraform-token"
  })
}

output "secret_arn" {
  value = aws_secretsmanager_secret.upstream.arn
}
