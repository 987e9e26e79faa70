#!/usr/bin/env python3
"""Generate the typed event layer of libcabruca from the event schemas:
core/include/cab_events.h (enums, constructors, setters, documented) and
core/src/cab_events.c (their bodies: tables for cab_events_support.c).

Usage: python3 core/src/gen_events.py [SCHEMAS_DIR [HEADER [SOURCE]]]
Defaults: schemas, core/include/cab_events.h, core/src/cab_events.c (run from
the top of the tree). The output is checked in, so building needs no Python;
tests/meta/events-generated.sh regenerates it and fails on any difference.
The output is already in the house format (clang-format leaves it as is).

For each event type in TYPES: an enum for every enumerated string field, with
_name and _parse; a constructor taking agent_id and the required fields; a
setter for every optional field (set_NAME), every member of an object field
(set_OBJECT_MEMBER, plus set_OBJECT for the object's required members), every
array field (add_ITEM, one item a call) and every map field (set_ENTRY, one
entry a call), and a reader for every enum field (PREFIX_FIELD). Each value
is checked at run time against the field's schema, cut from the schema file
here ($refs inlined) and embedded as JSON text.
A schema shape the generator does not know is an error, not a silent gap.
"""
import json
import keyword
import os
import sys
import textwrap

#  (schema file, C prefix). One version per type; a new version of a type
#  gets its own entry with its own prefix (e.g. issue_detection_v2).
TYPES = [
    ("issue-detection-1.0.json", "issue_detection"),
    ("feature-request-1.0.json", "feature_request"),
    ("code-change-1.0.json", "code_change"),
    ("test-results-1.0.json", "test_results"),
    ("agent-lifecycle-1.0.json", "agent_lifecycle"),
    ("budget-threshold-1.0.json", "budget_threshold"),
    ("delivery-dead-lettered-1.0.json", "delivery_dead_lettered"),
]

#  Enum type names, by (prefix, field path). Unlisted enums are named
#  PREFIX_FIELD; names must stay unique across all types.
ENUMS = {
    ("issue_detection", "severity"): "severity",
    ("feature_request", "priority"): "priority",
    ("feature_request", "feature_type"): "feature_type",
    ("feature_request", "estimated_impact/level"): "impact_level",
    ("code_change", "change_type"): "change_type",
    ("code_change", "status"): "change_status",
    ("test_results", "test_type"): "test_type",
    ("test_results", "status"): "test_status",
    ("agent_lifecycle", "state"): "lifecycle_state",
    ("budget_threshold", "scope"): "budget_scope",
    ("budget_threshold", "unit"): "budget_unit",
    ("budget_threshold", "action"): "budget_action",
    ("delivery_dead_lettered", "queue"): "dead_letter_queue",
    ("delivery_dead_lettered", "reason"): "dead_letter_reason",
}

#  Detail fields every event has, set through cab_event (cab_event_new,
#  cab_event_set_correlation_id, cab_event_set_cause): no typed setters.
#  agent_id is each constructor's first argument.
COMMON = ("schema_version", "agent_id", "correlation_id", "causation_id")

#  Names a generated enum must not take (existing cab_ functions).
RESERVED = {"status", "event", "error", "schema", "pattern", "registry", "client", "agent"}

WIDTH = 100
C_TYPES = {"string": "const char *", "integer": "int64_t", "number": "double",
           "boolean": "bool"}
VALUE_MACROS = {"string": "CABI_STRING", "integer": "CABI_INTEGER", "number": "CABI_NUMBER",
                "boolean": "CABI_BOOLEAN"}


class GenError(Exception):
    pass


