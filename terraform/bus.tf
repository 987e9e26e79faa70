#  The custom bus the broker mirrors into with PutEvents.
resource "aws_cloudwatch_event_bus" "agents" {
  name        = var.event_bus_name
  description = "cabruca agents bus (${var.environment}): events mirrored from the local broker"
}
