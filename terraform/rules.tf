#  The broker's default rules, deployed as they are: same names, same
#  patterns (jsonencode of the file's own pattern objects), same enabled flags.
resource "aws_cloudwatch_event_rule" "rule" {
  for_each = local.rules

  name           = each.value.name
  description    = try(each.value.description, null)
  event_bus_name = aws_cloudwatch_event_bus.agents.name
  event_pattern  = jsonencode(each.value.event_pattern)
  state          = try(each.value.enabled, true) ? "ENABLED" : "DISABLED"

  lifecycle {
    precondition {
      condition     = alltrue([for target in each.value.targets : contains(["agent", "command", "log"], target.type)])
      error_message = "Rule ${each.value.name}: only agent, command and log targets have a cloud counterpart (see docs/cloud.md)."
    }
  }
}
