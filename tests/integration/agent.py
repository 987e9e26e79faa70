#!/usr/bin/env python3
"""A cabruca agent in Python, written from docs/protocol.md alone.

It proves the protocol document is enough: it speaks CAB/1 with nothing but
pyzmq (Debian's python3-zmq) and the standard library, publishes valid and
invalid events, and checks every ACK, NACK and ERROR against the document.

usage: agent.py ENDPOINT [COUNT]    (exit 0 when every check passed)
       agent.py consume ENDPOINT    (the consuming side: SUBSCRIBE, DELIVER,
                                     DACK, DNACK, UNSUBSCRIBE, CONTROL; the broker
                                     routes Feature Requests to the queue
                                     product-management, py-consumer may consume)
"""
import json
import os
import sys
import time
import uuid

import zmq

SIGNATURE = b"CAB/1"
DEADLINE_S = 20.0
INVALID_ARGUMENT = 2  # docs/errors.md
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def trace(text):
    """With AGENT_DEBUG=1 in the environment: what is sent and delivered, timed."""
    if os.environ.get("AGENT_DEBUG"):
        print("%.3f %s" % (time.monotonic(), text), file=sys.stderr)


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
        if frames[0] != "HEARTBEAT":
            trace("%s -> %s" % (self.agent_id, frames[:2]))
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


def feature(priority="MEDIUM"):
    event_id = uuid7()
    return {
        "version": "0", "id": event_id, "detail-type": "Feature Request",
        "source": "cabruca.agents.product", "account": "local",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": "sa-east-1",
        "resources": [],
        "detail": {"schema_version": "1.0", "agent_id": "product-001", "correlation_id": event_id,
                   "priority": priority, "feature_type": "RELIABILITY", "title": "consume",
                   "description": "an event for agent.py consume"},
    }


class Consumer(Agent):
    """The consuming side of CAB/1: subscriptions, deliveries, acknowledgements."""

    def subscribe(self, queue, options=None):
        self.send("SUBSCRIBE", queue, *([json.dumps(options)] if options is not None else []))
        reply = self.recv()
        check(reply[:2] == ["SUBSCRIBED", queue.encode()],
              "SUBSCRIBE %s is answered with SUBSCRIBED %s: %r" % (queue, queue, reply[:3]))
        settings = json.loads(reply[2]) if len(reply) > 2 else {}
        check(settings.get("ok") is True, "SUBSCRIBED says ok: %r" % settings)
        check(settings.get("ack_timeout_ms", 0) > 0, "SUBSCRIBED gives the ack timeout")
        check(settings.get("max_in_flight", 0) >= 1, "SUBSCRIBED gives the window")
        return settings

    def refused(self, queue, options, code, name):
        """A SUBSCRIBE the broker refuses: SUBSCRIBED queue {"ok": false, ...}."""
        self.send("SUBSCRIBE", queue, json.dumps(options))
        reply = self.recv()
        check(reply[:2] == ["SUBSCRIBED", queue.encode()], "a refused SUBSCRIBE is answered: %r" % reply[:3])
        answer = json.loads(reply[2]) if len(reply) > 2 else {}
        check(answer.get("ok") is False and answer.get("code") == code and answer.get("error") == name,
              "SUBSCRIBE %s refused with %d %s: %r" % (queue, code, name, answer))
        return answer

    def deliveries(self, until, seconds=DEADLINE_S, ack=False):
        """Receive DELIVER messages until until(list) is true or `seconds` pass
        (acknowledging each at once when ack); returns the list of
        (delivery-id, queue, attempt, event dict)."""
        got = []
        deadline = time.monotonic() + seconds
        beat = self.settings.get("heartbeat_ms", 1000) / 1000.0
        next_beat = time.monotonic() + beat
        while not until(got) and time.monotonic() < deadline:
            if time.monotonic() >= next_beat:
                self.send("HEARTBEAT")  # a consumer that waits must still show it is alive
                next_beat = time.monotonic() + beat
            if not self.socket.poll(50):
                continue
            frames = self.socket.recv_multipart()
            check(frames[0] == SIGNATURE, "every message starts with CAB/1")
            if frames[1] == b"HEARTBEAT":
                continue
            check(frames[1] == b"DELIVER" and len(frames) == 6,
                  "DELIVER delivery-id queue attempt event: %r" % frames[1:3])
            if frames[1] != b"DELIVER" or len(frames) != 6:
                continue
            check(frames[2].isdigit() and 1 <= len(frames[2]) <= 20, "delivery-id is 1*20DIGIT")
            check(frames[4].isdigit() and 1 <= len(frames[4]) <= 3, "attempt is 1*3DIGIT")
            trace("DELIVER %s %s %s" % (frames[2], frames[3], frames[4]))
            got.append((int(frames[2]), frames[3].decode(), int(frames[4]), json.loads(frames[5])))
            if ack:
                self.send("DACK", frames[2])
        return got


