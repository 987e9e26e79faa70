#  Who may do what: the agents' host may only PutEvents on this bus;
#  EventBridge may deliver to the targets and dead-letter queues of these
#  rules (and of no other); AWS Budgets and CloudWatch may notify the ops topic.

data "aws_iam_policy_document" "agent_event_publisher" {
  statement {
    sid       = "PutEventsOnTheCabrucaBusOnly"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.agents.arn]
  }
}

resource "aws_iam_policy" "agent_event_publisher" {
  name        = "${local.name}-agent-event-publisher"
  description = "Allows only events:PutEvents on ${var.event_bus_name} (the cabruca broker's mirror)."
  policy      = data.aws_iam_policy_document.agent_event_publisher.json
}

locals {
  #  Rule ARNs allowed to send to each queue or topic.
  agent_queue_sources = {
    for queue in local.agent_queues : queue => distinct([
      for key, t in local.targets : aws_cloudwatch_event_rule.rule[t.rule].arn if t.type == "agent" && t.queue == queue
    ])
  }
  #  A queue policy needs at least one source: a DLQ no rule uses gets none.
  dlq_sources = {
    for name, retention in local.dlq_retention_seconds : name => distinct([
      for key, t in local.targets : aws_cloudwatch_event_rule.rule[t.rule].arn if t.dead_letter_queue == name
    ]) if anytrue([for key, t in local.targets : t.dead_letter_queue == name])
  }
}

data "aws_iam_policy_document" "agent_queue" {
  for_each = local.agent_queue_sources

  statement {
    sid       = "EventBridgeRulesSend"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.agent[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = each.value
    }
  }
}

resource "aws_sqs_queue_policy" "agent" {
  for_each = local.agent_queue_sources

  queue_url = aws_sqs_queue.agent[each.key].id
  policy    = data.aws_iam_policy_document.agent_queue[each.key].json
}

data "aws_iam_policy_document" "dlq" {
  for_each = local.dlq_sources

  statement {
    sid       = "EventBridgeDeadLetters"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = each.value
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.dlq_sources

  queue_url = aws_sqs_queue.dlq[each.key].id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}

data "aws_iam_policy_document" "command_topic" {
  for_each = local.command_topics

  statement {
    sid       = "EventBridgeRulePublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.command[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.rule[each.value.rule].arn]
    }
  }
}

resource "aws_sns_topic_policy" "command" {
  for_each = local.command_topics

  arn    = aws_sns_topic.command[each.key].arn
  policy = data.aws_iam_policy_document.command_topic[each.key].json
}

data "aws_iam_policy_document" "ops_topic" {
  statement {
    sid       = "BudgetsAndAlarmsPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ops.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "ops" {
  arn    = aws_sns_topic.ops.arn
  policy = data.aws_iam_policy_document.ops_topic.json
}

#  CloudWatch Logs accepts EventBridge deliveries only with a resource policy.
data "aws_iam_policy_document" "event_logs" {
  count = length(local.log_targets) > 0 ? 1 : 0

  statement {
    sid       = "EventBridgeToLogGroups"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for key, group in aws_cloudwatch_log_group.target : "${group.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "event_logs" {
  count = length(local.log_targets) > 0 ? 1 : 0

  policy_name     = "${local.name}-events-to-logs"
  policy_document = data.aws_iam_policy_document.event_logs[0].json
}
