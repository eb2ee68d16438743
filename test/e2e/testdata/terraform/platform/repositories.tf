# An AES256 repository with immutable tags and scan on push.
resource "aws_ecr_repository" "app" {
  name                 = "app"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = true

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }

  tags = {
    Service = "app"
  }
}

# A KMS-encrypted repository with its own key.
resource "aws_kms_key" "ecr" {
  description             = "ECR repositories of the platform"
  enable_key_rotation     = true
  deletion_window_in_days = 10
}

resource "aws_kms_alias" "ecr" {
  name          = "alias/platform-ecr"
  target_key_id = aws_kms_key.ecr.key_id
}

resource "aws_ecr_repository" "secure" {
  name         = "secure/app"
  force_delete = true

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
}

# KMS without a key of its own: the account's AWS managed alias/aws/ecr.
resource "aws_ecr_repository" "secure_default" {
  name         = "secure/default-key"
  force_delete = true

  encryption_configuration {
    encryption_type = "KMS"
  }
}

# The four-rule lifecycle policy.
resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "keep the last 10 prod images"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["prod-"]
          countType     = "imageCountMoreThan"
          countNumber   = 10
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "keep the last 5 staging images"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["staging-"]
          countType     = "imageCountMoreThan"
          countNumber   = 5
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 3
        description  = "expire untagged images older than 7 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 4
        description  = "keep the last 3 feature images"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["feature-"]
          countType     = "imageCountMoreThan"
          countNumber   = 3
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Pull for two other accounts, push for the CI role.
data "aws_iam_policy_document" "app" {
  statement {
    sid     = "CrossAccountPull"
    effect  = "Allow"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::210987654321:root", "arn:aws:iam::333333333333:root"]
    }
  }
  statement {
    sid    = "CIPush"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage",
    ]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.ci.arn]
    }
  }
}

resource "aws_ecr_repository_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy     = data.aws_iam_policy_document.app.json
}

resource "aws_ecr_registry_policy" "this" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ReplicationFromDev"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::210987654321:root" }
      Action    = ["ecr:CreateRepository", "ecr:ReplicateImage"]
      Resource  = "arn:aws:ecr:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:repository/*"
    }]
  })
}

resource "aws_ecr_repository_creation_template" "team" {
  prefix               = "team"
  description          = "repositories CI creates on push"
  applied_for          = ["CREATE_ON_PUSH"]
  image_tag_mutability = "MUTABLE"

  encryption_configuration {
    encryption_type = "AES256"
  }

  resource_tags = {
    Owner = "team"
  }
}

# One repository per environment through a module.
module "service" {
  for_each = {
    prod = "IMMUTABLE"
    dev  = "MUTABLE"
  }
  source          = "./modules/repository"
  environment     = each.key
  repository_name = "billing"
  mutability      = each.value
  tags            = { CostCenter = "1234" }
}

data "aws_ecr_repository" "app" {
  name = aws_ecr_repository.app.name
}

data "aws_ecr_authorization_token" "token" {}

output "app_repository_url" {
  value = data.aws_ecr_repository.app.repository_url
}

output "registry_proxy_endpoint" {
  value = data.aws_ecr_authorization_token.token.proxy_endpoint
}

output "account_id" {
  value = data.aws_caller_identity.current.account_id
}

# Scan on push everywhere, the registry's basic scanning.
resource "aws_ecr_registry_scanning_configuration" "this" {
  scan_type = "BASIC"

  rule {
    scan_frequency = "SCAN_ON_PUSH"
    repository_filter {
      filter      = "*"
      filter_type = "WILDCARD"
    }
  }
}

# Disaster recovery: the application's images are copied to a second
# region as they are pushed.
resource "aws_ecr_replication_configuration" "dr" {
  replication_configuration {
    rule {
      destination {
        region      = "us-west-2"
        registry_id = data.aws_caller_identity.current.account_id
      }
      repository_filter {
        filter      = "app"
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}