def inline(node, definitions):
    """The schema with local $refs replaced by their definitions, and the
    words for people (description, title) left out."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/definitions/"):
                raise GenError(f"only local $refs to #/definitions are supported: {ref}")
            return inline(definitions[ref[len("#/definitions/"):]], definitions)
        return {k: inline(v, definitions) for k, v in node.items()
                if k not in ("description", "title")}
    if isinstance(node, list):
        return [inline(v, definitions) for v in node]
    return node


def c_literal_lines(text, first_indent):
    """JSON text as C string literal pieces, each line within WIDTH."""
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            escaped.append(ch)
        else:
            raise GenError(f"non-ASCII character in a schema: {ch!r}")
    pieces, current = [], ""
    room = WIDTH - first_indent - 3  # quotes and the trailing comma
    for token in escaped:
        if len(current) + len(token) > room:
            #  Break after a comma when there is one in the second half.
            cut = current.rfind(",") + 1
            if cut <= room // 2:
                cut = len(current)
            pieces.append(current[:cut])
            current = current[cut:]
        current += token
    pieces.append(current)
    return ['"%s"' % p for p in pieces]


def singular(name):
    """files_changed -> file_changed, failed_tests -> failed_test."""
    words = name.split("_")
    for i in range(len(words) - 1, -1, -1):
        w = words[i]
        if w.endswith("s") and not w.endswith("ss") and len(w) > 1:
            words[i] = w[:-1]
            return "_".join(words)
    return name


def c_name(name):
    if keyword.iskeyword(name) or name in ("int", "char", "long", "short", "double", "float",
                                            "signed", "unsigned", "default", "register",
                                            "auto", "static", "extern", "const", "volatile",
                                            "struct", "union", "enum", "typedef", "sizeof",
                                            "switch", "case", "goto", "do", "void", "self",
                                            "error", "values", "key"):
        return name + "_"
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise GenError(f"field name is not a C identifier: {name}")
    return name


def comment(text, indent=""):
    lines = textwrap.wrap(text, WIDTH - len(indent) - 4, break_long_words=False,
                          break_on_hyphens=False)
    for line in lines:
        if line.endswith("\\"):
            raise GenError(f"a comment line may not end in a backslash: {line}")
    return "".join(f"{indent}//  {line}\n" for line in lines)


def pack(head, params, tail, indent=""):
    """Bin-pack a parameter list as clang-format does: `head (a, b,` then
    lines aligned after the parenthesis, each within WIDTH."""
    first = f"{indent}{head} ("
    align = " " * len(first)
    lines, current = [], first
    for i, param in enumerate(params):
        piece = param + ("," if i < len(params) - 1 else ")" + tail)
        candidate = current + ("" if current.endswith("(") else " ") + piece
        if len(candidate) > WIDTH and not current.endswith("("):
            lines.append(current)
            current = align + piece
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines) + "\n"


class Enum:
    def __init__(self, name, values, where, doc):
        self.name = name            # e.g. severity
        self.ctype = f"cab_{name}_t"
        self.values = values
        self.where = where          # e.g. Issue Detection severity
        self.doc = doc

    def constant(self, value):
        token = "".join(c if c.isalnum() else "_" for c in value).upper()
        return f"CAB_{self.name.upper()}_{token}"


def describe(original, schema):
    """Words for a value's constraints, from its schema."""
    ref = original.get("$ref", "") if isinstance(original, dict) else ""
    if ref.endswith("/uuid"):
        return "a UUID"
    if ref.endswith("/time"):
        return "an ISO 8601 UTC time"
    kind = schema.get("type")
    if kind == "string":
        words = "a string"
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if lo and hi is not None:
            words += f" of {lo} to {hi} characters"
        elif hi is not None:
            words += f" of at most {hi} characters"
        elif lo:
            words += f" of at least {lo} characters"
        if "pattern" in schema:
            words += f" matching {schema['pattern']}"
        if "format" in schema:
            words += f" ({schema['format']})"
        return words
    if kind in ("integer", "number"):
        words = "an integer" if kind == "integer" else "a number"
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and hi is not None:
            words += f" from {lo} to {hi}"
        elif lo is not None:
            words += f" >= {lo}"
        elif hi is not None:
            words += f" <= {hi}"
        return words
    if kind == "boolean":
        return "a boolean"
    raise GenError(f"cannot describe {schema}")


