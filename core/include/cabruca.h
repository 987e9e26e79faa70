/*  =========================================================================
    cabruca - multi-agent coordination over ZeroMQ with EventBridge semantics

    The umbrella header of libcabruca, the public library agents link to.
    Include only this header. Link with `pkg-config --libs libcabruca`.
    =========================================================================
*/
#ifndef CABRUCA_H_INCLUDED
#define CABRUCA_H_INCLUDED

#define CAB_VERSION_MAJOR 0
#define CAB_VERSION_MINOR 1
#define CAB_VERSION_PATCH 0

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "cab_status.h"
#include "cab_schema.h"
#include "cab_pattern.h"
#include "cab_event.h"
#include "cab_events.h"
#include "cab_registry.h"
#include "cab_client.h"
#include "cab_agent.h"

#endif
