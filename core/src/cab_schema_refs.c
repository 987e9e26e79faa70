/*  =========================================================================
    cab_schema_refs - URIs, $id and $ref resolution for cab_schema

    Every document a schema uses (the root, the built-in metaschema, remote
    documents from the caller's resolver) is indexed once: each $id gives
    an identifier (an absolute URI, or a location-independent "uri#name")
    mapped to its subschema and the base URI its $id resolved against.
    A $ref is resolved against the base URI in effect (RFC 3986 section
    5.2), then found by identifier or by JSON Pointer fragment (RFC 6901,
    percent-decoded, ~0 and ~1 unescaped) from a document or $id root.
    libcabruca does no network I/O: remote documents come from the resolver.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include "cab_jsonscan.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  RFC 3986 references

typedef struct {
    const char *text;
    size_t length;
    bool present;
} s_part_t;

typedef struct {
    s_part_t scheme, authority, path, query, fragment;
} s_uri_t;

static void
s_uri_parse (const char *text, s_uri_t *uri)
{
    memset (uri, 0, sizeof *uri);
    const char *cursor = text;
    //  scheme: up to ':' if no '/', '?' or '#' comes first
    const char *scan = cursor;
    while (*scan && !strchr (":/?#", *scan))
        scan++;
    if (*scan == ':' && scan > cursor) {
        uri->scheme = (s_part_t){cursor, (size_t)(scan - cursor), true};
        cursor = scan + 1;
    }
    if (cursor[0] == '/' && cursor[1] == '/') {
        cursor += 2;
        scan = cursor;
        while (*scan && !strchr ("/?#", *scan))
            scan++;
        uri->authority = (s_part_t){cursor, (size_t)(scan - cursor), true};
        cursor = scan;
    }
    scan = cursor;
    while (*scan && !strchr ("?#", *scan))
        scan++;
    uri->path = (s_part_t){cursor, (size_t)(scan - cursor), true};
    cursor = scan;
    if (*cursor == '?') {
        scan = ++cursor;
        while (*scan && *scan != '#')
            scan++;
        uri->query = (s_part_t){cursor, (size_t)(scan - cursor), true};
        cursor = scan;
    }
    if (*cursor == '#')
        uri->fragment = (s_part_t){cursor + 1, strlen (cursor + 1), true};
}

//  RFC 3986 5.2.4, in place on a NUL-terminated buffer.
static void
s_remove_dot_segments (char *path)
{
    char *input = path, *output = path;
    while (*input) {
        if (strncmp (input, "../", 3) == 0)
            input += 3;
        else if (strncmp (input, "./", 2) == 0)
            input += 2;
        else if (strncmp (input, "/./", 3) == 0)
            input += 2;
        else if (strcmp (input, "/.") == 0) {
            input[1] = '\0';
        } else if (strncmp (input, "/../", 4) == 0 || strcmp (input, "/..") == 0) {
            input += 3;
            if (*input == '\0') {
                input--;
                *input = '/';
            }
            while (output > path && *--output != '/')
                ;
        } else if (strcmp (input, ".") == 0 || strcmp (input, "..") == 0)
            input += strlen (input);
        else {
            do
                *output++ = *input++;
            while (*input && *input != '/');
        }
    }
    *output = '\0';
}

char *
cabi_schema_uri_resolve (cabi_arena_t *arena, const char *base, const char *reference)
{
    s_uri_t b, r;
    s_uri_parse (base, &b);
    s_uri_parse (reference, &r);
    size_t size = strlen (base) + strlen (reference) + 8;
    char *path = cabi_schema_arena_alloc (arena, size);
    char *result = cabi_schema_arena_alloc (arena, size);
    if (!path || !result)
        return NULL;
    const s_part_t *scheme = &b.scheme, *authority = &b.authority, *query = &r.query;
    if (r.scheme.present) {
        scheme = &r.scheme;
        authority = &r.authority;
        snprintf (path, size, "%.*s", (int)r.path.length, r.path.text);
    } else if (r.authority.present) {
        authority = &r.authority;
        snprintf (path, size, "%.*s", (int)r.path.length, r.path.text);
    } else if (r.path.length == 0) {
        snprintf (path, size, "%.*s", (int)b.path.length, b.path.text);
        if (!r.query.present)
            query = &b.query;
    } else if (r.path.text[0] == '/')
        snprintf (path, size, "%.*s", (int)r.path.length, r.path.text);
    else if (b.authority.present && b.path.length == 0)
        snprintf (path, size, "/%.*s", (int)r.path.length, r.path.text);
    else {
        size_t keep = b.path.length;
        while (keep > 0 && b.path.text[keep - 1] != '/')
            keep--;
        snprintf (path, size, "%.*s%.*s", (int)keep, b.path.text, (int)r.path.length, r.path.text);
    }
    if (r.path.length > 0 || r.scheme.present || r.authority.present)
        s_remove_dot_segments (path);
    size_t length = 0;
    if (scheme->present)
        length += (size_t)snprintf (result + length, size - length, "%.*s:", (int)scheme->length,
                                    scheme->text);
    if (authority->present)
        length += (size_t)snprintf (result + length, size - length, "//%.*s",
                                    (int)authority->length, authority->text);
    length += (size_t)snprintf (result + length, size - length, "%s", path);
    if (query->present)
        length += (size_t)snprintf (result + length, size - length, "?%.*s", (int)query->length,
                                    query->text);
    if (r.fragment.present && r.fragment.length > 0)
        snprintf (result + length, size - length, "#%.*s", (int)r.fragment.length, r.fragment.text);
    return result;
}

const char *
cabi_schema_base_of (cabi_arena_t *arena, json_t *json, const char *parent_base)
{
    json_t *id = json_object_get (json, "$id");
    if (!json_is_string (id) || json_object_get (json, "$ref"))
        return parent_base;
    char *resolved = cabi_schema_uri_resolve (arena, parent_base, json_string_value (id));
    if (resolved) {
        char *hash = strchr (resolved, '#');
        if (hash)
            *hash = '\0';
    }
    return resolved;
}

char *
cabi_schema_pointer_append (cabi_arena_t *arena, const char *pointer, const char *token,
                            size_t length)
{
    size_t extra = 1;
    for (size_t index = 0; index < length; index++)
        extra += (token[index] == '~' || token[index] == '/') ? 2 : 1;
    size_t base = strlen (pointer);
    char *result = cabi_schema_arena_alloc (arena, base + extra + 1);
    if (!result)
        return NULL;
    memcpy (result, pointer, base);
    char *cursor = result + base;
    *cursor++ = '/';
    for (size_t index = 0; index < length; index++) {
        if (token[index] == '~' || token[index] == '/') {
            *cursor++ = '~';
            *cursor++ = token[index] == '~' ? '0' : '1';
        } else
            *cursor++ = token[index];
    }
    *cursor = '\0';
    return result;
}

//  ---------------------------------------------------------------------
//  Identifiers

static cab_status_t
s_nomem (cabi_compiler_t *compiler)
{
    return cab_error_set (compiler->error, CAB_ERR_NOMEM, NULL, "out of memory compiling schema");
}

static cabi_ident_t *
s_ident_find (cabi_compiler_t *compiler, const char *uri)
{
    for (size_t index = 0; index < compiler->ident_count; index++)
        if (strcmp (compiler->idents[index].uri, uri) == 0)
            return &compiler->idents[index];
    return NULL;
}

static cab_status_t
s_ident_add (cabi_compiler_t *compiler, const char *uri, json_t *json, const char *parent_base,
             const char *pointer)
{
    if (s_ident_find (compiler, uri))
        return CAB_OK;  //  The first one wins
    if (cabi_schema_grow ((void **)&compiler->idents, &compiler->ident_capacity,
                          compiler->ident_count + 1, sizeof (cabi_ident_t)))
        return s_nomem (compiler);
    compiler->idents[compiler->ident_count++] = (cabi_ident_t){uri, json, parent_base, pointer};
    return CAB_OK;
}

static cab_status_t s_index (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                             const char *pointer, int depth);

static cab_status_t
s_index_member (cabi_compiler_t *compiler, json_t *value, const char *base, const char *pointer,
                const char *key, size_t length, int depth)
{
    char *inner = cabi_schema_pointer_append (&compiler->schema->arena, pointer, key, length);
    if (!inner)
        return s_nomem (compiler);
    return s_index (compiler, value, base, inner, depth + 1);
}

//  Walk the subschemas of a schema object, registering $ids.
static cab_status_t
s_index (cabi_compiler_t *compiler, json_t *json, const char *parent_base, const char *pointer,
         int depth)
{
    static const char *single[] = {"additionalItems",
                                   "items",
                                   "additionalProperties",
                                   "contains",
                                   "propertyNames",
                                   "not",
                                   "if",
                                   "then",
                                   "else"};
    static const char *lists[] = {"items", "allOf", "anyOf", "oneOf"};
    static const char *maps[] = {"properties", "patternProperties", "definitions", "dependencies"};
    if (!json_is_object (json) || depth > CABI_SCHEMA_MAX_DEPTH)
        return CAB_OK;  //  Compilation reports what is wrong
    cabi_arena_t *arena = &compiler->schema->arena;
    const char *base = parent_base;
    json_t *id = json_object_get (json, "$id");
    cab_status_t status;
    if (json_is_string (id) && !json_object_get (json, "$ref")) {
        char *resolved = cabi_schema_uri_resolve (arena, parent_base, json_string_value (id));
        if (!resolved)
            return s_nomem (compiler);
        size_t length = strlen (resolved);
        if (length && resolved[length - 1] == '#')
            resolved[length - 1] = '\0';
        if ((status = s_ident_add (compiler, resolved, json, parent_base, pointer)))
            return status;
        if (!(base = cabi_schema_base_of (arena, json, parent_base)))
            return s_nomem (compiler);
    }
    for (size_t index = 0; index < sizeof single / sizeof single[0]; index++) {
        json_t *value = json_object_get (json, single[index]);
        if (value && (status = s_index_member (compiler, value, base, pointer, single[index],
                                               strlen (single[index]), depth)))
            return status;
    }
    for (size_t index = 0; index < sizeof lists / sizeof lists[0]; index++) {
        json_t *value = json_object_get (json, lists[index]);
        if (!json_is_array (value))
            continue;
        char *list =
            cabi_schema_pointer_append (arena, pointer, lists[index], strlen (lists[index]));
        if (!list)
            return s_nomem (compiler);
        for (size_t item = 0; item < json_array_size (value); item++) {
            char token[32];
            int length = snprintf (token, sizeof token, "%zu", item);
            if ((status = s_index_member (compiler, json_array_get (value, item), base, list, token,
                                          (size_t)length, depth)))
                return status;
        }
    }
    for (size_t index = 0; index < sizeof maps / sizeof maps[0]; index++) {
        json_t *value = json_object_get (json, maps[index]);
        if (!json_is_object (value))
            continue;
        char *map = cabi_schema_pointer_append (arena, pointer, maps[index], strlen (maps[index]));
        if (!map)
            return s_nomem (compiler);
        const char *key;
        size_t length;
        json_t *member;
        json_object_keylen_foreach (value, key, length, member)
        {
            if ((status = s_index_member (compiler, member, base, map, key, length, depth)))
                return status;
        }
    }
    return CAB_OK;
}

cab_status_t
cabi_schema_add_document (cabi_compiler_t *compiler, const char *uri, json_t *json)
{
    cab_schema_t *schema = compiler->schema;
    cabi_arena_t *arena = &schema->arena;
    char *copy = cabi_schema_arena_strndup (arena, uri, strlen (uri));
    char *pointer = cabi_schema_arena_alloc (arena, strlen (uri) + 2);
    if (!copy || !pointer ||
        cabi_schema_grow ((void **)&schema->documents, &compiler->document_capacity,
                          schema->document_count + 1, sizeof (cabi_document_t)))
        return s_nomem (compiler);
    if (*uri)
        snprintf (pointer, strlen (uri) + 2, "%s#", uri);
    schema->documents[schema->document_count++] = (cabi_document_t){copy, json_incref (json)};
    cab_status_t status = s_ident_add (compiler, copy, json, copy, pointer);
    if (!status)
        status = s_index (compiler, json, copy, pointer, 0);
    return status;
}

void
cabi_schema_compiler_free (cabi_compiler_t *compiler)
{
    cabi_schema_free (compiler->idents);
    cabi_schema_free (compiler->memo_keys);
    cabi_schema_free (compiler->memo_nodes);
    cabi_schema_free (compiler->pending);
    compiler->idents = NULL;
    compiler->memo_keys = NULL;
    compiler->memo_nodes = NULL;
    compiler->pending = NULL;
}

//  ---------------------------------------------------------------------
//  $ref

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Percent-decode in place; returns the new length, or -1 if malformed.
static long
s_percent_decode (char *text)
{
    char *output = text;
    for (const char *input = text; *input; input++) {
        if (*input == '%') {
            int high = s_hex (input[1]), low = high < 0 ? -1 : s_hex (input[2]);
            if (high < 0 || low < 0)
                return -1;
            *output++ = (char)(high * 16 + low);
            input += 2;
        } else
            *output++ = *input;
    }
    *output = '\0';
    return (long)(output - text);
}

static cab_status_t
s_unresolved (cabi_compiler_t *compiler, const char *pointer, const char *reference,
              const char *why)
{
    char *where = cabi_schema_pointer_append (&compiler->schema->arena, pointer, "$ref", 4);
    return cab_error_set (compiler->error, CAB_ERR_UNRESOLVED_REF, where ? where : pointer,
                          "cannot resolve '%s': %s", reference, why);
}

//  Make sure the document named by `uri` (no fragment) is indexed.
static cab_status_t
s_fetch (cabi_compiler_t *compiler, const char *uri, const char *pointer, const char *reference)
{
    if (s_ident_find (compiler, uri))
        return CAB_OK;
    json_t *document = NULL;
    if (strcmp (uri, cabi_schema_draft07_uri) == 0 ||
        strcmp (uri, "https://json-schema.org/draft-07/schema") == 0) {
        //  (jansson's json_loads can cut a string short when out of memory.)
        document = cabi_json_loadb (cabi_schema_draft07_text, strlen (cabi_schema_draft07_text), 0,
                                    NULL, NULL);
        if (!document)
            return s_nomem (compiler);
    } else if (!compiler->resolver)
        return s_unresolved (compiler, pointer, reference, "no resolver for remote references");
    else if (!strchr (uri, ':'))
        return s_unresolved (compiler, pointer, reference, "not an absolute URI");
    else {
        cab_error_t fetch_error;
        cab_error_clear (&fetch_error);
        document = compiler->resolver (uri, compiler->resolver_arg, &fetch_error);
        if (!document)
            return s_unresolved (compiler, pointer, reference,
                                 fetch_error.text[0] ? fetch_error.text
                                                     : "the resolver found no document");
    }
    cab_status_t status = cabi_schema_add_document (compiler, uri, document);
    json_decref (document);
    return status;
}

cab_status_t
cabi_schema_resolve_ref (cabi_compiler_t *compiler, const char *base, const char *reference,
                         const char *pointer, cabi_node_t **target)
{
    cabi_arena_t *arena = &compiler->schema->arena;
    char *uri = cabi_schema_uri_resolve (arena, base, reference);
    if (!uri)
        return s_nomem (compiler);
    char *fragment = strchr (uri, '#');
    char *full = cabi_schema_arena_strndup (arena, uri, strlen (uri));
    if (!full)
        return s_nomem (compiler);
    if (fragment)
        *fragment++ = '\0';
    else
        fragment = "";

    cabi_ident_t *ident;
    if (*fragment && *fragment != '/') {
        //  Location-independent identifier "uri#name": declared by an $id
        //  seen so far, or else in the document named by uri.
        if (!(ident = s_ident_find (compiler, full))) {
            cab_status_t status = s_fetch (compiler, uri, pointer, reference);
            if (status)
                return status;
            if (!(ident = s_ident_find (compiler, full)))
                return s_unresolved (compiler, pointer, reference, "no such identifier");
        }
        *target =
            cabi_schema_node_for_target (compiler, ident->json, ident->parent_base, ident->pointer);
        return *target ? CAB_OK : compiler->error->code;
    }
    cab_status_t status = s_fetch (compiler, uri, pointer, reference);
    if (status)
        return status;
    ident = s_ident_find (compiler, uri);
    json_t *json = ident->json;
    const char *parent_base = ident->parent_base;
    const char *inner_base = cabi_schema_base_of (arena, json, parent_base);
    char *target_pointer =
        cabi_schema_arena_alloc (arena, strlen (ident->pointer) + strlen (fragment) + 1);
    if (!inner_base || !target_pointer)
        return s_nomem (compiler);
    snprintf (target_pointer, strlen (ident->pointer) + strlen (fragment) + 1, "%s%s",
              ident->pointer, fragment);
    //  An empty fragment may be the literal "" above: never write to it.
    if (*fragment && s_percent_decode (fragment) < 0)
        return s_unresolved (compiler, pointer, reference, "bad percent-encoding");
    //  Walk the JSON Pointer, tracking base URI changes on the way.
    char *cursor = fragment;
    while (*cursor == '/') {
        char *token = ++cursor;
        char *output = token;
        while (*cursor && *cursor != '/') {
            if (*cursor == '~') {
                if (cursor[1] != '0' && cursor[1] != '1')
                    return s_unresolved (compiler, pointer, reference, "bad JSON Pointer escape");
                *output++ = cursor[1] == '0' ? '~' : '/';
                cursor += 2;
            } else
                *output++ = *cursor++;
        }
        size_t length = (size_t)(output - token);
        json_t *child = NULL;
        if (json_is_object (json))
            child = json_object_getn (json, token, length);
        else if (json_is_array (json) && length > 0 && length < 20 &&
                 (token[0] != '0' || length == 1)) {
            size_t index = 0;
            bool digits = true;
            for (size_t at = 0; at < length; at++) {
                digits = digits && token[at] >= '0' && token[at] <= '9';
                index = index * 10 + (size_t)(token[at] - '0');
            }
            if (digits)
                child = json_array_get (json, index);
        }
        if (!child)
            return s_unresolved (compiler, pointer, reference, "no such location");
        parent_base = inner_base;
        json = child;
        if (!(inner_base = cabi_schema_base_of (arena, json, parent_base)))
            return s_nomem (compiler);
    }
    *target = cabi_schema_node_for_target (compiler, json, parent_base, target_pointer);
    return *target ? CAB_OK : compiler->error->code;
}