class Param:
    def __init__(self, name, kind, enum=None, optional=False):
        self.name = c_name(name)
        self.kind = kind  # string, integer, number, boolean, enum
        self.enum = enum
        self.optional = optional

    def decl(self):
        if self.enum:
            return f"{self.enum.ctype} {self.name}"
        ctype = C_TYPES[self.kind]
        return f"{ctype}{'' if ctype.endswith('*') else ' '}{self.name}"

    def value(self):
        if self.enum:
            return f"CABI_ENUM (cab_{self.enum.name}_name ({self.name}), {self.name})"
        return f"{VALUE_MACROS[self.kind]} ({self.name})"


class Field:
    """One settable thing: a static cabi_field_t and one public function."""

    def __init__(self, type_, op, name, schema, function, params, doc, members=None,
                 limit=0, unique=False, key=None):
        self.type = type_
        self.op = op
        self.name = name
        self.schema = schema
        self.function = function
        self.params = params
        self.doc = doc
        self.members = members
        self.limit = limit
        self.unique = unique
        self.key = key
        self.static = f"s_{type_.prefix}_{function}"


class EventType:
    def __init__(self, path, prefix, enums):
        self.prefix = prefix
        self.file = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            self.doc = json.load(f)
        props = self.doc["properties"]
        self.source = props["source"]["enum"][0]
        self.detail_type = props["detail-type"]["enum"][0]
        detail = props["detail"]
        self.version = detail["properties"]["schema_version"]["enum"][0]
        self.description = self.doc.get("description", "")
        self.definitions = self.doc.get("definitions", {})
        self.detail = detail
        self.enums = []
        self.fields = []
        self.required = []
        self.all_enums = enums
        self.build()

    def enum_for(self, path, schema, doc):
        name = ENUMS.get((self.prefix, path), f"{self.prefix}_{path.replace('/', '_')}")
        if name in RESERVED or name in self.all_enums:
            raise GenError(f"enum name {name} for {self.prefix} {path} is taken")
        if not all(isinstance(v, str) for v in schema["enum"]):
            raise GenError(f"{self.prefix} {path}: only string enums are supported")
        enum = Enum(name, schema["enum"], f"{self.detail_type} {path.replace('/', '.')}", doc)
        enum.path = path
        self.all_enums[name] = enum
        self.enums.append(enum)
        return enum

    def param(self, path, name, original, optional=False):
        schema = inline(original, self.definitions)
        doc = original.get("description", "")
        if "enum" in schema:
            return Param(name, "enum", self.enum_for(path, schema, doc), optional)
        kind = schema.get("type")
        if kind not in C_TYPES:
            raise GenError(f"{self.prefix} {path}: a {kind} cannot be a plain argument")
        return Param(name, kind, None, optional)

    def what(self, original, param):
        """The constraint: "a string of 1 to 64 characters matching ..."."""
        if param.enum:
            return f"one of the {param.enum.ctype} values"
        return describe(original, inline(original, self.definitions))

    def words(self, original, param):
        """The description and the constraint: "how bad it is: one of ..."."""
        text = sentence(original.get("description", "")).rstrip(".")
        what = self.what(original, param)
        return f"{text}: {what}" if text else what

    def set_doc(self, path, original, param):
        text = sentence(original.get("description", "")).rstrip(".")
        what = self.what(original, param)
        return f"Set {path} ({text}) to {what}." if text else f"Set {path} to {what}."

    def build(self):
        props = self.detail["properties"]
        required = self.detail.get("required", [])
        for name in required:
            if name not in props:
                raise GenError(f"{self.file}: required {name} has no schema")
        #  The constructor: agent_id, then the required fields in order.
        for name in ["agent_id"] + [n for n in required if n not in COMMON]:
            original = props[name]
            param = self.param(name, name, original)
            self.required.append((name, original, param))
        for name, original in props.items():
            if name in COMMON or name in required:
                continue
            self.optional(name, original)

    def optional(self, name, original):
        schema = inline(original, self.definitions)
        kind = schema.get("type")
        path = f"/detail/{name}"
        text = sentence(original.get("description", "")).rstrip(".")
        if "enum" in schema or kind in C_TYPES:
            param = self.param(name, "value", original)
            self.fields.append(Field(
                self, "CABI_SET", name, schema, f"set_{name}", [param],
                self.set_doc(path, original, param) + " Replaces an earlier value."))
        elif kind == "array":
            items_original = original.get("items", {})
            items = schema.get("items", {})
            limit = schema.get("maxItems", 0)
            unique = bool(schema.get("uniqueItems", False))
            bound = f" At most {limit} items" if limit else ""
            bound += " (no two equal)" if unique else ""
            bound += "." if bound else ""
            function = f"add_{singular(name)}"
            if items.get("type") == "object":
                members, params = [], []
                need = items.get("required", [])
                parts = []
                for member, m_original in items_original.get("properties", {}).items():
                    param = self.param(f"{name}/{member}", member, m_original,
                                       optional=member not in need)
                    if param.kind != "string" or param.enum:
                        raise GenError(f"{self.prefix} {name}: items of objects may only "
                                       "have plain string members")
                    members.append(member)
                    params.append(param)
                    parts.append(f"{member} ({self.words(m_original, param)}"
                                 + ("" if member in need else "; NULL to leave it out") + ")")
                self.fields.append(Field(
                    self, "CABI_ADD", name, items, function, params,
                    f"Append an item to {path} ({text}): " + ", ".join(parts) + "." + bound,
                    members=members, limit=limit, unique=unique))
            else:
                param = self.param(f"{name}/items", "value", items_original)
                self.fields.append(Field(
                    self, "CABI_ADD", name, items, function, [param],
                    f"Append an item to {path} ({text}): "
                    f"{self.words(items_original, param)}.{bound}",
                    limit=limit, unique=unique))
        elif kind == "object" and "properties" not in schema:
            entry_original = original.get("additionalProperties")
            if not isinstance(entry_original, dict):
                raise GenError(f"{self.prefix} {name}: an object needs properties or "
                               "additionalProperties")
            entry = schema["additionalProperties"]
            param = self.param(f"{name}/entry", "value", entry_original)
            limit = schema.get("maxProperties", 0)
            bound = f" At most {limit} entries; setting a name again replaces its value." \
                if limit else " Setting a name again replaces its value."
            self.fields.append(Field(
                self, "CABI_PUT", name, entry, f"set_{singular(name)}",
                [Param("name", "string"), param],
                f"Set the entry `name` of {path} ({text}) to "
                f"{self.words(entry_original, param)}.{bound}",
                limit=limit, key="name"))
        elif kind == "object":
            need = schema.get("required", [])
            members = original["properties"]
            if need:
                params, parts = [], []
                for member in need:
                    param = self.param(f"{name}/{member}", member, members[member])
                    params.append(param)
                    parts.append(f"{member} ({self.words(members[member], param)})")
                self.fields.append(Field(
                    self, "CABI_MEMBER", name, schema, f"set_{name}", params,
                    f"Set {path} ({text}) with its required members: " + ", ".join(parts)
                    + f". Members set before are kept. The other members of {name} have "
                    f"setters of their own, which need this one called first.",
                    members=need))
            for member, m_original in members.items():
                if member in need:
                    continue
                param = self.param(f"{name}/{member}", "value", m_original)
                if param.kind not in C_TYPES and not param.enum:
                    raise GenError(f"{self.prefix} {name}/{member}: unsupported member")
                self.fields.append(Field(
                    self, "CABI_MEMBER", name, schema, f"set_{name}_{member}", [param],
                    self.set_doc(f"{path}/{member}", m_original, param)
                    + ("" if need else f" Creates {name} when it is not there yet."),
                    members=[member]))
        else:
            raise GenError(f"{self.prefix} {name}: cannot generate a setter for {schema}")


