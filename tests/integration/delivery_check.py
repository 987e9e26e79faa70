#!/usr/bin/env python3
"""Helpers of the delivery tests (delivery-lib.sh): event files, read-only
store queries and checks of what consumers recorded.

  delivery_check.py events KIND COUNT FILE [--time ISO] [--step-ms N]
                           [--set NAME=JSON ...] [--pad N] [--append]
      COUNT valid events of KIND (issue, feature, change, test), one a line,
      with distinct time-ordered ids; --time sets the first event's "time"
      (default now), --step-ms the gap between events, --set a detail field.
  delivery_check.py sql DB QUERY
      one line per row (columns separated by a space), read-only.
  delivery_check.py covered PUBLISHED RECORD...
      exit 0 when every event id of the PUBLISHED file was acknowledged in
      one of the consumer RECORD files (lines "<delivery> <attempt> <event-id>
      ack|nack|die <replay>").
"""
import json
import os
import sqlite3
import sys
import time
import uuid
from datetime import datetime, timezone

KINDS = {
    "issue": ("cabruca.agents.monitor", "Issue Detection", "monitor-001",
              {"severity": "LOW", "issue_type": "test", "description": "delivery test"}),
    "feature": ("cabruca.agents.product", "Feature Request", "product-001",
                {"priority": "MEDIUM", "feature_type": "RELIABILITY", "title": "delivery test",
                 "description": "delivery test"}),
    "change": ("cabruca.agents.developer", "Code Change", "developer-001",
               {"repository": "/srv/git/webapp", "branch": "main", "commit": "3f2a9c1",
                "change_type": "BUG_FIX", "status": "APPROVED"}),
    "test": ("cabruca.agents.tester", "Test Results", "tester-001",
             {"test_type": "UNIT", "status": "PASSED", "duration_ms": 10}),
}

_last_ms = 0
_counter = 0


def uuid7():
    """A time-ordered UUID (version 7), strictly increasing within this process."""
    global _last_ms, _counter
    millis = int(time.time() * 1000)
    if millis <= _last_ms:
        _counter += 1
        millis = _last_ms
    else:
        _counter = 0
        _last_ms = millis
    rand = uuid.uuid4().int & ((1 << 50) - 1)
    value = (millis << 80) | (0x7 << 76) | ((_counter & 0xfff) << 64) | (0x2 << 62) | rand
    return str(uuid.UUID(int=value))


def parse_time(text):
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z").timestamp()


def iso(seconds):
    stamp = datetime.fromtimestamp(seconds, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (stamp.microsecond // 1000)


def events(args):
    kind, count, path = args[0], int(args[1]), args[2]
    source, detail_type, agent, fields = KINDS[kind]
    fields = dict(fields)
    start, step, pad, mode = time.time(), 0.0, 0, "w"
    index = 3
    while index < len(args):
        option = args[index]
        if option == "--append":
            mode = "a"
            index += 1
            continue
        value = args[index + 1]
        index += 2
        if option == "--time":
            start = parse_time(value)
        elif option == "--step-ms":
            step = int(value) / 1000.0
        elif option == "--pad":
            pad = int(value)
        elif option == "--set":
            name, text = value.split("=", 1)
            fields[name] = json.loads(text)
        else:
            raise SystemExit("events: unknown option " + option)
    with open(path, mode) as out:
        for number in range(count):
            event_id = uuid7()
            detail = {"schema_version": "1.0", "agent_id": agent, "correlation_id": event_id}
            detail.update(fields)
            if pad:
                detail["description"] = "x" * pad
            event = {"version": "0", "id": event_id, "detail-type": detail_type,
                     "source": source, "account": "local", "time": iso(start + number * step),
                     "region": "sa-east-1", "resources": [], "detail": detail}
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
    return 0


def sql(args):
    db = sqlite3.connect("file:%s?mode=ro" % args[0], uri=True, timeout=5)
    for row in db.execute(args[1]):
        print(" ".join("" if value is None else str(value) for value in row))
    return 0


def ids_of(path):
    with open(path) as lines:
        return [json.loads(line)["id"] for line in lines if line.strip()]


def records(paths):
    """(delivery, attempt, event_id, action, replay) of every whole line of the files."""
    out = []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path) as lines:
            for line in lines:
                parts = line.split()
                if line.endswith("\n") and len(parts) == 5:
                    out.append((int(parts[0]), int(parts[1]), parts[2], parts[3], parts[4]))
    return out


def covered(args):
    wanted = set(ids_of(args[0]))
    acked = {event_id for _, _, event_id, action, _ in records(args[1:]) if action == "ack"}
    return 0 if wanted <= acked else 1


def main():
    commands = {"events": events, "sql": sql, "covered": covered}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 100
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
