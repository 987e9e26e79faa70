variable "region" {
  description = "AWS region of the cabruca bus."
  type        = string
  default     = "sa-east-1"
}

variable "environment" {
  description = "Deployment environment, part of every resource name (dev, staging, prod)."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z0-9-]{1,16}$", var.environment))
    error_message = "environment: 1 to 16 lowercase letters, digits or hyphens."
  }
}

variable "name_prefix" {
  description = "Prefix of resource names (the bus itself is always cabruca-agents-bus)."
  type        = string
  default     = "cabruca"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix: 1 to 20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "event_bus_name" {
  description = "Name of the custom event bus the broker mirrors into."
  type        = string
  default     = "cabruca-agents-bus"
}

variable "monthly_budget_usd" {
  description = "Monthly EventBridge budget in US dollars; the cost alarm fires at 90%."
  type        = number
  default     = 10

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be above 0."
  }
}

variable "budget_alarm_percent" {
  description = "Percentage of the monthly budget at which the cost alarm fires."
  type        = number
  default     = 90
}

variable "alert_email" {
  description = "Optional e-mail address subscribed to the alert topic and the budget notification (empty: none)."
  type        = string
  default     = ""
}

variable "archive_retention_days" {
  description = "Days the bus archive keeps events (replay window)."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "Days the CloudWatch log groups of log targets keep events."
  type        = number
  default     = 7
}

variable "dlq_standard_retention_seconds" {
  description = "Retention of the standard dead-letter queue (14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_standard_retention_seconds >= 60 && var.dlq_standard_retention_seconds <= 1209600
    error_message = "SQS retention is 60 s to 14 days (1209600 s)."
  }
}

variable "dlq_critical_retention_seconds" {
  description = "Retention of the critical dead-letter queue (4 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.dlq_critical_retention_seconds >= 60 && var.dlq_critical_retention_seconds <= 1209600
    error_message = "SQS retention is 60 s to 14 days (1209600 s)."
  }
}

variable "queue_retention_seconds" {
  description = "Retention of the agent queues (product management, CI/CD, investigation)."
  type        = number
  default     = 345600
}
