# GitHub Actions: the OIDC provider, the CI role trusting it for the main
# branch of org/app, its inline push policy and the PowerUser attachment.
resource "aws_iam_openid_connect_provider" "github" {
  url            = var.github_oidc_url
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "ci_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(var.github_oidc_url, "https://", "")}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "${replace(var.github_oidc_url, "https://", "")}:sub"
      values   = ["repo:org/app:*"]
    }
  }
}

resource "aws_iam_role" "ci" {
  name                 = "github-actions-app"
  description          = "CI of org/app"
  assume_role_policy   = data.aws_iam_policy_document.ci_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "ci_push" {
  statement {
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.app.arn]
  }
}

resource "aws_iam_role_policy" "ci_push" {
  name   = "push-app"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci_push.json
}

resource "aws_iam_role_policy_attachment" "ci_power_user" {
  role       = aws_iam_role.ci.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
}

output "ci_role_arn" {
  value = aws_iam_role.ci.arn
}
