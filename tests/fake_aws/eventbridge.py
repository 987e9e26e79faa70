#!/usr/bin/env python3
"""A local stand-in for AWS EventBridge PutEvents (and for the IMDSv2 and
container credential endpoints), for cabruca's mirror tests. Stdlib only.

Modes:
  eventbridge  POST / with X-Amz-Target: AWSEvents.PutEvents, AWS JSON 1.1.
               Verifies SigV4 with its own implementation, enforces the
               PutEvents limits (10 entries, total entry size under 256 KB as
               AWS computes it), answers as AWS does, injects faults, and
               appends every accepted entry to --log (JSON lines).
  imds         EC2 instance metadata, IMDSv2 (PUT token, then GET).
  container    ECS/EKS container credentials (GET, Authorization header).

Prints "PORT <n>" on stdout once listening (use --port 0 for any port).
Control (eventbridge mode): POST /_control with a JSON object of settings
(throttle_rate, error500_rate, entry_fail_rate, entry_fail_code, delay_ms,
poison); GET /_stats for counters. Refused connections: stop the process and
start it again on the same port.
"""
import argparse
import datetime
import hashlib
import hmac
import http.server
import json
import random
import sys
import threading
import time
import urllib.parse
import uuid

MAX_ENTRIES = 10
MAX_SIZE = 262144
SKEW = datetime.timedelta(minutes=5)