HEADER_TOP = """\
/*  =========================================================================
    cab_events - typed events: enums, constructors and setters for every
    event type in schemas/events

    GENERATED by core/src/gen_events.py from the files in schemas/events.
    Do not edit by hand: change the schema, re-run the generator
    (python3 core/src/gen_events.py), check both files in.
    tests/meta/events-generated.sh fails when they differ from the schemas.

    For each event type: an enum for each field with a fixed set of values
    (a misspelt value does not compile; one of another enum is a warning,
    -Wenum-conversion), a constructor that takes agent_id and the required
    fields, a setter for each optional field, and a reader for each enum
    field (cab_code_change_status (received, &status)):
        cab_event_t *e = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_HIGH,
                                                  "disk_full", "/var is 97% full", &error);
        rc = cab_issue_detection_add_affected_resource (e, "/var", &error);
        rc = cab_issue_detection_set_metric (e, "disk_used_percent", 97.2, &error);
    Each function checks its values against the field's schema (the schema
    file's own text, compiled once per process) before it changes anything,
    and returns, or fills error with:
        CAB_ERR_SCHEMA_VIOLATION  a value breaks its schema: length, pattern,
                                  range, an enum value out of range, too many
                                  items, an object without its required
                                  members; error->path is the JSON Pointer of
                                  the value, e.g. /detail/issue_type
        CAB_ERR_INVALID_ARGUMENT  a NULL event, or NULL for a string
        CAB_ERR_INVALID_UTF8      a string that is not UTF-8
        CAB_ERR_NOMEM             out of memory
    A setter that fails leaves the event as it was; a constructor that fails
    returns NULL. Each event starts with its own id as correlation id; to
    continue a chain, call cab_event_set_cause (event, the event handled).
    The enums count from 0 in the schema's order (so CAB_SEVERITY_LOW <
    CAB_SEVERITY_CRITICAL); each ends with a _COUNT_ that is not a value.
    =========================================================================
*/
#ifndef CAB_EVENTS_H_INCLUDED
#define CAB_EVENTS_H_INCLUDED

#include "cab_status.h"
#include "cab_event.h"
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
"""

