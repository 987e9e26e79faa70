#  One schema per file in ../schemas/events, registered as JSONSchemaDraft4:
#  the files stay inside the subset draft-4 and draft-07 read alike
#  (tests/meta/schema-subset.sh), so only the $schema URI is swapped.
locals {
  event_schema_files = fileset("${local.schemas_dir}/events", "*.json")
}

resource "aws_schemas_registry" "cabruca" {
  name        = "${local.name}-events"
  description = "cabruca event types, from schemas/events"
}

resource "aws_schemas_schema" "event" {
  for_each = local.event_schema_files

  name          = trimsuffix(each.value, ".json")
  registry_name = aws_schemas_registry.cabruca.name
  type          = "JSONSchemaDraft4"
  description   = substr(jsondecode(file("${local.schemas_dir}/events/${each.value}")).title, 0, 256)
  content = replace(
    file("${local.schemas_dir}/events/${each.value}"),
    "http://json-schema.org/draft-07/schema#",
    "http://json-schema.org/draft-04/schema#"
  )
}
