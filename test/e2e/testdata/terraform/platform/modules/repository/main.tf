# A repository of one environment: ${environment}-${repository_name}.
variable "environment" {
  type = string
}

variable "repository_name" {
  type = string
}

variable "mutability" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

resource "aws_ecr_repository" "this" {
  name                 = "${var.environment}-${var.repository_name}"
  image_tag_mutability = var.mutability
  force_delete         = true

  image_scanning_configuration {
    scan_on_push = var.environment == "prod"
  }

  tags = merge(var.tags, {
    Environment = var.environment
  })
}

output "repository_url" {
  value = aws_ecr_repository.this.repository_url
}
