#  cabruca: the AWS side of the cabruca bus.
#
#  Everything here is derived from the files the broker itself reads:
#  ../schemas/events/*.json (the schema registry) and ../schemas/rules/default.json
#  (rules, targets, retry policies and dead-letter queues), so the cloud bus
#  and the local broker cannot drift apart. docs/cloud.md explains how to apply it.
#
#  Files by concern: bus.tf, schemas.tf, rules.tf, targets.tf, dlq.tf,
#  archive.tf, monitoring.tf, iam.tf; variables.tf and outputs.tf.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "cabruca"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  #  The broker's own files, read as they are.
  schemas_dir = "${path.module}/../schemas"
  rule_file   = jsondecode(file("${local.schemas_dir}/rules/default.json"))

  #  Rules by name. The rule file's own defaults apply here as in the broker:
  #  enabled true; per target retry 185 attempts / 24 h; dead-letter queue standard.
  rules = { for rule in local.rule_file.rules : rule.name => rule }

  #  Every target of every rule, keyed "<rule>.<target id>".
  targets = merge([
    for rule in local.rule_file.rules : {
      for target in rule.targets : "${rule.name}.${target.id}" => {
        rule              = rule.name
        id                = target.id
        type              = target.type
        queue             = try(target.queue, null)
        retry_attempts    = try(target.retry_policy.maximum_retry_attempts, 185)
        retry_age_seconds = try(target.retry_policy.maximum_event_age_seconds, 86400)
        dead_letter_queue = try(target.dead_letter_queue, "standard")
        input_transformer = try(target.input_transformer, null)
      }
    }
  ]...)

  #  Local target type -> cloud resource: agent -> SQS queue (one per queue
  #  name), log -> CloudWatch log group, command -> SNS topic. http targets
  #  (webhooks) have no cloud counterpart here: rules.tf refuses them.
  agent_queues   = toset([for key, t in local.targets : t.queue if t.type == "agent"])
  log_targets    = { for key, t in local.targets : key => t if t.type == "log" }
  command_topics = { for key, t in local.targets : key => t if t.type == "command" }

  name = "${var.name_prefix}-${var.environment}"
}
