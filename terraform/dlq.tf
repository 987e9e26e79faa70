#  Dead-letter queues, as the broker has them: standard keeps 14 days,
#  critical 4 days (shorter, so someone looks at it sooner).
locals {
  dlq_retention_seconds = {
    standard = var.dlq_standard_retention_seconds
    critical = var.dlq_critical_retention_seconds
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.dlq_retention_seconds

  name                      = "${local.name}-dlq-${each.key}"
  message_retention_seconds = each.value
  sqs_managed_sse_enabled   = true
}
