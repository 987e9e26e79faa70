/*  =========================================================================
    cab_lines - bounded reading of files and of line-oriented input
    =========================================================================
*/
#include "cab_lines.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _cab_lines_t {
    FILE *file;      //  Input stream
    bool owned;      //  Close file on destroy (not stdin)
    size_t limit;    //  Longest line we accept
    char *buffer;    //  limit + 2 bytes: a line that spans two reads
    size_t number;   //  Lines read so far
    char *input;     //  S_INPUT + 1 bytes read ahead (the +1 for a NUL)
    size_t at, end;  //  Unread input is input[at..end)
};

//  Read-ahead size: lines are found with memchr in blocks this large and,
//  when a line lies inside one block, returned in place without a copy.
#define S_INPUT (64 * 1024)

char *
cab_file_read (const char *path, size_t limit, size_t *size_p, cab_error_t *error)
{
    bool is_stdin = !path || strcmp (path, "-") == 0;
    FILE *file = is_stdin ? stdin : fopen (path, "rb");
    if (!file) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    size_t capacity = 4096, size = 0;
    char *data = malloc (capacity);
    while (data) {
        if (size == capacity - 1) {
            if (capacity - 1 > limit)
                break;
            char *grown = realloc (data, capacity * 2);
            if (!grown) {
                free (data);
                data = NULL;
                break;
            }
            data = grown;
            capacity *= 2;
        }
        size_t got = fread (data + size, 1, capacity - 1 - size, file);
        size += got;
        if (got == 0)
            break;
        if (size > limit)
            break;
    }
    const char *name = is_stdin ? "standard input" : path;
    if (!data)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory reading %s", name);
    else if (size > limit) {
        cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "%s is larger than %zu bytes", name, limit);
        free (data);
        data = NULL;
    } else if (ferror (file)) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot read %s: %s", name, strerror (errno));
        free (data);
        data = NULL;
    } else {
        data[size] = '\0';
        if (size_p)
            *size_p = size;
    }
    if (!is_stdin)
        fclose (file);
    return data;
}

cab_lines_t *
cab_lines_new (const char *path, size_t limit, cab_error_t *error)
{
    cab_lines_t *self = calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
        return NULL;
    }
    self->limit = limit;
    self->buffer = malloc (limit + 2);
    self->input = malloc (S_INPUT + 1);
    if (!path || strcmp (path, "-") == 0)
        self->file = stdin;
    else {
        self->file = fopen (path, "rb");
        self->owned = true;
        if (!self->file) {
            cab_error_set (error, CAB_ERR_IO, NULL, "cannot open %s: %s", path, strerror (errno));
            self->owned = false;
            cab_lines_destroy (&self);
            return NULL;
        }
    }
    if (!self->buffer || !self->input) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
        cab_lines_destroy (&self);
    }
    return self;
}

void
cab_lines_destroy (cab_lines_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_lines_t *self = *self_p;
    if (self->owned && self->file)
        fclose (self->file);
    free (self->buffer);
    free (self->input);
    free (self);
    *self_p = NULL;
}

cab_status_t
cab_lines_next (cab_lines_t *self, const char **line_p, size_t *length_p, cab_error_t *error)
{
    size_t length = 0;  //  bytes of the line seen so far
    bool newline = false, failed = false;
    char *line = NULL;
    while (!newline) {
        if (self->at == self->end) {
            //  read(2), not fread: return each line as soon as it arrives.
            ssize_t got;
            do
                got = read (fileno (self->file), self->input, S_INPUT);
            while (got < 0 && errno == EINTR);
            self->at = 0;
            self->end = got > 0 ? (size_t)got : 0;
            failed = got < 0;
            if (got <= 0)
                break;
        }
        char *start = self->input + self->at;
        size_t avail = self->end - self->at;
        char *nl = memchr (start, '\n', avail);
        size_t n = nl ? (size_t)(nl - start) : avail;
        newline = nl != NULL;
        self->at += n + newline;
        if (length == 0 && newline && n <= self->limit) {
            line = start;  //  the whole line is in the read-ahead block
            length = n;
            break;
        }
        if (length + n <= self->limit)
            memcpy (self->buffer + length, start, n);
        length += n;
    }
    if (failed)
        return cab_error_set (error, CAB_ERR_IO, NULL, "read error: %s", strerror (errno));
    if (!newline && length == 0)
        return CAB_ERR_NOT_FOUND;
    self->number++;
    if (length > self->limit)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "line %zu is longer than %zu bytes",
                              self->number, self->limit);
    if (!line)
        line = self->buffer;
    if (length > 0 && line[length - 1] == '\r')
        length--;
    line[length] = '\0';
    *line_p = line;
    if (length_p)
        *length_p = length;
    return CAB_OK;
}

size_t
cab_lines_number (cab_lines_t *self)
{
    return self->number;
}
