#!/bin/sh
#  Every schema in schemas/ stays inside the keyword subset that JSON Schema
#  draft-4 and draft-07 read the same way: terraform registers these files in
#  the EventBridge schema registry as JSONSchemaDraft4, while the broker
#  validates them as draft-07. Also: each event schema names its type with
#  single-valued enums (source, detail-type, detail.schema_version), each
#  type has a valid and an invalid example (one compact JSON event a line),
#  and every file is in schemas/Makemodule.am. The lint checks itself first
#  on a few bad schemas.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/lint.py" <<'PY'
import json, os, re, sys

ALLOWED = {
    "$schema", "title", "description", "default", "type", "properties", "required", "enum",
    "items", "additionalProperties", "patternProperties", "dependencies", "pattern", "minLength",
    "maxLength", "minimum", "maximum", "minItems", "maxItems", "minProperties", "maxProperties",
    "uniqueItems", "multipleOf", "format", "$ref", "definitions", "allOf", "anyOf", "oneOf", "not",
}
#  Named so the message says why, not just "unknown".
WHY = {
    "const": "draft-06+ (use a one-valued enum)",
    "contains": "draft-06+",
    "propertyNames": "draft-06+",
    "if": "draft-07 only", "then": "draft-07 only", "else": "draft-07 only",
    "examples": "draft-06+",
    "$comment": "draft-07 only",
    "$id": "draft-06+ (and id means something else in draft-4)",
    "id": "draft-4 only",
    "exclusiveMinimum": "boolean in draft-4, number in draft-07",
    "exclusiveMaximum": "boolean in draft-4, number in draft-07",
    "additionalItems": "only with tuple items, which are not in the subset",
    "contentMediaType": "draft-07 only", "contentEncoding": "draft-07 only",
    "readOnly": "draft-07 only", "writeOnly": "draft-07 only",
}
FORMATS = {"date-time", "email", "hostname", "ipv4", "ipv6", "uri"}
TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
SCHEMAS = {"http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-04/schema#"}

problems = []

def bad(where, message):
    problems.append(f"{where}: {message}")

