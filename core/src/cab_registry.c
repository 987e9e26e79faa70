/*  =========================================================================
    cab_registry - the schema registry: event types to compiled schemas

    A sorted array of entries, one per (source, detail-type, schema_version),
    each with its compiled schema; lookups are binary searches. Loading a
    directory builds a scratch registry first and merges it only when every
    file compiled, so a bad file never leaves a half-loaded registry.
    =========================================================================
*/
#include "cabruca.h"
#include "cab_event_internal.h"
#include "cab_jsonscan.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Bounds: the largest schema file we read, and the most types we hold.
#define S_FILE_MAX  (4 * 1024 * 1024)
#define S_TYPES_MAX 4096

typedef struct {
    char *source;
    char *detail_type;
    char *version;
    char *origin;  //  File name or "(memory)"
    cab_schema_t *schema;
} s_entry_t;

struct _cab_registry_t {
    s_entry_t *entries;  //  Sorted by source, detail-type, version
    size_t size;
    size_t capacity;
    cab_schema_t *envelope;  //  Envelope schema, or NULL
};

cab_registry_t *
cab_registry_new (void)
{
    return calloc (1, sizeof (cab_registry_t));
}

static void
s_entry_free (s_entry_t *entry)
{
    free (entry->source);
    free (entry->detail_type);
    free (entry->version);
    free (entry->origin);
    cab_schema_destroy (&entry->schema);
}

