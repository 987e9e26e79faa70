#  Every event on the bus, kept for replay (StartReplay), like the broker's
#  local archive.
resource "aws_cloudwatch_event_archive" "agents" {
  name             = "${local.name}-archive"
  description      = "All events of ${var.event_bus_name}"
  event_source_arn = aws_cloudwatch_event_bus.agents.arn
  retention_days   = var.archive_retention_days
}
