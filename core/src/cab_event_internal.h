/*  =========================================================================
    cab_event_internal - what other libcabruca modules may ask of an event

    Private to core/src; not installed, not exported.
    =========================================================================
*/
#ifndef CAB_EVENT_INTERNAL_H_INCLUDED
#define CAB_EVENT_INTERNAL_H_INCLUDED

#include "cabruca.h"

//  True when the event's envelope has passed cab_event_check_envelope and
//  the document has not been changed since (cab_event_load, or a successful
//  cab_event_check). Lets the registry skip checking it again.
bool
    cabi_event_envelope_checked (cab_event_t *self);

//  True when a NUL-terminated string is well-formed UTF-8 (RFC 3629: no
//  overlong forms, no surrogates, nothing past U+10FFFF).
bool
    cabi_utf8_valid (const char *text);

#endif