void
cab_registry_destroy (cab_registry_t **self_p)
{
    if (self_p && *self_p) {
        cab_registry_t *self = *self_p;
        for (size_t i = 0; i < self->size; i++)
            s_entry_free (&self->entries[i]);
        free (self->entries);
        cab_schema_destroy (&self->envelope);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Finding entries

static int
s_compare (const s_entry_t *entry, const char *source, const char *detail_type, const char *version)
{
    int rc = strcmp (entry->source, source);
    if (rc == 0)
        rc = strcmp (entry->detail_type, detail_type);
    if (rc == 0)
        rc = strcmp (entry->version, version);
    return rc;
}

//  Index of the first entry not less than the key (lower bound).
static size_t
s_lower_bound (cab_registry_t *self, const char *source, const char *detail_type,
               const char *version)
{
    size_t low = 0, high = self->size;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (s_compare (&self->entries[middle], source, detail_type, version) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static s_entry_t *
s_find (cab_registry_t *self, const char *source, const char *detail_type, const char *version)
{
    size_t index = s_lower_bound (self, source, detail_type, version);
    if (index < self->size && s_compare (&self->entries[index], source, detail_type, version) == 0)
        return &self->entries[index];
    return NULL;
}

//  ---------------------------------------------------------------------
//  Adding schemas

//  The single string of node/.../enum, or NULL.
static const char *
s_one_value (const json_t *document, const char *const *path)
{
    const json_t *node = document;
    for (; *path; path++)
        node = json_object_get (node, *path);
    const json_t *values = json_object_get (node, "enum");
    if (json_array_size (values) != 1)
        return NULL;
    return json_string_value (json_array_get (values, 0));
}

//  Insert an entry; takes ownership of its fields, also on failure.
static cab_status_t
s_insert (cab_registry_t *self, s_entry_t *entry, cab_error_t *error)
{
    if (self->size == S_TYPES_MAX) {
        s_entry_free (entry);
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                              "the registry holds at most %d event types", S_TYPES_MAX);
    }
    if (self->size == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        s_entry_t *grown = realloc (self->entries, capacity * sizeof *grown);
        if (!grown) {
            s_entry_free (entry);
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory adding a schema");
        }
        self->entries = grown;
        self->capacity = capacity;
    }
    size_t index = s_lower_bound (self, entry->source, entry->detail_type, entry->version);
    memmove (&self->entries[index + 1], &self->entries[index],
             (self->size - index) * sizeof *entry);
    self->entries[index] = *entry;
    self->size++;
    return CAB_OK;
}

cab_status_t
cab_registry_add (cab_registry_t *self, json_t *document, const char *origin, cab_error_t *error)
{
    if (!self || !document)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no registry or document");
    if (!origin)
        origin = "(memory)";
    static const char *const source_path[] = {"properties", "source", NULL};
    static const char *const type_path[] = {"properties", "detail-type", NULL};
    static const char *const version_path[] = {"properties", "detail", "properties",
                                               "schema_version", NULL};
    const char *source = s_one_value (document, source_path);
    const char *detail_type = s_one_value (document, type_path);
    const char *version = s_one_value (document, version_path);
    if (!source || !detail_type || !version)
        return cab_error_set (error, CAB_ERR_INVALID_SCHEMA, NULL,
                              "%s: does not name its type: properties/source, "
                              "properties/detail-type and properties/detail/properties/"
                              "schema_version each need an enum of one string",
                              origin);
    s_entry_t *existing = s_find (self, source, detail_type, version);
    if (existing)
        return cab_error_set (error, CAB_ERR_INVALID_SCHEMA, NULL,
                              "%s: type %s / %s / %s is already defined by %s", origin, source,
                              detail_type, version, existing->origin);
    cab_error_t local;
    cab_schema_t *schema = cab_schema_new (document, &local);
    if (!schema) {
        if (local.code == CAB_ERR_NOMEM)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory compiling %s", origin);
        return cab_error_set (error, local.code, local.path, "%s: %s", origin, local.text);
    }
    s_entry_t entry = {strdup (source), strdup (detail_type), strdup (version), strdup (origin),
                       schema};
    if (!entry.source || !entry.detail_type || !entry.version || !entry.origin) {
        s_entry_free (&entry);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory adding %s", origin);
    }
    return s_insert (self, &entry, error);
}

//  ---------------------------------------------------------------------
//  Loading a directory

//  Read and parse a JSON file of at most S_FILE_MAX bytes.
static json_t *
s_read_json (const char *path, cab_error_t *error)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        cab_error_set (error, errno == ENOMEM ? CAB_ERR_NOMEM : CAB_ERR_IO, NULL,
                       "cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    struct stat info;
    if (fstat (fileno (file), &info) || !S_ISREG (info.st_mode)) {
        cab_error_set (error, CAB_ERR_IO, NULL, "%s is not a regular file", path);
        fclose (file);
        return NULL;
    }
    if (info.st_size > S_FILE_MAX) {
        cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "%s is larger than %d bytes", path,
                       S_FILE_MAX);
        fclose (file);
        return NULL;
    }
    size_t size = (size_t)info.st_size;
    char *text = malloc (size + 1);
    size_t got = text ? fread (text, 1, size + 1, file) : 0;
    bool failed = text && (ferror (file) || got != size);
    fclose (file);
    if (!text) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory reading %s", path);
        return NULL;
    }
    if (failed) {
        free (text);
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot read %s (changed while reading?)", path);
        return NULL;
    }
    json_t *document = cabi_json_loadb (text, size, JSON_REJECT_DUPLICATES, path, error);
    free (text);
    return document;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

//  Load every .json file of dir/events into scratch, in name order.
static cab_status_t
s_load_events (cab_registry_t *scratch, const char *dir, cab_error_t *error)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/events", dir);
    DIR *handle = opendir (path);
    if (!handle)
        return cab_error_set (error, errno == ENOMEM ? CAB_ERR_NOMEM : CAB_ERR_IO, NULL,
                              "cannot open %s: %s", path, strerror (errno));
    char **names = NULL;
    size_t count = 0, capacity = 0;
    cab_status_t rc = CAB_OK;
    struct dirent *item;
    while ((item = readdir (handle))) {
        size_t length = strlen (item->d_name);
        if (length < 6 || strcmp (item->d_name + length - 5, ".json") != 0 ||
            item->d_name[0] == '.')
            continue;
        if (count == S_TYPES_MAX) {
            rc = cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "%s holds more than %d schemas",
                                path, S_TYPES_MAX);
            break;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            char **grown = realloc (names, capacity * sizeof *grown);
            if (!grown) {
                rc = CAB_ERR_NOMEM;
                break;
            }
            names = grown;
        }
        if (!(names[count] = strdup (item->d_name))) {
            rc = CAB_ERR_NOMEM;
            break;
        }
        count++;
    }
    closedir (handle);
    if (rc == CAB_ERR_NOMEM)
        cab_error_set (error, rc, NULL, "out of memory listing %s", path);
    if (rc == CAB_OK && count)
        qsort (names, count, sizeof *names, s_compare_names);
    for (size_t i = 0; rc == CAB_OK && i < count; i++) {
        char file[4096];
        snprintf (file, sizeof file, "%s/events/%s", dir, names[i]);
        json_t *document = s_read_json (file, error);
        if (!document)
            rc = error ? error->code : CAB_ERR_IO;
        else {
            rc = cab_registry_add (scratch, document, file, error);
            json_decref (document);
        }
    }
    for (size_t i = 0; i < count; i++)
        free (names[i]);
    free (names);
    return rc;
}

