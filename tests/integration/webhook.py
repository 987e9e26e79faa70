#!/usr/bin/env python3
"""A recording webhook for the http target tests (delivery-targets.sh).

usage: webhook.py PORT_FILE LOG_FILE [STATUS]

Listens on 127.0.0.1, on a port of the system's choosing, written to
PORT_FILE once it listens. Every request is appended to LOG_FILE as one JSON
line {"time", "method", "path", "headers" (names in lower case), "body",
"status"}
and answered with:
  /status/NNN    status NNN, every time;
  /flaky/NNN     status NNN the first time this path is asked, 200 after;
  anything else  STATUS (default 200).
Only the standard library; stops on SIGTERM.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
lock = threading.Lock()
seen = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY)) if length else b""
        parts = self.path.strip("/").split("/")
        status = self.server.default_status
        with lock:
            if len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
                status = int(parts[1])
            elif len(parts) == 2 and parts[0] == "flaky" and parts[1].isdigit():
                status = 200 if self.path in seen else int(parts[1])
                seen.add(self.path)
            record = {"time": time.time(), "method": self.command, "path": self.path,
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": body.decode("utf-8", "replace"), "status": status}
            with open(self.server.log_path, "a") as log:
                log.write(json.dumps(record) + "\n")
        reply = b'{"ok":%s}' % (b"true" if 200 <= status < 300 else b"false")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = answer
    do_PUT = answer
    do_GET = answer

    def log_message(self, format, *args):
        pass


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 100
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.log_path = sys.argv[2]
    server.default_status = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    temporary = sys.argv[1] + ".tmp"
    with open(temporary, "w") as out:
        out.write("%d\n" % server.server_address[1])
    os.rename(temporary, sys.argv[1])
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
