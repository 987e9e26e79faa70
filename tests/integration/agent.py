#!/usr/bin/env python3
"""A cabruca agent in Python, written from docs/protocol.md alone.

It proves the protocol document is enough: it speaks CAB/1 with nothing but
pyzmq (Debian's python3-zmq) and the standard library, publishes valid and
invalid events, and checks every ACK, NACK and ERROR against the document.

usage: agent.py ENDPOINT [COUNT]    (exit 0 when every check passed)
"""
import json
import sys
import time
import uuid

import zmq

SIGNATURE = b"CAB/1"
DEADLINE_S = 20.0
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def uuid7():
    """A time-ordered UUID (version 7): 48 bits of Unix milliseconds."""
    millis = int(time.time() * 1000)
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0x2 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def event(agent_id, severity="HIGH", event_id=None, source="cabruca.agents.monitor",
          detail_type="Issue Detection", pad=0):
    event_id = event_id or uuid7()
    return {
        "version": "0", "id": event_id, "detail-type": detail_type, "source": source,
        "account": "local", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "sa-east-1", "resources": [],
        "detail": {"schema_version": "1.0", "agent_id": agent_id, "correlation_id": event_id,
                   "severity": severity, "issue_type": "disk_full",
                   "description": "/var is full" + " " * pad},
    }


class Agent:
    def __init__(self, endpoint, agent_id):
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.agent_id = agent_id
        self.next_tag = 0

    def send(self, *frames):
        self.socket.send_multipart([SIGNATURE] + [f if isinstance(f, bytes) else f.encode()
                                                  for f in frames])

    def recv(self):
        """Next message that is not a HEARTBEAT, as a list of frames (signature dropped)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.socket.poll(100):
                frames = self.socket.recv_multipart()
                check(frames[0] == SIGNATURE, "every message starts with CAB/1")
                if frames[1] == b"HEARTBEAT":
                    continue
                return [frames[1].decode()] + frames[2:]
        raise TimeoutError("no answer from the broker")

    def hello(self):
        self.send("HELLO", self.agent_id, json.dumps({"client": "agent.py/1"}))
        reply = self.recv()
        check(reply[0] == "WELCOME", "HELLO is answered with WELCOME")
        self.settings = json.loads(reply[1])
        check(self.settings.get("protocol") == 1, "WELCOME says protocol 1")
        check(self.settings.get("max_in_flight", 0) >= 1, "WELCOME gives a window")

    def publish(self, text):
        self.next_tag += 1
        tag = str(self.next_tag)
        self.send("PUBLISH", tag, text if isinstance(text, bytes) else text.encode())
        return tag

    def answers(self, tags):
        """Collect the ACK/NACK of each tag (any order). Returns tag -> frames."""
        results = {}
        while len(results) < len(tags):
            reply = self.recv()
            check(reply[0] in ("ACK", "NACK"), "a PUBLISH is answered with ACK or NACK: %r" % reply[:2])
            tag = reply[1].decode()
            check(tag in tags and tag not in results, "one answer per tag (%s)" % tag)
            results[tag] = reply
        return results


def expect_nack(agent, text, code, name, pointer=None):
    tag = agent.publish(text)
    reply = agent.answers({tag})[tag]
    check(reply[0] == "NACK", "%s is refused" % name)
    if reply[0] == "NACK":
        check(int(reply[2]) == code and reply[3].decode() == name,
              "NACK %d %s, got %s %s (%s)" % (code, name, reply[2], reply[3], reply[5]))
        if pointer is not None:
            check(reply[4].decode() == pointer, "pointer %s, got %s" % (pointer, reply[4]))


def main():
    endpoint = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    agent = Agent(endpoint, "monitor-001")

    # No session yet: ERROR Disconnected.
    agent.send("PUBLISH", "0", "{}")
    reply = agent.recv()
    check(reply[0] == "ERROR" and int(reply[1]) == 21, "PUBLISH before HELLO: ERROR 21")

    agent.hello()
    window = min(agent.settings["max_in_flight"], 500)

    # Pipelined publishing within the window; every ACK carries a seq.
    sent, acked, seqs, ids = {}, 0, set(), {}
    pending = set()
    for index in range(count):
        body = event("monitor-001")
        tag = agent.publish(json.dumps(body))
        ids[tag] = body["id"]
        pending.add(tag)
        if len(pending) >= window:
            reply = agent.recv()
            check(reply[0] == "ACK", "valid events are ACKed: %r" % reply[:6])
            tag = reply[1].decode()
            pending.discard(tag)
            seqs.add(int(reply[2]))
            check(reply[3].decode() == ids[tag], "the ACK names the event id")
            check(reply[4] == b"stored", "a new event is 'stored'")
            acked += 1
    for tag, reply in agent.answers(pending).items():
        check(reply[0] == "ACK", "valid events are ACKed")
        seqs.add(int(reply[2]))
        acked += 1
    check(acked == count and len(seqs) == count, "%d events, %d distinct seqs" % (count, len(seqs)))

    # Idempotency: the same id again gets the original seq, 'duplicate'.
    body = event("monitor-001")
    first = agent.answers({agent.publish(json.dumps(body))})
    again = agent.answers({agent.publish(json.dumps(body))})
    (first,), (again,) = first.values(), again.values()
    check(again[0] == "ACK" and again[2] == first[2] and again[4] == b"duplicate",
          "a retried id is ACKed with its original seq")

    # Refusals, each with its stable code.
    expect_nack(agent, "{\"id\":", 4, "InvalidJson")
    expect_nack(agent, "{}", 8, "InvalidEnvelope")
    expect_nack(agent, json.dumps(event("monitor-001", severity="BAD")), 9, "SchemaViolation",
                "/detail/severity")
    expect_nack(agent, json.dumps(event("monitor-999")), 13, "AccessDenied", "/detail/agent_id")
    expect_nack(agent, json.dumps(event("monitor-001", source="cabruca.agents.tester")), 13,
                "AccessDenied", "/source")
    expect_nack(agent, json.dumps(event("monitor-001", pad=300000)), 6, "TooLarge")
    expect_nack(agent, b"\xff\xfe{}", 5, "InvalidUtf8")
    # A PUBLISH with a tag but no event: ProtocolError, by tag.
    agent.next_tag += 1
    agent.send("PUBLISH", str(agent.next_tag))
    reply = agent.recv()
    check(reply[0] == "NACK" and int(reply[2]) == 15, "PUBLISH without event: NACK 15")

    # Another protocol version, an unknown command.
    agent.socket.send_multipart([b"CAB/2", b"HELLO", b"monitor-001"])
    reply = agent.recv()
    check(reply[0] == "ERROR" and int(reply[1]) == 16, "CAB/2: ERROR 16 UnsupportedVersion")
    agent.send("FLY")
    reply = agent.recv()
    check(reply[0] == "ERROR" and int(reply[1]) == 15, "unknown command: ERROR 15")

    # Status, and goodbye.
    agent.send("STATUS")
    reply = agent.recv()
    check(reply[0] == "STATUS-REPLY", "STATUS is answered")
    status = json.loads(reply[1])
    check(status["stored"] >= count + 1, "status counts the stored events")
    check(status["nacked"].get("AccessDenied", 0) >= 2, "status counts refusals by code")
    agent.send("BYE")
    agent.socket.close()
    if failures:
        print("%d checks failed" % len(failures), file=sys.stderr)
        return 1
    print("agent.py: %d events ACKed, every check passed" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
