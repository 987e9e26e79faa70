/*  =========================================================================
    cab_lines - bounded reading of files and of line-oriented input

    The CLI and the daemons read user files (configs, schemas, events one per
    line). Every read here has a ceiling; input past it is an error the
    caller reports, never unbounded growth.
    =========================================================================
*/
#ifndef CAB_LINES_H_INCLUDED
#define CAB_LINES_H_INCLUDED

#include "cabruca.h"
#include <stdio.h>

typedef struct _cab_lines_t cab_lines_t;

//  Read a whole file (or standard input when path is "-") of at most `limit`
//  bytes into a new NUL-terminated buffer. Sets *size_p (may be NULL) to the
//  byte count. Returns NULL and fills error on failure: CAB_ERR_IO when the
//  file cannot be read, CAB_ERR_TOO_LARGE when it is over the limit.
//  Caller owns the return value and must free() it.
char *
    cab_file_read (const char *path, size_t limit, size_t *size_p, cab_error_t *error);

//  Open a line reader on a file, or on standard input when path is "-" or
//  NULL. Lines longer than `limit` bytes are reported, not returned whole.
//  Returns NULL and fills error (CAB_ERR_IO) if the file cannot be opened.
//  Caller owns the reader and must destroy it.
cab_lines_t *
    cab_lines_new (const char *path, size_t limit, cab_error_t *error);

//  Destroy a line reader and null the pointer; safe on NULL.
void
    cab_lines_destroy (cab_lines_t **self_p);

//  Read the next line, without its "\n" (and "\r\n"). Returns CAB_OK and sets
//  *line_p (borrowed, valid until the next call) and *length_p; returns
//  CAB_ERR_NOT_FOUND at end of input; CAB_ERR_TOO_LARGE when the line is over
//  the limit (the rest of that line is skipped, so the caller can go on);
//  CAB_ERR_IO on a read error.
cab_status_t
    cab_lines_next (cab_lines_t *self, const char **line_p, size_t *length_p,
                    cab_error_t *error);

//  Return the 1-based number of the line last returned (0 before the first).
size_t
    cab_lines_number (cab_lines_t *self);

#endif
