# People: developers pull through their group (an inline policy and the
# AWS managed ReadOnly policy); a release manager is in the releasers
# group, which may also push. Memberships are declared both ways
# Terraform offers.
resource "aws_iam_group" "developers" {
  name = "developers"
  path = "/people/"
}

data "aws_iam_policy_document" "developers_pull" {
  statement {
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = ["*"]
  }
}

resource "aws_iam_group_policy" "developers_pull" {
  name   = "pull"
  group  = aws_iam_group.developers.name
  policy = data.aws_iam_policy_document.developers_pull.json
}

resource "aws_iam_group_policy_attachment" "developers_read_only" {
  group      = aws_iam_group.developers.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
}

resource "aws_iam_group" "releasers" {
  name = "releasers"
}

resource "aws_iam_group_policy_attachment" "releasers_power_user" {
  group      = aws_iam_group.releasers.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
}

resource "aws_iam_user" "alice" {
  name          = "alice"
  path          = "/people/"
  force_destroy = true
}

resource "aws_iam_access_key" "alice" {
  user = aws_iam_user.alice.name
}

resource "aws_iam_user" "bob" {
  name          = "bob"
  force_destroy = true

  tags = {
    Role = "release-manager"
  }
}

resource "aws_iam_group_membership" "developers" {
  name  = "developers"
  group = aws_iam_group.developers.name
  users = [aws_iam_user.alice.name, aws_iam_user.bob.name]
}

resource "aws_iam_user_group_membership" "bob" {
  user   = aws_iam_user.bob.name
  groups = [aws_iam_group.releasers.name]
}

output "alice_access_key_id" {
  value = aws_iam_access_key.alice.id
}

output "alice_secret_access_key" {
  value     = aws_iam_access_key.alice.secret
  sensitive = true
}
