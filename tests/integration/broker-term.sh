#!/bin/sh
#  SIGTERM during a storm from 4 publishers: the broker answers what it took
#  in, exits 0, and after a restart every event is stored exactly once
#  (broker-crash.sh with SIGTERM instead of SIGKILL, 20,000 events).
CAB_CRASH_SIGNAL=TERM CAB_CRASH_EVENTS=${CAB_CRASH_EVENTS:-20000} \
    exec sh "$(dirname "$0")/broker-crash.sh"