cab_status_t
cab_registry_load_dir (cab_registry_t *self, const char *dir, cab_error_t *error)
{
    if (!self || !dir)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no registry or directory");
    cab_error_t local;
    cab_error_clear (&local);
    cab_registry_t *scratch = cab_registry_new ();
    if (!scratch)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory loading %s", dir);

    char path[4096];
    snprintf (path, sizeof path, "%s/envelope.json", dir);
    json_t *document = s_read_json (path, &local);
    cab_status_t rc = document ? CAB_OK : local.code;
    if (document) {
        scratch->envelope = cab_schema_new (document, &local);
        json_decref (document);
        if (!scratch->envelope) {
            rc = local.code;
            if (rc != CAB_ERR_NOMEM) {
                cab_error_t copy = local;
                cab_error_set (&local, rc, copy.path, "%s: %s", path, copy.text);
            }
        }
    }
    if (rc == CAB_OK)
        rc = s_load_events (scratch, dir, &local);
    //  Merge: first make sure nothing clashes with what we hold.
    for (size_t i = 0; rc == CAB_OK && i < scratch->size; i++) {
        s_entry_t *entry = &scratch->entries[i];
        s_entry_t *existing = s_find (self, entry->source, entry->detail_type, entry->version);
        if (existing)
            rc =
                cab_error_set (&local, CAB_ERR_INVALID_SCHEMA, NULL,
                               "%s: type %s / %s / %s is already defined by %s", entry->origin,
                               entry->source, entry->detail_type, entry->version, existing->origin);
    }
    if (rc == CAB_OK && self->size + scratch->size > S_TYPES_MAX)
        rc = cab_error_set (&local, CAB_ERR_TOO_LARGE, NULL,
                            "the registry holds at most %d event types", S_TYPES_MAX);
    if (rc == CAB_OK && self->capacity < self->size + scratch->size) {
        size_t capacity = self->size + scratch->size;
        s_entry_t *grown = realloc (self->entries, capacity * sizeof *grown);
        if (grown) {
            self->entries = grown;
            self->capacity = capacity;
        } else
            rc = cab_error_set (&local, CAB_ERR_NOMEM, NULL, "out of memory loading %s", dir);
    }
    if (rc == CAB_OK) {
        //  Capacity is reserved: these inserts cannot fail.
        for (size_t i = 0; i < scratch->size; i++)
            s_insert (self, &scratch->entries[i], NULL);
        scratch->size = 0;
        cab_schema_destroy (&self->envelope);
        self->envelope = scratch->envelope;
        scratch->envelope = NULL;
    } else if (error)
        *error = local;
    cab_registry_destroy (&scratch);
    return rc;
}

//  ---------------------------------------------------------------------
//  Lookups and validation

//  Append ", name" to a list in buffer, within its size.
static void
s_append (char *buffer, size_t size, const char *name)
{
    size_t used = strlen (buffer);
    if (used < size)
        snprintf (buffer + used, size - used, "%s%s", used ? ", " : "", name);
}

