#  Cloud counterparts of the local targets, by the target's type:
#    agent   -> an SQS queue per queue name (agents or workers consume it)
#    log     -> a CloudWatch log group per target (retention var.log_retention_days)
#    command -> an SNS topic per target (the alert; subscribe e-mail, chat, Lambda)
#  Each target carries the rule file's retry policy and dead-letter queue.

resource "aws_sqs_queue" "agent" {
  for_each = local.agent_queues

  name                      = "${local.name}-${each.key}"
  message_retention_seconds = var.queue_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_cloudwatch_log_group" "target" {
  for_each = local.log_targets

  name              = "/aws/events/${local.name}/${each.value.rule}"
  retention_in_days = var.log_retention_days
}

resource "aws_sns_topic" "command" {
  for_each = local.command_topics

  name = "${local.name}-${each.value.rule}"
}

resource "aws_sns_topic_subscription" "alert_email" {
  for_each = var.alert_email == "" ? {} : local.command_topics

  topic_arn = aws_sns_topic.command[each.key].arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  #  "<rule>.<target id>" -> the ARN EventBridge delivers to.
  target_arns = merge(
    { for key, t in local.targets : key => aws_sqs_queue.agent[t.queue].arn if t.type == "agent" },
    { for key, t in local.targets : key => aws_cloudwatch_log_group.target[key].arn if t.type == "log" },
    { for key, t in local.targets : key => aws_sns_topic.command[key].arn if t.type == "command" },
  )
}

resource "aws_cloudwatch_event_target" "target" {
  for_each = local.targets

  event_bus_name = aws_cloudwatch_event_bus.agents.name
  rule           = aws_cloudwatch_event_rule.rule[each.value.rule].name
  target_id      = each.value.id
  arn            = local.target_arns[each.key]

  retry_policy {
    maximum_retry_attempts       = each.value.retry_attempts
    maximum_event_age_in_seconds = each.value.retry_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq[each.value.dead_letter_queue].arn
  }

  dynamic "input_transformer" {
    for_each = each.value.input_transformer == null ? [] : [each.value.input_transformer]
    content {
      input_paths    = try(input_transformer.value.input_paths_map, {})
      input_template = input_transformer.value.input_template
    }
  }
}
