/*  =========================================================================
    cab_schema - JSON Schema (draft-07): lifecycle and compilation

    cab_schema_new walks the schema document once and builds a graph of
    cabi_node_t (see cab_schema_internal.h; keywords in cab_schema_compile.c).
    Lexical subschemas are compiled recursively (depth bounded) and
    memoized by JSON value; $ref targets are queued and compiled from a work
    list, so reference chains and cycles cost no stack. All memory comes
    from jansson's allocator; compiled nodes live in an arena.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include "cab_jsonscan.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Memory: everything through jansson's allocator

void *
cabi_schema_malloc (size_t size)
{
    json_malloc_t malloc_fn;
    json_free_t free_fn;
    json_get_alloc_funcs (&malloc_fn, &free_fn);
    return malloc_fn (size ? size : 1);
}

void
cabi_schema_free (void *pointer)
{
    if (!pointer)
        return;
    json_malloc_t malloc_fn;
    json_free_t free_fn;
    json_get_alloc_funcs (&malloc_fn, &free_fn);
    free_fn (pointer);
}

int
cabi_schema_grow (void **array, size_t *capacity, size_t need, size_t size)
{
    if (need <= *capacity)
        return 0;
    size_t new_capacity = *capacity ? *capacity * 2 : 8;
    while (new_capacity < need)
        new_capacity *= 2;
    if (new_capacity > SIZE_MAX / size)
        return -1;
    void *grown = cabi_schema_malloc (new_capacity * size);
    if (!grown)
        return -1;
    if (*array) {
        memcpy (grown, *array, *capacity * size);
        cabi_schema_free (*array);
    }
    *array = grown;
    *capacity = new_capacity;
    return 0;
}

struct cabi_arena_chunk_s {
    cabi_arena_chunk_t *next;
    max_align_t align[];
};

#define S_ARENA_CHUNK 8192

void *
cabi_schema_arena_alloc (cabi_arena_t *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    if (size > arena->left) {
        size_t chunk_size = size > S_ARENA_CHUNK / 2 ? size : S_ARENA_CHUNK;
        cabi_arena_chunk_t *chunk = cabi_schema_malloc (sizeof *chunk + chunk_size);
        if (!chunk)
            return NULL;
        chunk->next = arena->chunks;
        arena->chunks = chunk;
        if (chunk_size == size)
            return memset (chunk->align, 0, size);  //  Dedicated chunk
        arena->cursor = (char *)chunk->align;
        arena->left = chunk_size;
    }
    void *result = arena->cursor;
    arena->cursor += size;
    arena->left -= size;
    return memset (result, 0, size);
}

char *
cabi_schema_arena_strndup (cabi_arena_t *arena, const char *text, size_t length)
{
    char *copy = cabi_schema_arena_alloc (arena, length + 1);
    if (copy) {
        memcpy (copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

static void
s_arena_free (cabi_arena_t *arena)
{
    while (arena->chunks) {
        cabi_arena_chunk_t *next = arena->chunks->next;
        cabi_schema_free (arena->chunks);
        arena->chunks = next;
    }
    arena->cursor = NULL;
    arena->left = 0;
}

static cab_status_t
s_nomem (cabi_compiler_t *compiler)
{
    return cab_error_set (compiler->error, CAB_ERR_NOMEM, NULL, "out of memory compiling schema");
}

//  ---------------------------------------------------------------------
//  Node memo: one node per schema JSON value

static size_t
s_memo_slot (const json_t *key, size_t capacity)
{
    uintptr_t hash = (uintptr_t)key;
    hash ^= hash >> 17;
    hash *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(hash >> 7) & (capacity - 1);
}

static cabi_node_t *
s_memo_get (cabi_compiler_t *compiler, const json_t *key)
{
    if (!compiler->memo_capacity)
        return NULL;
    for (size_t slot = s_memo_slot (key, compiler->memo_capacity);;
         slot = (slot + 1) & (compiler->memo_capacity - 1)) {
        if (!compiler->memo_keys[slot])
            return NULL;
        if (compiler->memo_keys[slot] == key)
            return compiler->memo_nodes[slot];
    }
}

static int
s_memo_put (cabi_compiler_t *compiler, const json_t *key, cabi_node_t *node)
{
    if ((compiler->memo_count + 1) * 2 > compiler->memo_capacity) {
        size_t capacity = compiler->memo_capacity ? compiler->memo_capacity * 2 : 64;
        const json_t **keys = cabi_schema_malloc (capacity * sizeof *keys);
        cabi_node_t **nodes = cabi_schema_malloc (capacity * sizeof *nodes);
        if (!keys || !nodes) {
            cabi_schema_free (keys);
            cabi_schema_free (nodes);
            return -1;
        }
        memset (keys, 0, capacity * sizeof *keys);
        for (size_t old = 0; old < compiler->memo_capacity; old++) {
            if (!compiler->memo_keys[old])
                continue;
            size_t slot = s_memo_slot (compiler->memo_keys[old], capacity);
            while (keys[slot])
                slot = (slot + 1) & (capacity - 1);
            keys[slot] = compiler->memo_keys[old];
            nodes[slot] = compiler->memo_nodes[old];
        }
        cabi_schema_free (compiler->memo_keys);
        cabi_schema_free (compiler->memo_nodes);
        compiler->memo_keys = keys;
        compiler->memo_nodes = nodes;
        compiler->memo_capacity = capacity;
    }
    size_t slot = s_memo_slot (key, compiler->memo_capacity);
    while (compiler->memo_keys[slot])
        slot = (slot + 1) & (compiler->memo_capacity - 1);
    compiler->memo_keys[slot] = key;
    compiler->memo_nodes[slot] = node;
    compiler->memo_count++;
    return 0;
}

static cabi_node_t *
s_node_new (cabi_compiler_t *compiler, json_t *json)
{
    cabi_node_t *node = cabi_schema_arena_alloc (&compiler->schema->arena, sizeof *node);
    if (!node || s_memo_put (compiler, json, node)) {
        s_nomem (compiler);
        return NULL;
    }
    return node;
}

cabi_node_t *
cabi_schema_compile_child (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                           const char *pointer, int depth)
{
    cabi_node_t *node = s_memo_get (compiler, json);
    if (node)
        return node;  //  Compiled, or queued as a $ref target
    if (!(node = s_node_new (compiler, json)))
        return NULL;
    if (cabi_schema_compile (compiler, json, parent_base, pointer, node, depth))
        return NULL;
    return node;
}

cabi_node_t *
cabi_schema_node_for_target (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                             const char *pointer)
{
    cabi_node_t *node = s_memo_get (compiler, json);
    if (node)
        return node;
    if (!(node = s_node_new (compiler, json)))
        return NULL;
    if (cabi_schema_grow ((void **)&compiler->pending, &compiler->pending_capacity,
                          compiler->pending_count + 1, sizeof (cabi_pending_t))) {
        s_nomem (compiler);
        return NULL;
    }
    cabi_pending_t *entry = &compiler->pending[compiler->pending_count++];
    entry->json = json;
    entry->parent_base = parent_base;
    entry->pointer = pointer;
    entry->node = node;
    return node;
}

//  A $ref chain that comes back to itself would never consume input.
static cab_status_t
s_check_ref_cycles (cabi_compiler_t *compiler)
{
    for (size_t slot = 0; slot < compiler->memo_capacity; slot++) {
        cabi_node_t *node = compiler->memo_nodes[slot];
        if (!compiler->memo_keys[slot] || !node->ref)
            continue;
        cabi_node_t *walk = node;
        for (size_t steps = 0; walk->ref; steps++) {
            walk = walk->ref;
            if (walk == node || steps > compiler->memo_count)
                return cab_error_set (compiler->error, CAB_ERR_INVALID_SCHEMA, node->pointer,
                                      "$ref: reference cycle that never reaches a schema");
        }
    }
    return CAB_OK;
}

//  ---------------------------------------------------------------------
//  Public API

cab_schema_t *
cab_schema_new (json_t *document, cab_error_t *error)
{
    return cab_schema_new_with_resolver (document, NULL, NULL, error);
}

cab_schema_t *
cab_schema_new_with_resolver (json_t *document, cab_schema_resolver_fn *resolver, void *arg,
                              cab_error_t *error)
{
    cab_error_t local;
    if (!error)
        error = &local;
    if (!json_is_object (document) && !json_is_boolean (document)) {
        cab_error_set (error, CAB_ERR_INVALID_SCHEMA, "",
                       "a schema must be a JSON object or a boolean");
        return NULL;
    }
    cab_schema_t *self = cabi_schema_malloc (sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory compiling schema");
        return NULL;
    }
    memset (self, 0, sizeof *self);
    atomic_flag_clear (&self->match_data_busy);
    self->document = json_incref (document);
    cabi_compiler_t compiler = {0};
    compiler.schema = self;
    compiler.error = error;
    compiler.resolver = resolver;
    compiler.resolver_arg = arg;
    error->code = CAB_OK;

    cab_status_t status = CAB_OK;
    if (!(self->general = cabi_schema_regex_context ()) ||
        !(self->match_context = pcre2_match_context_create (self->general)))
        status = s_nomem (&compiler);
    if (!status) {
        pcre2_set_match_limit (self->match_context, 1000000);
        pcre2_set_depth_limit (self->match_context, 10000);
        status = cabi_schema_add_document (&compiler, "", document);
    }
    if (!status) {
        json_t *id = json_object_get (document, "$id");
        if (json_is_string (id) && !json_object_get (document, "$ref"))
            self->id = json_string_value (id);
        self->root = cabi_schema_compile_child (&compiler, document, "", "", 0);
        if (!self->root)
            status = error->code ? error->code : CAB_ERR_INTERNAL;
    }
    //  Compile $ref targets until none is left.
    while (!status && compiler.pending_count) {
        cabi_pending_t entry = compiler.pending[--compiler.pending_count];
        if (entry.node->state == 0 && cabi_schema_compile (&compiler, entry.json, entry.parent_base,
                                                           entry.pointer, entry.node, 0))
            status = error->code;
    }
    if (!status)
        status = s_check_ref_cycles (&compiler);
    cabi_schema_compiler_free (&compiler);
    if (status) {
        if (error == &local || error->code == CAB_OK)
            cab_error_set (error, status, NULL, NULL);
        cab_schema_destroy (&self);
        return NULL;
    }
    return self;
}

cab_schema_t *
cab_schema_load (const char *path, cab_error_t *error)
{
    if (!path) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no schema path given");
        return NULL;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        cab_error_set (error, errno == ENOMEM ? CAB_ERR_NOMEM : CAB_ERR_IO, NULL, "%s: %s", path,
                       strerror (errno));
        return NULL;
    }
    size_t capacity = 0, length = 0;
    char *text = NULL;
    cab_status_t status = CAB_OK;
    while (!status) {
        if (cabi_schema_grow ((void **)&text, &capacity, length + 4096, 1)) {
            status = cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory reading %s", path);
            break;
        }
        size_t got = fread (text + length, 1, capacity - length, file);
        length += got;
        if (length > CABI_SCHEMA_MAX_FILE)
            status = cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "%s: larger than %d bytes",
                                    path, CABI_SCHEMA_MAX_FILE);
        else if (got == 0) {
            if (ferror (file))
                status = cab_error_set (error, CAB_ERR_IO, NULL, "%s: read error", path);
            break;
        }
    }
    fclose (file);
    cab_schema_t *self = NULL;
    if (!status) {
        json_t *document = cabi_json_loadb (text, length, JSON_REJECT_DUPLICATES, path, error);
        if (document) {
            self = cab_schema_new (document, error);
            json_decref (document);
        }
    }
    cabi_schema_free (text);
    return self;
}

void
cab_schema_destroy (cab_schema_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_schema_t *self = *self_p;
    for (size_t index = 0; index < self->regex_count; index++)
        pcre2_code_free (self->regexes[index]->code);
    cabi_schema_free (self->regexes);
    for (size_t index = 0; index < self->document_count; index++)
        json_decref (self->documents[index].json);
    cabi_schema_free (self->documents);
    pcre2_match_data_free (self->match_data);
    pcre2_match_context_free (self->match_context);
    pcre2_general_context_free (self->general);
    s_arena_free (&self->arena);
    json_decref (self->document);
    cabi_schema_free (self);
    *self_p = NULL;
}

const char *
cab_schema_id (cab_schema_t *self)
{
    return self ? self->id : NULL;
}

json_t *
cab_schema_document (cab_schema_t *self)
{
    return self ? self->document : NULL;
}