HEADER_END = """\
#ifdef __cplusplus
}
#endif

#endif
"""

SOURCE_TOP = """\
/*  =========================================================================
    cab_events - typed events: enums, constructors and setters for every
    event type in schemas/events

    GENERATED by core/src/gen_events.py from the files in schemas/events.
    Do not edit by hand: change the schema, re-run the generator.
    Each field is a table entry (its schema as JSON text, $refs inlined);
    cab_events_support.c turns values into JSON, checks and sets them.
    =========================================================================
*/
#include "cab_events_internal.h"

"""


def prototype(ret, name, params, doc):
    decl = [p.decl() for p in params]
    out = comment(doc)
    out += ret + "\n"
    out += pack("    " + name, decl + ["cab_error_t *error"], ";")
    return out


def definition(ret, name, params):
    decl = [p.decl() for p in params]
    return ret + "\n" + pack(name, decl + ["cab_error_t *error"], "")


def sentence(text):
    """A schema description after a colon: "How bad it is." -> "how bad it is."."""
    text = text.strip().rstrip(".") + "."
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def article(word):
    return "an" if word[:1].lower() in "aeiou" else "a"


def aligned(rows):
    """Lines of code with trailing comments, aligned as clang-format does
    (a trailing comment also keeps clang-format from packing a list)."""
    width = max(len(code) for code, _ in rows)
    return "".join(f"{code}{' ' * (width - len(code))}  //  {note}\n" for code, note in rows)


def values_block(params):
    out = "    cabi_value_t values[] = {\n"
    for p in params:
        out += f"        {p.value()},\n"
    out += "    };\n"
    return out


def field_table(field):
    out = f"static cabi_field_t {field.static} = {{\n"
    out += f"    .op = {field.op},\n"
    out += f'    .name = "{field.name}",\n'
    if field.members:
        names = ", ".join(f'"{m}"' for m in field.members)
        line = f"    .members = (const char *const[]){{{names}, NULL}},\n"
        if len(line) > WIDTH + 1:
            raise GenError(f"{field.static}: member list too long for one line")
        out += line
    if field.limit:
        out += f"    .limit = {field.limit},\n"
    if field.unique:
        out += "    .unique = true,\n"
    text = json.dumps(field.schema, separators=(",", ":"), ensure_ascii=True)
    lines = c_literal_lines(text, len("    .schema = "))
    out += "    .schema = " + lines[0]
    for line in lines[1:]:
        out += "\n              " + line
    out += ",\n};\n\n"
    return out