def schema(node, where, root, is_root=False):
    if not isinstance(node, dict):
        bad(where, "a schema must be an object (no boolean schemas in draft-4)")
        return
    for key, value in node.items():
        at = f"{where}/{key}"
        if key not in ALLOWED:
            bad(at, f"keyword not in the draft-4 subset: {WHY.get(key, 'unknown keyword')}")
            continue
        if key == "$schema":
            if not is_root or value not in SCHEMAS:
                bad(at, "$schema only at the root, the draft-07 or draft-04 URI")
        elif key in ("title", "description"):
            if not isinstance(value, str):
                bad(at, "must be a string")
        elif key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or any(n not in TYPES for n in names) or len(set(names)) != len(names):
                bad(at, "must be a type name or a non-empty array of unique ones")
        elif key in ("properties", "patternProperties", "definitions"):
            if not isinstance(value, dict):
                bad(at, "must be an object of schemas")
                continue
            for name, sub in value.items():
                if key == "patternProperties":
                    try:
                        re.compile(name)
                    except re.error as e:
                        bad(f"{at}/{name}", f"bad pattern: {e}")
                schema(sub, f"{at}/{name}", root)
        elif key == "required":
            if (not isinstance(value, list) or not value or len(set(value)) != len(value)
                    or not all(isinstance(n, str) for n in value)):
                bad(at, "must be a non-empty array of unique strings (draft-4)")
        elif key == "enum":
            if not isinstance(value, list) or not value:
                bad(at, "must be a non-empty array")
            elif len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
                bad(at, "values must be unique")
        elif key in ("items", "not"):
            schema(value, at, root)
        elif key == "additionalProperties":
            if not isinstance(value, bool):
                schema(value, at, root)
        elif key == "dependencies":
            if not isinstance(value, dict):
                bad(at, "must be an object")
                continue
            for name, sub in value.items():
                if isinstance(sub, list):
                    if not sub:
                        bad(f"{at}/{name}", "property dependencies must be non-empty (draft-4)")
                else:
                    schema(sub, f"{at}/{name}", root)
        elif key in ("allOf", "anyOf", "oneOf"):
            if not isinstance(value, list) or not value:
                bad(at, "must be a non-empty array of schemas")
                continue
            for i, sub in enumerate(value):
                schema(sub, f"{at}/{i}", root)
        elif key == "pattern":
            try:
                re.compile(value)
            except (re.error, TypeError) as e:
                bad(at, f"bad pattern: {e}")
        elif key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties",
                     "maxProperties"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                bad(at, "must be a non-negative integer")
        elif key in ("minimum", "maximum"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                bad(at, "must be a number")
        elif key == "multipleOf":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                bad(at, "must be a number above 0")
        elif key == "uniqueItems":
            if not isinstance(value, bool):
                bad(at, "must be a boolean")
        elif key == "format":
            if value not in FORMATS:
                bad(at, f"format {value!r} is not one draft-4 defines ({', '.join(sorted(FORMATS))})")
        elif key == "$ref":
            if not isinstance(value, str) or not value.startswith("#/definitions/"):
                bad(at, "only local references to #/definitions/...")
            elif value[len("#/definitions/"):] not in root.get("definitions", {}):
                bad(at, f"{value} does not exist")
            extra = set(node) - {"$ref", "description", "title"}
            if extra:
                bad(at, f"keywords beside $ref are ignored by both drafts: {sorted(extra)}")

def one_value(doc, path):
    node = doc
    for step in path:
        node = node.get(step, {}) if isinstance(node, dict) else {}
    enum = node.get("enum") if isinstance(node, dict) else None
    return enum[0] if isinstance(enum, list) and len(enum) == 1 else None

def lint_tree(top):
    files = []
    if os.path.exists(os.path.join(top, "envelope.json")):
        files.append("envelope.json")
    for sub in ("events", "config"):
        if os.path.isdir(os.path.join(top, sub)):
            files += [f"{sub}/{n}" for n in sorted(os.listdir(os.path.join(top, sub)))
                      if n.endswith(".json")]
    types = {}
    for name in files:
        try:
            doc = json.load(open(os.path.join(top, name), encoding="utf-8"))
        except (OSError, ValueError) as e:
            bad(name, f"not JSON: {e}")
            continue
        schema(doc, name + ":", doc, is_root=True)
        if not name.startswith("events/"):
            continue
        key = tuple(one_value(doc, p) for p in (
            ("properties", "source"), ("properties", "detail-type"),
            ("properties", "detail", "properties", "schema_version")))
        if None in key:
            bad(name, "does not name its type with one-valued enums on source, detail-type "
                      "and detail.schema_version")
        elif key in types:
            bad(name, f"type {key} is also defined by {types[key]}")
        else:
            types[key] = name
        slug = os.path.basename(name).rsplit("-", 1)[0]
        for kind in ("valid", "invalid"):
            example = os.path.join(top, "examples", f"{slug}.{kind}.json")
            if not os.path.exists(example):
                bad(name, f"no example examples/{slug}.{kind}.json")
                continue
            for number, line in enumerate(open(example, encoding="utf-8"), 1):
                try:
                    json.loads(line)
                except ValueError as e:
                    bad(f"examples/{slug}.{kind}.json:{number}", f"not one JSON event a line: {e}")
    return files

top = sys.argv[1]
files = lint_tree(top)
if len(sys.argv) > 2:
    listed = open(sys.argv[2]).read()
    for root, _, names in os.walk(top):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), os.path.dirname(top))
            if n.endswith(".json") and rel not in listed:
                bad(rel, "not listed in schemas/Makemodule.am")
for p in problems:
    print(p)
print(f"schema-subset: {len(files)} schema files, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY

#  The lint catches what it should.
mkdir -p "$tmp/bad/events"
cat > "$tmp/bad/envelope.json" <<'JSON'
{"type": "object", "required": [], "properties": {"a": {"const": 1}, "b": true,
 "c": {"exclusiveMinimum": 0}, "d": {"$ref": "#/definitions/none"},
 "e": {"if": {}, "then": {}}, "f": {"format": "uuid"}, "g": {"items": [{}]}}}
JSON
echo '{"properties": {"source": {"enum": ["a", "b"]}}}' > "$tmp/bad/events/x-1.0.json"
"$PYTHON3" "$tmp/lint.py" "$tmp/bad" > "$tmp/bad.out"
for expect in /required: /a/const: /b: /c/exclusiveMinimum: /d/\$ref: /e/if: /f/format: \
              /g/items: 'one-valued enums' 'no example examples/x.valid.json'; do
    grep -q -- "$expect" "$tmp/bad.out" || {
        echo "FAIL: the lint did not report $expect:"; cat "$tmp/bad.out"; exit 1; }
done

"$PYTHON3" "$tmp/lint.py" "$CAB_SRCDIR/schemas" "$CAB_SRCDIR/schemas/Makemodule.am"