def entry_size(entry):
    """Entry size as in "Calculating PutEvents event entry size"."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode("utf-8"))
    return size


def hmac_sha256(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    key = hmac_sha256(("AWS4" + secret).encode("utf-8"), date)
    key = hmac_sha256(key, region)
    key = hmac_sha256(key, service)
    return hmac_sha256(key, "aws4_request")


def canonical_uri(path):
    segments = path.split("/")
    return "/".join(urllib.parse.quote(urllib.parse.unquote(s), safe="-_.~") for s in segments)


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                     for k, v in pairs)
    return "&".join(k + "=" + v for k, v in encoded)


class Settings:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.throttle_rate = args.throttle_rate
        self.error500_rate = args.error500_rate
        self.entry_fail_rate = args.entry_fail_rate
        self.entry_fail_code = args.entry_fail_code
        self.delay_ms = args.delay_ms
        self.poison = args.poison
        self.random = random.Random(args.seed)
        self.stats = {"requests": 0, "accepted": 0, "throttled": 0, "errors500": 0,
                      "entry_failures": 0, "auth_failures": 0, "validation_errors": 0,
                      "credential_fetches": 0, "tokens": 0}
        self.log = open(args.log, "a") if args.log else None
        self.requests_log = open(args.requests_log, "a") if args.requests_log else None

    def chance(self, rate):
        with self.lock:
            return rate > 0 and self.random.random() < rate

    def count(self, name, n=1):
        with self.lock:
            self.stats[name] += n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once
    server_version = "fake-aws"
    sys_version = ""

    def log_message(self, *args):
        pass

    # -- plumbing ---------------------------------------------------------
    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, code, payload, content_type="application/x-amz-json-1.1", headers=()):
        data = payload if isinstance(payload, bytes) else (
            payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload).encode())
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def aws_error(self, code, name, message):
        self.reply(code, {"__type": name, "message": message})

    @property
    def settings(self):
        return self.server.settings

    # -- SigV4 -------------------------------------------------------------
    def verify_signature(self, body):
        """Returns None when the request is signed right, else (code, type, message)."""
        args = self.settings.args
        auth = self.headers.get("Authorization")
        if not auth:
            return (400, "MissingAuthenticationTokenException", "Missing Authentication Token")
        try:
            algorithm, rest = auth.split(" ", 1)
            fields = dict(part.strip().split("=", 1) for part in rest.split(","))
            credential = fields["Credential"].split("/")
            signed_headers = fields["SignedHeaders"]
            signature = fields["Signature"]
            key_id, date, region, service, terminal = credential
        except (ValueError, KeyError):
            return (400, "IncompleteSignatureException",
                    "Authorization header requires 'Credential', 'Signature' and "
                    "'SignedHeaders' parameters.")
        if algorithm != "AWS4-HMAC-SHA256" or terminal != "aws4_request":
            return (400, "IncompleteSignatureException", "Unsupported AWS 'algorithm'")
        amz_date = self.headers.get("X-Amz-Date")
        if not amz_date:
            return (400, "IncompleteSignatureException", "Missing X-Amz-Date header")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            return (400, "IncompleteSignatureException", "Invalid X-Amz-Date")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs(now - when) > SKEW:
            return (400, "InvalidSignatureException",
                    "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
                        amz_date, (now - SKEW).strftime("%Y%m%dT%H%M%SZ"),
                        now.strftime("%Y%m%dT%H%M%SZ")))
        if key_id != args.access_key:
            return (400, "UnrecognizedClientException",
                    "The security token included in the request is invalid.")
        if args.session_token and self.headers.get("X-Amz-Security-Token") != args.session_token:
            return (400, "UnrecognizedClientException",
                    "The security token included in the request is invalid.")
        if date != amz_date[:8] or region != args.region or service != "events":
            return (400, "InvalidSignatureException",
                    "Credential should be scoped to a valid region, service and date.")
        names = signed_headers.split(";")
        if "host" not in names:
            return (400, "InvalidSignatureException", "'Host' must be a signed header.")
        lines = []
        for name in names:
            values = self.headers.get_all(name) or []
            value = ",".join(" ".join(v.strip().split()) for v in values)
            lines.append(name + ":" + value + "\n")
        path, _, query = self.path.partition("?")
        canonical = "\n".join([self.command, canonical_uri(path), canonical_query(query),
                               "".join(lines), signed_headers,
                               hashlib.sha256(body).hexdigest()])
        scope = "/".join([date, region, service, "aws4_request"])
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        key = signing_key(args.secret_key, date, region, service)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return (400, "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.")
        return None

    # -- EventBridge ---------------------------------------------------------
    def do_POST(self):
        mode = self.settings.args.mode
        body = self.body()
        if self.path == "/_control":
            return self.control(body)
        if mode != "eventbridge":
            return self.reply(404, "not found", "text/plain")
        settings = self.settings
        settings.count("requests")
        problem = self.verify_signature(body)
        if problem:
            settings.count("auth_failures")
            return self.aws_error(*problem)
        if self.headers.get("X-Amz-Target") != "AWSEvents.PutEvents":
            return self.aws_error(400, "UnknownOperationException", "")
        if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
            return self.aws_error(400, "SerializationException", "Wrong content type")
        if settings.delay_ms:
            time.sleep(settings.delay_ms / 1000.0)
        try:
            request = json.loads(body)
            entries = request["Entries"]
            assert isinstance(entries, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            return self.aws_error(400, "SerializationException", "Start of structure or map found where not expected.")
        if not entries or len(entries) > MAX_ENTRIES:
            settings.count("validation_errors")
            return self.aws_error(400, "ValidationException",
                                  "1 validation error detected: Value at 'entries' failed to "
                                  "satisfy constraint: Member must have length less than or "
                                  "equal to 10")
        if sum(entry_size(e) for e in entries) >= MAX_SIZE:
            settings.count("validation_errors")
            return self.aws_error(400, "ValidationException",
                                  "Total size of the entries in the request is over the limit.")
        if settings.chance(settings.error500_rate):
            settings.count("errors500")
            return self.aws_error(500, "InternalException", "Internal service error.")
        if settings.chance(settings.throttle_rate):
            settings.count("throttled")
            return self.aws_error(400, "ThrottlingException", "Rate exceeded")
        results, accepted, failed = [], [], 0
        for entry in entries:
            code = self.entry_problem(entry)
            if code:
                failed += 1
                results.append({"ErrorCode": code[0], "ErrorMessage": code[1]})
            else:
                event_id = str(uuid.uuid4())
                results.append({"EventId": event_id})
                accepted.append(dict(entry, EventId=event_id))
        settings.count("accepted", len(accepted))
        settings.count("entry_failures", failed)
        self.record(entries, results, accepted)
        self.reply(200, {"FailedEntryCount": failed, "Entries": results})

    def entry_problem(self, entry):
        settings = self.settings
        for key in ("Source", "DetailType", "Detail"):
            if not isinstance(entry.get(key), str) or not entry.get(key):
                return ("InvalidArgument", "Parameter %s is not valid." % key)
        try:
            detail = json.loads(entry["Detail"])
            assert isinstance(detail, dict)
        except (ValueError, AssertionError):
            return ("MalformedDetail", "Detail is malformed.")
        if "Time" in entry and not isinstance(entry["Time"], (int, float)):
            return ("InvalidArgument", "Parameter Time is not valid.")
        if settings.poison and settings.poison in entry["Detail"]:
            return ("MalformedDetail", "Detail is malformed.")
        if settings.chance(settings.entry_fail_rate):
            return (settings.entry_fail_code,
                    "Rate exceeded" if settings.entry_fail_code == "ThrottlingException"
                    else "Internal failure")
        return None

    def record(self, entries, results, accepted):
        settings = self.settings
        with settings.lock:
            if settings.log:
                for entry in accepted:
                    settings.log.write(json.dumps(entry, sort_keys=True) + "\n")
                settings.log.flush()
            if settings.requests_log:
                settings.requests_log.write(json.dumps({
                    "entries": [json.loads(e["Detail"]).get("n") if isinstance(e.get("Detail"), str)
                                and e["Detail"].startswith("{") else None for e in entries],
                    "results": [r.get("ErrorCode", "ok") for r in results]}) + "\n")
                settings.requests_log.flush()

    def control(self, body):
        settings = self.settings
        try:
            changes = json.loads(body or b"{}")
            with settings.lock:
                for key, value in changes.items():
                    if key not in ("throttle_rate", "error500_rate", "entry_fail_rate",
                                   "entry_fail_code", "delay_ms", "poison"):
                        raise ValueError(key)
                    setattr(settings, key, value)
        except (ValueError, AttributeError) as error:
            return self.reply(400, {"error": str(error)}, "application/json")
        self.reply(200, {"ok": True}, "application/json")

    # -- credentials endpoints ------------------------------------------------
    def credentials(self):
        args = self.settings.args
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=args.expires_in)
        self.settings.count("credential_fetches")
        return {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": args.access_key,
                "SecretAccessKey": args.secret_key, "Token": args.session_token or "",
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")}

    def do_PUT(self):
        self.body()
        if self.settings.args.mode != "imds" or self.path != "/latest/api/token":
            return self.reply(404, "not found", "text/plain")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "", "text/plain")
        self.settings.count("tokens")
        self.reply(200, self.server.imds_token, "text/plain",
                   [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

    def do_GET(self):
        settings = self.settings
        args = settings.args
        if self.path == "/_stats":
            with settings.lock:
                return self.reply(200, dict(settings.stats), "application/json")
        if args.mode == "imds":
            if self.headers.get("X-aws-ec2-metadata-token") != self.server.imds_token:
                return self.reply(401, "", "text/plain")
            prefix = "/latest/meta-data/iam/security-credentials/"
            if self.path == prefix:
                return self.reply(200, "cabruca-role", "text/plain")
            if self.path == prefix + "cabruca-role":
                return self.reply(200, self.credentials(), "text/plain")
            return self.reply(404, "", "text/plain")
        if args.mode == "container":
            if args.auth_token and self.headers.get("Authorization") != args.auth_token:
                return self.reply(403, {"message": "bad token"}, "application/json")
            return self.reply(200, self.credentials(), "application/json")
        self.reply(404, "not found", "text/plain")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["eventbridge", "imds", "container"],
                        default="eventbridge")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--access-key", default="AKIDCABRUCATEST")
    parser.add_argument("--secret-key", default="cabruca/secret/key")
    parser.add_argument("--session-token", default="")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--auth-token", default="")
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--log", help="append accepted entries here (JSON lines)")
    parser.add_argument("--requests-log", help="append one line per answered request")
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--error500-rate", type=float, default=0.0)
    parser.add_argument("--entry-fail-rate", type=float, default=0.0)
    parser.add_argument("--entry-fail-code", default="ThrottlingException")
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--poison", default="", help="entries whose Detail contains this fail "
                        "with MalformedDetail")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.settings = Settings(args)
    server.imds_token = uuid.uuid4().hex
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as out:
            out.write("%d\n" % port)
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print("PORT %d" % port, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
