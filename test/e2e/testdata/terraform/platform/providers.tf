# The platform team's provider block: the only thing pointing it at ecrd
# is the endpoints, given by the test as variables.
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

variable "github_oidc_url" {
  type    = string
  default = "https://token.actions.githubusercontent.com"
}

provider "aws" {
  region                  = "us-east-1"
  skip_metadata_api_check = true

  endpoints {
    ecr = var.endpoint
    iam = var.endpoint
    kms = var.endpoint
    sts = var.endpoint
  }

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Team      = "platform"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}
