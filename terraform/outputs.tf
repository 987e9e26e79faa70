output "event_bus_name" {
  description = "Name of the cabruca bus (the mirror's EventBusName)."
  value       = aws_cloudwatch_event_bus.agents.name
}

output "event_bus_arn" {
  description = "ARN of the cabruca bus."
  value       = aws_cloudwatch_event_bus.agents.arn
}

output "schema_registry_name" {
  description = "Name of the schema registry holding one schema per event type."
  value       = aws_schemas_registry.cabruca.name
}

output "dlq_url" {
  description = "URL of the standard dead-letter queue."
  value       = aws_sqs_queue.dlq["standard"].url
}

output "dlq_urls" {
  description = "URLs of the dead-letter queues by name (standard, critical)."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.url }
}

output "agent_queue_urls" {
  description = "URLs of the SQS queues of agent targets, by queue name."
  value       = { for name, queue in aws_sqs_queue.agent : name => queue.url }
}

output "alert_topic_arns" {
  description = "ARNs of the SNS topics of command targets, by <rule>.<target id>."
  value       = { for key, topic in aws_sns_topic.command : key => topic.arn }
}

output "log_group_names" {
  description = "CloudWatch log groups of log targets, by <rule>.<target id>."
  value       = { for key, group in aws_cloudwatch_log_group.target : key => group.name }
}

output "archive_name" {
  description = "Name of the bus archive (for StartReplay)."
  value       = aws_cloudwatch_event_archive.agents.name
}

output "agent_event_publisher_policy_arn" {
  description = "ARN of the IAM policy allowing only events:PutEvents on the cabruca bus; attach it to the agents' host role or user."
  value       = aws_iam_policy.agent_event_publisher.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.cabruca.dashboard_name
}
