/*  =========================================================================
    cab_logfile - a log file with size-based rotation

    Writes go to DIR/NAME.log; a write that would take the file past
    max_bytes first rotates: NAME.log.(keep-1) -> NAME.log.keep (the oldest
    is removed), ..., NAME.log -> NAME.log.1, and a new NAME.log is opened.
    With keep 0 the file is simply truncated.
    =========================================================================
*/
#ifndef CAB_LOGFILE_H_INCLUDED
#define CAB_LOGFILE_H_INCLUDED

#include "cabruca.h"
#include <stdint.h>

typedef struct _cab_logfile_t cab_logfile_t;

//  Open (append) DIR/NAME.log, creating dir if missing. Returns NULL and
//  fills error (CAB_ERR_IO, CAB_ERR_NOMEM). Caller owns the result.
cab_logfile_t *
    cab_logfile_new (const char *dir, const char *name, int64_t max_bytes, int keep,
                     cab_error_t *error);

//  Close and free; nulls the pointer; safe on NULL.
void
    cab_logfile_destroy (cab_logfile_t **self_p);

//  Append size bytes, rotating first when needed. Returns CAB_OK or
//  CAB_ERR_IO (the bytes are lost; the next write tries again).
cab_status_t
    cab_logfile_write (cab_logfile_t *self, const void *data, size_t size);

//  Current size of NAME.log, bytes.
int64_t
    cab_logfile_size (cab_logfile_t *self);

#endif
