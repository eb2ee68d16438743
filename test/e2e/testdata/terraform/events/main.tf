# The automated response to critical findings, as a platform team wires
# it: a rule matching ECR's scan events that found CRITICAL
# vulnerabilities, delivered to a webhook (an API destination whose
# connection holds its API key) with an input transformer that passes on
# the repository and digest, and a retry policy.
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
    events = var.endpoint
    sts    = var.endpoint
  }
}

resource "aws_cloudwatch_event_rule" "critical_findings" {
  name        = "critical-findings"
  description = "ECR scans with critical findings"
  event_pattern = jsonencode({
    source        = ["aws.ecr"]
    "detail-type" = ["ECR Image Scan"]
    detail = {
      "scan-status" = ["COMPLETE"]
      "finding-severity-counts" = {
        CRITICAL = [{ numeric = [">", 0] }]
      }
    }
  })
  tags = {
    team = "platform"
  }
}

resource "aws_cloudwatch_event_connection" "quarantine" {
  name               = "quarantine"
  description        = "The quarantine service"
  authorization_type = "API_KEY"
  auth_parameters {
    api_key {
      key   = "X-Api-Key"
      value = "terraform-secret-api-key"
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "quarantine" {
  name                             = "quarantine"
  description                      = "Denies pulls of a repository with critical findings"
  invocation_endpoint              = "https://quarantine.example.com/hooks/ecr"
  http_method                      = "POST"
  invocation_rate_limit_per_second = 20
  connection_arn                   = aws_cloudwatch_event_connection.quarantine.arn
}

resource "aws_cloudwatch_event_target" "quarantine" {
  rule      = aws_cloudwatch_event_rule.critical_findings.name
  target_id = "quarantine"
  arn       = aws_cloudwatch_event_api_destination.quarantine.arn

  input_transformer {
    input_paths = {
      repository = "$.detail.repository-name"
      digest     = "$.detail.image-digest"
    }
    input_template = <<-EOT
      {"repository": <repository>, "digest": <digest>}
    EOT
  }

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }
}

output "rule_arn" {
  value = aws_cloudwatch_event_rule.critical_findings.arn
}

output "connection_secret_arn" {
  value = aws_cloudwatch_event_connection.quarantine.secret_arn
}

output "api_destination_arn" {
  value = aws_cloudwatch_event_api_destination.quarantine.arn
}
