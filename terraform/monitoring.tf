#  Dashboard, cost alarm and dead-letter alarm. Prices from DESIGN.md:
#  $1.00 per million events published, $0.64 per million rule matches.
locals {
  price_per_million_published = 1.00
  price_per_million_matched   = 0.64
  budget_alarm_usd            = var.monthly_budget_usd * var.budget_alarm_percent / 100

  #  MatchedEvents of each rule on the bus (custom buses: EventBusName + RuleName).
  matched_metrics = [
    for name, rule in aws_cloudwatch_event_rule.rule :
    ["AWS/Events", "MatchedEvents", "EventBusName", var.event_bus_name, "RuleName", name, { id = "m_${replace(name, "-", "_")}", stat = "Sum" }]
  ]
  failed_metrics = [
    for name, rule in aws_cloudwatch_event_rule.rule :
    ["AWS/Events", "FailedInvocations", "EventBusName", var.event_bus_name, "RuleName", name, { stat = "Sum" }]
  ]
  dlq_metrics = [
    for name, queue in aws_sqs_queue.dlq :
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue.name, { stat = "Maximum", label = name }]
  ]
  #  Explicit sums (alarms take no METRICS()); a rule without matches has no data: FILL 0.
  matched_sum     = join(" + ", [for name, rule in aws_cloudwatch_event_rule.rule : "FILL(m_${replace(name, "-", "_")}, 0)"])
  cost_expression = "(FILL(published, 0) * ${local.price_per_million_published} + (${local.matched_sum}) * ${local.price_per_million_matched}) / 1000000"
}

resource "aws_sns_topic" "ops" {
  name = "${local.name}-ops"
}

resource "aws_sns_topic_subscription" "ops_email" {
  count = var.alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.ops.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_cloudwatch_dashboard" "cabruca" {
  dashboard_name = "${local.name}-bus"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Events published (PutEvents entries, whole account and region)"
          region  = var.region
          period  = 300
          metrics = [["AWS/Events", "PutEventsEntriesCount", { stat = "Sum" }], ["AWS/Events", "PutEventsFailedEntriesCount", { stat = "Sum" }]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Events matched, by rule"
          region  = var.region
          period  = 300
          metrics = local.matched_metrics
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Failed invocations, by rule"
          region  = var.region
          period  = 300
          metrics = local.failed_metrics
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Dead-letter queue depth"
          region  = var.region
          period  = 300
          metrics = local.dlq_metrics
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 24, height = 6
        properties = {
          title  = "Estimated cost per day, USD (budget ${var.monthly_budget_usd}/month)"
          region = var.region
          period = 86400
          view   = "timeSeries"
          metrics = concat(
            [["AWS/Events", "PutEventsEntriesCount", { id = "published", stat = "Sum", visible = false }]],
            [for m in local.matched_metrics : concat(slice(m, 0, 6), [merge(m[6], { visible = false })])],
            [[{ expression = local.cost_expression, label = "estimated USD per day", id = "cost" }]]
          )
          annotations = {
            horizontal = [{ label = "${var.budget_alarm_percent}% of the budget, per day", value = local.budget_alarm_usd / 30 }]
          }
        }
      },
    ]
  })
}

#  The authoritative cost alarm: an AWS Budget on EventBridge spend, notified
#  at var.budget_alarm_percent (90%) of var.monthly_budget_usd, actual or forecast.
resource "aws_budgets_budget" "eventbridge" {
  name         = "${local.name}-eventbridge"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  cost_filter {
    name   = "Service"
    values = ["Amazon EventBridge"]
  }

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = var.budget_alarm_percent
    threshold_type            = "PERCENTAGE"
    notification_type         = "ACTUAL"
    subscriber_sns_topic_arns = [aws_sns_topic.ops.arn]
  }

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = var.budget_alarm_percent
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [aws_sns_topic.ops.arn]
  }
}

#  The early warning, from the bus's own metrics (Budgets data lags by hours):
#  a day that costs more than 90% of the budget's daily share.
resource "aws_cloudwatch_metric_alarm" "estimated_cost" {
  alarm_name          = "${local.name}-estimated-cost"
  alarm_description   = "EventBridge spend of the last day, estimated from metrics, is above ${var.budget_alarm_percent}% of the daily share of the ${var.monthly_budget_usd} USD monthly budget."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = local.budget_alarm_usd / 30
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]

  metric_query {
    id          = "cost"
    expression  = local.cost_expression
    label       = "estimated USD per day"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = aws_cloudwatch_event_rule.rule
    content {
      id = "m_${replace(metric_query.key, "-", "_")}"
      metric {
        namespace   = "AWS/Events"
        metric_name = "MatchedEvents"
        dimensions  = { EventBusName = var.event_bus_name, RuleName = metric_query.key }
        period      = 86400
        stat        = "Sum"
      }
    }
  }

  metric_query {
    id = "published"
    metric {
      namespace   = "AWS/Events"
      metric_name = "PutEventsEntriesCount"
      period      = 86400
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = aws_sqs_queue.dlq

  alarm_name          = "${local.name}-dlq-${each.key}-not-empty"
  alarm_description   = "Events were dead-lettered into the ${each.key} DLQ; inspect and redrive them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}