def consume(endpoint):
    """SUBSCRIBE, the window, DELIVER, DNACK and its redelivery, DACK, run-time
    pattern subscriptions (ephemeral and durable), UNSUBSCRIBE, CONTROL."""
    publisher = Agent(endpoint, "product-001")
    publisher.hello()
    consumer = Consumer(endpoint, "py-consumer")
    consumer.hello()
    settings = consumer.subscribe("product-management", {"max_in_flight": 5})
    check(settings.get("max_in_flight") == 5, "the window asked for is granted: %r" % settings)

    def publish(events):
        publisher.hello()  # a new session: the old one may have timed out while we consumed
        tags = {publisher.publish(json.dumps(e)): e["id"] for e in events}
        for reply in publisher.answers(set(tags)).values():
            check(reply[0] == "ACK", "a Feature Request is ACKed: %r" % reply[:6])
        return [e["id"] for e in events]

    # 20 events; the window holds 5 unacknowledged deliveries at most.
    ids = publish([feature() for _ in range(20)])
    first = consumer.deliveries(lambda got: len(got) >= 5)
    check(len(first) == 5, "5 deliveries fill the window (got %d)" % len(first))
    more = consumer.deliveries(lambda got: False, seconds=0.5)
    check(not more, "no DELIVER beyond max_in_flight while none is acknowledged (got %d)" % len(more))
    for delivery, queue, attempt, body in first:
        check(queue == "product-management" and attempt == 1, "a first delivery: %s %d" % (queue, attempt))
        check(body["id"] in ids, "a delivered event is one that was published")
    # Refuse the first; acknowledge the rest as they come; the refused one comes back.
    refused = first[0]
    consumer.send("DNACK", str(refused[0]), "agent.py says later")
    acked = set()
    seen = first[1:] + more
    while True:
        for delivery, queue, attempt, body in seen:
            consumer.send("DACK", str(delivery))
            acked.add(body["id"])
            if delivery == refused[0]:
                check(attempt == 2 and body["id"] == refused[3]["id"],
                      "the refused delivery comes back as attempt 2 with the same event id")
        if acked >= set(ids):
            break
        seen = consumer.deliveries(lambda got: len(got) >= 1)
        if not seen:
            break
    check(acked == set(ids), "every event delivered and acknowledged (%d of %d)" % (len(acked), len(ids)))
    extra = consumer.deliveries(lambda got: False, seconds=0.3)
    check(not extra, "nothing delivered again once acknowledged (got %r)" % [d[:3] for d in extra])

    # A DACK for a delivery already settled is ignored: no answer, no ERROR.
    consumer.send("DACK", str(refused[0]))
    consumer.send("STATUS")
    reply = consumer.recv()
    check(reply[0] == "STATUS-REPLY", "a second DACK is ignored (next: %r)" % reply[:3])

    # Subscriptions the broker refuses: a bad pattern; durable without a pattern.
    answer = consumer.refused("py-bad", {"pattern": {"detail": {"priority": "HIGH"}}}, 12, "InvalidPattern")
    check(answer.get("path", "").startswith("/pattern"), "the refusal points into the pattern: %r" % answer)
    consumer.refused("py-bad", {"durable": True}, INVALID_ARGUMENT, "InvalidArgument")

    # A run-time subscription with a pattern: only HIGH Feature Requests.
    consumer.subscribe("py-high", {"pattern": {"source": ["cabruca.agents.product"],
                                               "detail": {"priority": ["HIGH"]}},
                                   "max_in_flight": 10})
    high = publish([feature("HIGH") for _ in range(3)])
    low = publish([feature("LOW") for _ in range(3)])
    # (acknowledged as they come: the queue's window is 5)
    got = consumer.deliveries(lambda got: len(got) >= 9, ack=True)
    got += consumer.deliveries(lambda got: False, seconds=0.3, ack=True)
    by_queue = {}
    for delivery, queue, attempt, body in got:
        by_queue.setdefault(queue, []).append(body["id"])
    check(sorted(by_queue.get("py-high", [])) == sorted(high),
          "the pattern subscription gets exactly the HIGH events")
    check(sorted(by_queue.get("product-management", [])) == sorted(high + low),
          "the rule's queue still gets every Feature Request: %d of 6, %d duplicates"
          % (len(set(by_queue.get("product-management", [])) & set(high + low)),
             len(by_queue.get("product-management", [])) - len(set(by_queue.get("product-management", [])))))
    consumer.send("UNSUBSCRIBE", "py-high")
    later = publish([feature("HIGH")])
    got = consumer.deliveries(lambda got: len(got) >= 1, ack=True)
    got += consumer.deliveries(lambda got: False, seconds=0.3, ack=True)
    check([(q, b["id"]) for _, q, _, b in got] == [("product-management", later[0])],
          "after UNSUBSCRIBE only the rule's queue gets events: %r" % [(q, b["id"]) for _, q, _, b in got])

    # A durable pattern subscription keeps routing while nobody consumes the
    # queue: the deliveries wait, and come when a durable subscriber is back.
    critical = {"pattern": {"source": ["cabruca.agents.product"], "detail": {"priority": ["CRITICAL"]}},
                "durable": True, "max_in_flight": 10}
    first = Consumer(endpoint, "py-consumer")
    first.hello()
    first.subscribe("py-durable", critical)
    first.send("BYE")
    first.socket.close()
    waiting = publish([feature("CRITICAL") for _ in range(2)])
    got = consumer.deliveries(lambda got: len(got) >= 2, ack=True)  # (the rule's queue)
    check(sorted(b["id"] for _, q, _, b in got if q == "product-management") == sorted(waiting),
          "the rule's queue gets the CRITICAL events too")
    second = Consumer(endpoint, "py-consumer")
    second.hello()
    second.subscribe("py-durable", critical)
    got = second.deliveries(lambda got: len(got) >= 2, ack=True)
    check(sorted((q, b["id"]) for _, q, _, b in got) == sorted(("py-durable", i) for i in waiting),
          "the durable queue kept its events while nobody consumed it: %r" % [(q, b["id"]) for _, q, _, b in got])
    # UNSUBSCRIBE from a durable subscriber drops the pattern.
    second.send("UNSUBSCRIBE", "py-durable")
    second.send("STATUS")
    check(second.recv()[0] == "STATUS-REPLY", "STATUS after UNSUBSCRIBE")
    after = publish([feature("CRITICAL")])
    got = consumer.deliveries(lambda got: len(got) >= 1, ack=True)
    got += consumer.deliveries(lambda got: False, seconds=0.3, ack=True)
    check([(q, b["id"]) for _, q, _, b in got] == [("product-management", after[0])],
          "after UNSUBSCRIBE the durable pattern routes nothing: %r" % [(q, b["id"]) for _, q, _, b in got])
    second.send("SUBSCRIBE", "py-durable", json.dumps({"max_in_flight": 10}))
    check(second.recv()[0] == "SUBSCRIBED", "a plain SUBSCRIBE to the queue")
    left = second.deliveries(lambda got: False, seconds=0.3, ack=True)
    check(not left, "nothing waits in the durable queue any more: %r" % [(q, b["id"]) for _, q, _, b in left])
    second.send("STATUS")
    check(second.recv()[0] == "STATUS-REPLY", "STATUS after the DACKs")
    second.send("BYE")
    second.socket.close()

    # CONTROL needs no session.
    monitor = Agent(endpoint, "none")
    monitor.send("CONTROL", json.dumps({"op": "replay-status", "name": "no-such-replay"}))
    reply = monitor.recv()
    check(reply[0] == "CONTROL-REPLY", "CONTROL is answered with CONTROL-REPLY: %r" % reply[:2])
    if reply[0] == "CONTROL-REPLY":
        answer = json.loads(reply[1])
        check(isinstance(answer.get("ok"), bool), "a CONTROL-REPLY says ok: %r" % answer)
        if answer.get("ok") is False:
            check(isinstance(answer.get("code"), int) and answer.get("error"), "a refusal has code and error")
    monitor.send("CONTROL", json.dumps({"op": "fly"}))
    reply = monitor.recv()
    check(reply[0] == "CONTROL-REPLY" and json.loads(reply[1]).get("ok") is False,
          "an unknown control op is refused: %r" % reply[:2])
    # A SUBSCRIBE with a bad queue name is refused, not subscribed.
    consumer.send("SUBSCRIBE", "no spaces allowed")
    reply = consumer.recv()
    check(reply[0] == "ERROR", "a bad queue name is refused with ERROR: %r" % reply[:3])

    # A round trip, so that every DACK has reached the broker before the socket closes.
    consumer.send("STATUS")
    reply = consumer.recv()
    check(reply[0] == "STATUS-REPLY", "STATUS after the DACKs: %r" % reply[:2])
    for agent in (publisher, consumer, monitor):
        agent.send("BYE")
        agent.socket.close()
    if failures:
        print("%d checks failed" % len(failures), file=sys.stderr)
        return 1
    print("agent.py consume: %d + 10 events delivered, the window held, DNACK redelivered, "
          "pattern subscriptions (ephemeral and durable) and UNSUBSCRIBE worked, every check passed"
          % len(ids))
    return 0


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
    if len(sys.argv) > 2 and sys.argv[1] == "consume":
        return consume(sys.argv[2])
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
