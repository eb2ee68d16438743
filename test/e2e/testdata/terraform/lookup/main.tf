# What a deployment configuration reads of the registry once CI pushed:
# the image a tag names, and where to pull it from.
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

variable "tag" {
  type = string
}

provider "aws" {
  region                  = "us-east-1"
  skip_metadata_api_check = true

  endpoints {
    ecr = var.endpoint
    sts = var.endpoint
  }
}

data "aws_ecr_repository" "app" {
  name = "app"
}

data "aws_ecr_image" "release" {
  repository_name = data.aws_ecr_repository.app.name
  image_tag       = var.tag
}

output "image_digest" {
  value = data.aws_ecr_image.release.image_digest
}

output "image_tags" {
  value = data.aws_ecr_image.release.image_tags
}

output "image_uri" {
  value = data.aws_ecr_image.release.image_uri
}