def generate(schemas_dir):
    enums = {}
    types = [EventType(os.path.join(schemas_dir, "events", f), p, enums) for f, p in TYPES]
    names = set()
    header, source = [HEADER_TOP], [SOURCE_TOP]
    for t in types:
        title = f"{t.detail_type} (source {t.source}, schema {t.version}, {t.file})"
        header.append("\n//  " + "-" * 69 + "\n")
        header.append(comment(f"{title}: {t.description}"))
        source.append("//  " + "-" * 69 + "\n//  " + title + "\n\n")
        for e in t.enums:
            header.append("\n" + comment(f"{e.where}: {sentence(e.doc)}"))
            header.append("typedef enum {\n")
            rows = [(f"    {e.constant(v)}{' = 0' if i == 0 else ''},", f'"{v}"')
                    for i, v in enumerate(e.values)]
            rows.append((f"    CAB_{e.name.upper()}_COUNT_", "Not a value: one past the last"))
            header.append(aligned(rows))
            header.append(f"}} {e.ctype};\n\n")
            header.append(comment(f"Return the schema's name of value (\"{e.values[0]}\", ...), or "
                                  f"NULL when it is not a {e.ctype}. Static: never free it."))
            header.append(f"const char *\n    cab_{e.name}_name ({e.ctype} value);\n\n")
            header.append(comment(
                f"Set *value_p (when not NULL) to the {e.ctype} called name (exact case). "
                f"Returns CAB_OK, or CAB_ERR_INVALID_ARGUMENT for NULL or an unknown name "
                f"(*value_p unchanged)."))
            header.append(f"cab_status_t\n    cab_{e.name}_parse (const char *name, "
                          f"{e.ctype} *value_p);\n")
            reader = f"cab_{t.prefix}_{e.path.replace('/', '_')}"
            header.append("\n" + comment(
                f"Read {e.ctype} *value_p (when not NULL) from /detail/{e.path} of "
                f"{article(t.detail_type)} {t.detail_type} event, e.g. one received (borrowed, "
                f"not changed). Returns "
                f"CAB_OK; CAB_ERR_INVALID_ARGUMENT for a NULL event or one of another type "
                f"(source or detail-type); CAB_ERR_NOT_FOUND when the field is absent; "
                f"CAB_ERR_SCHEMA_VIOLATION when it is not one of the names. On error *value_p "
                f"is left alone."))
            header.append(f"cab_status_t\n    {reader} (cab_event_t *event, "
                          f"{e.ctype} *value_p);\n")
            source.append(f"static const char *const s_{e.name}_names[] = {{\n")
            source.append(aligned([(f'    "{v}",', e.constant(v)) for v in e.values]))
            source.append("};\n\n")
            source.append(f"const char *\ncab_{e.name}_name ({e.ctype} value)\n{{\n")
            source.append(f"    return cabi_enum_name (s_{e.name}_names, "
                          f"CAB_{e.name.upper()}_COUNT_, (int)value);\n}}\n\n")
            source.append(f"cab_status_t\ncab_{e.name}_parse (const char *name, "
                          f"{e.ctype} *value_p)\n{{\n")
            source.append(f"    int value = cabi_enum_parse (s_{e.name}_names, "
                          f"CAB_{e.name.upper()}_COUNT_, name);\n")
            source.append("    if (value < 0)\n        return CAB_ERR_INVALID_ARGUMENT;\n")
            source.append(f"    if (value_p)\n        *value_p = ({e.ctype})value;\n")
            source.append("    return CAB_OK;\n}\n\n")

        #  The constructor.
        parts = []
        for name, original, param in t.required:
            parts.append(f"{name} ({t.words(original, param)})")
        params = [p for _, _, p in t.required]
        ctor = f"cab_{t.prefix}_new"
        header.append("\n" + prototype(
            "cab_event_t *", ctor, params,
            f"Create {article(t.detail_type)} {t.detail_type} event with its required fields: "
            + "; ".join(parts) + ". The envelope is cab_event_new's (a new id, which is "
            "also the correlation id; the time now). Returns NULL and fills error when a value "
            "breaks the schema (error->path names it) or memory runs out. Caller owns the "
            "return value and must destroy it."))
        for name, original, param in t.required:
            schema = inline(original, t.definitions)
            f = Field(t, "CABI_SET", name, schema, f"new_{name}", [param], "")
            source.append(field_table(f))
        source.append(f"static cabi_field_t *const s_{t.prefix}_required[] = {{\n")
        source.append(aligned([(f"    &s_{t.prefix}_new_{name},", f"argument {i + 1}")
                               for i, (name, _, _) in enumerate(t.required)]
                              + [("    NULL,", "end")]))
        source.append("};\n\n")
        source.append(f"static const cabi_event_type_t s_{t.prefix} = {{\n")
        source.append(f'    .source = "{t.source}",\n')
        source.append(f'    .detail_type = "{t.detail_type}",\n')
        source.append(f'    .schema_version = "{t.version}",\n')
        source.append(f"    .required = s_{t.prefix}_required,\n}};\n\n")
        source.append(definition("cab_event_t *", ctor, params))
        source.append("{\n" + values_block(params))
        source.append(f"    return cabi_typed_new (&s_{t.prefix}, values, error);\n}}\n\n")
        names.add(ctor)

        for e in t.enums:
            reader = f"cab_{t.prefix}_{e.path.replace('/', '_')}"
            if reader in names:
                raise GenError(f"two functions named {reader}")
            names.add(reader)
            parent, _, member = e.path.rpartition("/")
            source.append(f"static const cabi_enum_field_t s_{e.name}_read = {{\n")
            source.append(f"    .type = &s_{t.prefix},\n")
            source.append(f'    .name = "{parent or e.path}",\n')
            if parent:
                source.append(f'    .member = "{member}",\n')
            source.append(f"    .names = s_{e.name}_names,\n")
            source.append(f"    .count = CAB_{e.name.upper()}_COUNT_,\n}};\n\n")
            source.append(f"cab_status_t\n{reader} (cab_event_t *event, {e.ctype} *value_p)\n{{\n")
            source.append("    int value;\n")
            call = f"    cab_status_t rc = cabi_typed_get_enum (event, &s_{e.name}_read, &value);"
            if len(call) > WIDTH:
                raise GenError(f"enum name {e.name} too long for the reader's call")
            source.append(call + "\n")
            source.append("    if (rc == CAB_OK && value_p)\n")
            source.append(f"        *value_p = ({e.ctype})value;\n")
            source.append("    return rc;\n}\n\n")

        for f in t.fields:
            function = f"cab_{t.prefix}_{f.function}"
            if function in names:
                raise GenError(f"two functions named {function}")
            names.add(function)
            self_param = Param("self", "string")
            header.append("\n" + comment(f.doc + " Returns CAB_OK or an error (above)."))
            header.append("cab_status_t\n")
            header.append(pack("    " + function, ["cab_event_t *self"]
                               + [p.decl() for p in f.params] + ["cab_error_t *error"], ";"))
            source.append(field_table(f))
            source.append("cab_status_t\n")
            source.append(pack(function, ["cab_event_t *self"] + [p.decl() for p in f.params]
                               + ["cab_error_t *error"], ""))
            value_params = [p for p in f.params if f.key is None or p.name != f.key]
            key = f.key if f.key else "NULL"
            source.append("{\n" + values_block(value_params))
            source.append(pack("    return cabi_typed_set",
                               ["self", f"&{f.static}", key, "values", "error"], ";"))
            source.append("}\n\n")
            del self_param
    header.append("\n" + HEADER_END)
    return "".join(header), "".join(source).rstrip("\n") + "\n"


def main():
    schemas_dir = sys.argv[1] if len(sys.argv) > 1 else "schemas"
    header_path = sys.argv[2] if len(sys.argv) > 2 else "core/include/cab_events.h"
    source_path = sys.argv[3] if len(sys.argv) > 3 else "core/src/cab_events.c"
    try:
        header, source = generate(schemas_dir)
    except (GenError, KeyError, OSError, ValueError) as e:
        print(f"gen_events.py: {e}", file=sys.stderr)
        return 1
    for path, text in ((header_path, header), (source_path, source)):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