cab_schema_t *
cab_registry_lookup (cab_registry_t *self, const char *source, const char *detail_type,
                     const char *schema_version, cab_error_t *error)
{
    if (!self || !source || !detail_type || !schema_version) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no registry or type");
        return NULL;
    }
    s_entry_t *entry = s_find (self, source, detail_type, schema_version);
    if (entry)
        return entry->schema;
    if (!error)
        return NULL;
    //  Say how close we came: the source, the detail-type, or the version.
    char types[320] = "", versions[320] = "";
    size_t index = s_lower_bound (self, source, "", "");
    for (size_t i = index; i < self->size && !strcmp (self->entries[i].source, source); i++) {
        s_entry_t *other = &self->entries[i];
        if (strcmp (other->detail_type, detail_type) == 0)
            s_append (versions, sizeof versions, other->version);
        else if (i == index || strcmp (self->entries[i - 1].detail_type, other->detail_type))
            s_append (types, sizeof types, other->detail_type);
    }
    if (*versions)
        cab_error_set (error, CAB_ERR_UNKNOWN_EVENT_TYPE, "/detail/schema_version",
                       "%s / %s has no schema_version %s (known: %s)", source, detail_type,
                       schema_version, versions);
    else if (*types)
        cab_error_set (error, CAB_ERR_UNKNOWN_EVENT_TYPE, "/detail-type",
                       "source %s has no detail-type %s (known: %s)", source, detail_type, types);
    else
        cab_error_set (error, CAB_ERR_UNKNOWN_EVENT_TYPE, "/source",
                       "no event types from source %s", source);
    return NULL;
}

//  Validate a document whose envelope has been checked already, or is
//  checked here when `check_envelope` is true.
static cab_status_t
s_validate (cab_registry_t *self, const json_t *document, bool check_envelope, cab_error_t *error)
{
    if (!self)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no registry");
    cab_status_t rc = check_envelope ? cab_event_check_envelope (document, error) : CAB_OK;
    if (rc)
        return rc;
    if (self->envelope) {
        rc = cab_schema_validate (self->envelope, document, error);
        if (rc == CAB_ERR_SCHEMA_VIOLATION) {
            if (error)
                error->code = CAB_ERR_INVALID_ENVELOPE;
            return CAB_ERR_INVALID_ENVELOPE;
        }
        if (rc)
            return rc;
    }
    const json_t *detail = json_object_get (document, "detail");
    cab_schema_t *schema =
        cab_registry_lookup (self, json_string_value (json_object_get (document, "source")),
                             json_string_value (json_object_get (document, "detail-type")),
                             json_string_value (json_object_get (detail, "schema_version")), error);
    if (!schema)
        return CAB_ERR_UNKNOWN_EVENT_TYPE;
    return cab_schema_validate (schema, document, error);
}

cab_status_t
cab_registry_validate_json (cab_registry_t *self, const json_t *document, cab_error_t *error)
{
    return s_validate (self, document, true, error);
}

cab_status_t
cab_registry_validate (cab_registry_t *self, cab_event_t *event, cab_error_t *error)
{
    if (!event)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no event");
    //  A loaded event's envelope was checked by cab_event_load: not again.
    return s_validate (self, cab_event_json (event), !cabi_event_envelope_checked (event), error);
}

size_t
cab_registry_size (cab_registry_t *self)
{
    return self ? self->size : 0;
}

cab_status_t
cab_registry_entry (cab_registry_t *self, size_t index, const char **source_p,
                    const char **detail_type_p, const char **schema_version_p,
                    const char **origin_p)
{
    if (!self || index >= self->size)
        return CAB_ERR_NOT_FOUND;
    s_entry_t *entry = &self->entries[index];
    if (source_p)
        *source_p = entry->source;
    if (detail_type_p)
        *detail_type_p = entry->detail_type;
    if (schema_version_p)
        *schema_version_p = entry->version;
    if (origin_p)
        *origin_p = entry->origin;
    return CAB_OK;
}
