#!/usr/bin/env python3
"""seeds.py - write the seed inputs of tests/fuzz/corpus/<target>/seed-*.

    python3 tests/fuzz/seeds.py        (from the top of the tree)

Seeds come from the tree's own data: the example events, the event
schemas, the pattern conformance suite, the default rule file, the broker
manual's configuration, docs/protocol.md's messages, and one schema per
group of the JSON Schema Test Suite (draft 7) when it is installed. Only
seed-* files are rewritten: inputs kept from fuzzing runs (cov-*) and
inputs that once failed (regress-*) stay.
"""
import glob
import json
import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, 'tests', 'fuzz', 'corpus')
JSTS = os.environ.get('JSTS_DIR', '/usr/share/json-schema-test-suite')


def compact(value):
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False)


def write(target, seeds):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    for old in glob.glob(os.path.join(directory, 'seed-*')):
        os.remove(old)
    seen = set()
    count = 0
    for name, data in seeds:
        if isinstance(data, str):
            data = data.encode('utf-8')
        if data in seen or len(data) > 12000:
            continue
        seen.add(data)
        count += 1
        with open(os.path.join(directory, 'seed-%03d-%s' % (count, name)), 'wb') as out:
            out.write(data)
    print('%-16s %3d seeds' % (target, count))


def lines(pattern):
    for path in sorted(glob.glob(os.path.join(TOP, pattern))):
        base = os.path.basename(path).split('.')[0]
        kind = 'valid' if '.valid.' in path else 'invalid'
        for number, line in enumerate(open(path, encoding='utf-8').read().splitlines()):
            if line.strip():
                yield '%s-%s-%d' % (base, kind, number), line


def pattern_cases():
    for path in sorted(glob.glob(os.path.join(TOP, 'tests/conformance/patterns/*.json'))):
        base = os.path.basename(path)[:-5]
        for number, case in enumerate(json.load(open(path, encoding='utf-8'))):
            yield base, number, case


def rules():
    return json.load(open(os.path.join(TOP, 'schemas/rules/default.json'), encoding='utf-8'))


events = list(lines('schemas/examples/*.json'))
write('event', events + [
    ('deep', '[' * 70 + ']' * 70),
    ('bad-utf8', b'{"version":"0","source":"\xff"}'),
    ('not-object', '[1,2,3]'),
])

write('json', [(name, data) for name, data in events[:6]] + [
    ('scalars', '[0,-0,1.5,-1e-400,1E2,true,false,null,"\\u00e9\\ud83d\\ude00"]'),
    ('big-integer', '[9223372036854775807,-9223372036854775808]'),
    ('too-big-integer', '[9223372036854775808]'),
    ('real-overflow', '[1e400]'),
    ('nul', '["a\\u0000b"]'),
    ('nul-key', '{"a\\u0000":1}'),
    ('duplicate', '{"a":1,"a":2}'),
    ('deep', '[' * 128 + ']' * 128),
    ('too-deep', '[' * 129 + ']' * 129),
    ('scalar', '"top"'),
    ('lone-surrogate', '["\\ud800"]'),
    ('escapes', '{"k\\n\\"\\/":"\\b\\f\\r\\t"}'),
    ('whitespace', ' \t\r\n{ "a" : [ 1 , 2 ] }\n'),
])

schemas = []
for path in sorted(glob.glob(os.path.join(TOP, 'schemas/events/*.json')) +
                   [os.path.join(TOP, 'schemas/envelope.json')] +
                   sorted(glob.glob(os.path.join(TOP, 'schemas/config/*.json')))):
    schemas.append((os.path.basename(path)[:-5], compact(json.load(open(path)))))
for path in sorted(glob.glob(os.path.join(JSTS, 'tests/draft7/*.json'))):
    base = os.path.basename(path)[:-5]
    for number, group in enumerate(json.load(open(path, encoding='utf-8'))):
        schemas.append(('jsts-%s-%d' % (base, number), compact(group['schema'])))
schemas.append(('remote-ref', '{"$ref":"http://fuzz.example/a#/definitions/a"}'))
write('schema_compile', schemas)

instances = events[:]
for path in sorted(glob.glob(os.path.join(JSTS, 'tests/draft7/*.json')))[:12]:
    base = os.path.basename(path)[:-5]
    for number, group in enumerate(json.load(open(path, encoding='utf-8'))):
        for test_number, test in enumerate(group['tests'][:2]):
            instances.append(('jsts-%s-%d-%d' % (base, number, test_number),
                              compact(test['data'])))
write('schema_validate', instances)

#  schema_regex: every pattern of the shipped schemas, "\n", a subject.
def schema_patterns(value):
    if isinstance(value, dict):
        for key, member in value.items():
            if key == 'pattern' and isinstance(member, str):
                yield member
            else:
                yield from schema_patterns(member)
    elif isinstance(value, list):
        for member in value:
            yield from schema_patterns(member)


regex_patterns = []
for path in sorted(glob.glob(os.path.join(TOP, 'schemas', '*.json')) +
                   glob.glob(os.path.join(TOP, 'schemas', 'events', '*.json')) +
                   glob.glob(os.path.join(TOP, 'schemas', 'config', '*.json'))):
    for pattern in schema_patterns(json.load(open(path, encoding='utf-8'))):
        if pattern not in regex_patterns:
            regex_patterns.append(pattern)
subjects = ['', '0190c6f5-8f4b-7a3c-9d2e-1f0a2b3c4d5e', 'monitor-001', '1.0', 'aws.ec2',
            'sa-east-1', '2026-11-23T07:00:00.5Z', 'abc1234', 'https://x', 'disk_full',
            'ipc:///tmp/x', 'caf\u00e9']
regex_seeds = []
for number, pattern in enumerate(regex_patterns):
    for index, subject in enumerate(subjects):
        regex_seeds.append(('%d-%d' % (number, index), pattern + '\n' + subject))
    regex_seeds.append(('%d-bad-utf8' % number, pattern.encode('utf-8') + b'\n' +
                        subjects[number % len(subjects)].encode('utf-8') + b'\xff'))
write('schema_regex', regex_seeds)

patterns = []
match_events = []
for base, number, case in pattern_cases():
    text = case.get('pattern_text')
    patterns.append(('%s-%d' % (base, number),
                     text if text is not None else compact(case.get('pattern'))))
    if 'event_text' in case:
        match_events.append(('%s-%d' % (base, number), case['event_text']))
    elif 'event' in case:
        match_events.append(('%s-%d' % (base, number), compact(case['event'])))
for rule in rules()['rules']:
    patterns.append(('default-' + rule['name'], compact(rule['event_pattern'])))
write('pattern_compile', patterns)
write('pattern_match', match_events + events)

event = events[0][1]
protocol = [
    ('hello', 'CAB/1\nHELLO\nmonitor-001'),
    ('hello-options', 'CAB/1\nHELLO\nmonitor-001\n{"window":100}'),
    ('welcome', 'CAB/1\nWELCOME\n{"protocol":1,"heartbeat_ms":1000,"timeout_ms":5000}'),
    ('publish', 'CAB/1\nPUBLISH\n1\n' + event),
    ('ack', 'CAB/1\nACK\n1\n41\n0193a5b2-7c10-7001-8001-000000000001\nstored'),
    ('ack-duplicate', 'CAB/1\nACK\n3\n41\n0193a5b2-7c10-7001-8001-000000000001\nduplicate'),
    ('nack', 'CAB/1\nNACK\n2\n9\nSchemaViolation\n/detail/severity\nenum: must be one of'),
    ('heartbeat', 'CAB/1\nHEARTBEAT'),
    ('status', 'CAB/1\nSTATUS'),
    ('status-reply', 'CAB/1\nSTATUS-REPLY\n{"broker":"cabruca 0.1.0","protocol":1}'),
    ('error', 'CAB/1\nERROR\n15\nProtocolError\nunknown command'),
    ('bye', 'CAB/1\nBYE'),
    ('subscribe', 'CAB/1\nSUBSCRIBE\nalerts\n{"source":["cabruca.agents.monitor"]}'),
    ('unsubscribe', 'CAB/1\nUNSUBSCRIBE\nalerts'),
    ('subscribed', 'CAB/1\nSUBSCRIBED\nalerts\n{"rule":"sub:alerts"}'),
    ('deliver', 'CAB/1\nDELIVER\n7\nalerts\n1\n' + event),
    ('dack', 'CAB/1\nDACK\n7'),
    ('dnack', 'CAB/1\nDNACK\n7\nbusy'),
    ('control', 'CAB/1\nCONTROL\n{"command":"status"}'),
    ('control-reply', 'CAB/1\nCONTROL-REPLY\n{"ok":true}'),
    ('version-2', 'CAB/2\nHELLO\nx'),
    ('unknown', 'CAB/1\nFROB\nx'),
]
write('proto', protocol)

config = {
    "endpoints": ["ipc:///run/cabruca/broker.ipc", "tcp://127.0.0.1:5570"],
    "store": {"path": "/var/lib/cabruca/events.db", "durability": "normal"},
    "schemas": "/usr/share/cabruca/schemas",
    "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]}, "ops": {"sources": ["*"]}},
    "limits": {"max_in_flight": 1000, "heartbeat_ms": 1000, "timeout_ms": 5000,
               "batch_max": 1000, "max_peers": 1024, "validators": 0},
}
full = dict(config, rules="rules.json", data_dir="data",
            archive={"retention_days": 30},
            dead_letters={"standard_days": 14, "critical_days": 4},
            delivery={"ack_timeout_ms": 30000, "backoff_base_ms": 1000,
                      "backoff_max_ms": 60000, "max_pending_in_memory": 10000,
                      "sweep_every_ms": 1000})
write('broker_config', [
    ('manual', compact(config)),
    ('full', compact(full)),
    ('minimal', '{"endpoints":["tcp://127.0.0.1:*"],"store":{"path":"e.db"}}'),
    ('bad-limit', compact(dict(config, limits={"max_in_flight": 0}))),
])

rule_file = rules()
seeds = [('default', compact(rule_file))]
for rule in rule_file['rules']:
    seeds.append(('one-' + rule['name'], compact({"rules": [rule]})))
write('rules', seeds)

transforms = []
for rule in rule_file['rules']:
    for target in rule['targets']:
        if 'input_transformer' in target:
            transforms.append(('%s-%s' % (rule['name'], target['id']),
                               compact(target['input_transformer']) + '\n' + event))
transforms.append(('reserved', compact({
    "input_paths_map": {"s": "$.source", "all": "$"},
    "input_template": '{"rule":<aws.events.rule-name>,"e":<aws.events.event>,"s":"<s>",'
                      '"t":<aws.events.event.ingestion-time>,"j":<aws.events.event.json>}'}) +
    '\n' + event))
transforms.append(('plain-text', compact({
    "input_paths_map": {"d": "$.detail.description"},
    "input_template": "issue: <d>"}) + '\n' + event))
write('transform', transforms)

#  The mirror's budget (docs/budget.md): the manual's section and edges.
budget = {
    "monthly_budget_usd": 10, "alarm_percent": 90,
    "prices": {"per_million_entries": 1.00, "per_million_matches": 0.64},
    "caps": {"monitor": {"per_hour": 2100, "per_day": 50000},
             "product": {"per_hour": 200, "per_day": 5000},
             "developer": {"per_hour": 850, "per_day": 20000},
             "tester": {"per_hour": 1250, "per_day": 30000}},
    "default_cap": {"per_hour": None, "per_day": None},
    "policies": [{"source": "cabruca.agents.monitor", "detail_type": "Heartbeat",
                  "policy": "sample", "sample_every": 10},
                 {"rule": "archive-everything", "policy": "shed"}],
    "default_policy": "defer",
    "always_mirror": [{"source": ["cabruca.agents.monitor"], "detail-type": ["Issue Detection"],
                       "detail": {"severity": ["CRITICAL"]}},
                      {"source": ["cabruca.agents.tester"], "detail-type": ["Test Results"],
                       "detail": {"status": ["FAILED"]}}]}
write('budget_config', [
    ('manual', compact(budget)),
    ('empty', '{}'),
    ('tiny-caps', compact({"monthly_budget_usd": 0.0001, "caps": {"monitor": {"per_hour": 1, "per_day": 1}},
                           "default_cap": {"per_hour": 1, "per_day": 2}})),
    ('zero-budget', compact({"monthly_budget_usd": 0, "default_policy": "shed"})),
    ('sample-all', compact({"default_policy": "sample", "sample_every": 3,
                            "caps": {"tester": {"per_hour": 0}}})),
    ('prefix-policy', compact({"policies": [{"source": "cabruca.agents.*", "policy": "shed"}]})),
    ('bad-cap', compact({"caps": {"monitor": {"per_hour": -1}}})),
    ('bad-key', compact({"monthly": 10})),
    ('bad-pattern', compact({"always_mirror": [{"source": [{"prefix": 1}]}]})),
    ('many-types', compact({"caps": {"t%d" % n: {"per_hour": n} for n in range(70)}})),
])

state = {"version": 1,
         "windows": {"hour": 1795341600000, "day": 1795305600000, "month": 1793491200000},
         "month": {"entries": 158, "chunks": 165, "matches": 14, "cost_pusd": 173960000,
                   "mirrored": 158, "bypassed": 0, "sample_mirrored": 0,
                   "deferred": 0, "deferrals": 0, "sampled": 0, "shed": 0},
         "alarm_at": None, "limit_at": None,
         "types": {"product": {"hour": 150, "day": 150, "mirrored": 150,
                               "deferred": 0, "sampled": 0, "shed": 0,
                               "hour_alerted": False, "day_alerted": False},
                   "monitor": {"hour": 8, "day": 8, "mirrored": 8, "deferred": 2, "sampled": 0,
                               "shed": 0, "hour_alerted": True, "day_alerted": False}}}
write('budget_state', [
    ('manual', compact(state)),
    ('alarmed', compact(dict(state, alarm_at=1795341600001, limit_at=1795341600002))),
    ('version-2', compact(dict(state, version=2))),
    ('no-types', compact(dict(state, types={}))),
    ('not-nested', compact(dict(state, windows={"hour": 1795341600000, "day": 1795305600000,
                                                "month": 1795305600000}))),
    ('negative', compact(dict(state, month=dict(state["month"], entries=-1)))),
    ('huge', compact(dict(state, month=dict(state["month"], cost_pusd=9223372036854775807)))),
    ('empty', '{}'),
])

#  PutEvents: a first byte (entries expected: byte % 12) and a body.
putevents = [
    ('one-ok', '\x01{"FailedEntryCount":0,"Entries":[{"EventId":"11710aed-b79e-4468-a20b-bb3c0c3b4860"}]}'),
    ('partial', '\x03{"FailedEntryCount":1,"Entries":[{"EventId":"a"},{"ErrorCode":"ThrottlingException",'
                '"ErrorMessage":"Rate exceeded"},{"EventId":"c"}]}'),
    ('mismatch', '\x02{"FailedEntryCount":2,"Entries":[{"EventId":"a"},{"ErrorCode":"InternalFailure"}]}'),
    ('error-type', '\x00{"__type":"com.amazonaws.eventbridge#ThrottlingException","message":"Rate exceeded"}'),
    ('error-Message', '\x00{"__type":"AccessDeniedException","Message":"User is not authorized"}'),
    ('not-json', '\x00<html>503</html>'),
]
for name, text in events[:8]:
    putevents.append(('entry-' + name, '\x00' + text))
#  Entries from text that is not compact: whitespace everywhere, escapes
#  kept in Detail and unescaped elsewhere, numbers as written.
putevents += [
    ('entry-blanks', '\x00 {\n "source" : "cabruca.x" ,\r\n\t"detail-type":"T" , "detail" : '
                     '{ "a" : [ 1 , 2.50 , -0 , 1.0e2 ] , "s" : " x\\ty " , "o" : { } } ,'
                     ' "resources" : [ ] , "time" : "2026-11-22T10:00:00Z" }\n'),
    ('entry-escapes', '\x00{"sourc\\u0065":"caf\\u00e9","detail-type":"q\\"\\ud83d\\ude00",'
                      '"resources":["r\\/1","\\u20ac"],"detail":{"k":"\\" \\\\ \\/ \\ud83d\\ude00"}}'),
]
write('putevents', putevents)

#  AWS files: credentials, "\n====\n", config.
write('aws_creds', [
    ('default', '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n'
                'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n'
                '\n====\n[default]\nregion = eu-west-1\n'),
    ('profile', '#profile ops\n[default]\naws_access_key_id=A\naws_secret_access_key=B\n'
                '[ops]\naws_access_key_id = C\naws_secret_access_key = D\naws_session_token = T\n'
                '\n====\n[profile ops]\nregion=us-east-2\n'),
    ('config-only', '\n====\n# comment\n; another\n[default]\naws_access_key_id = E\n'
                    'aws_secret_access_key = F\nregion = ap-south-1\n'),
    ('no-secret', '[default]\naws_access_key_id = G\n'),
    ('long-key', '[default]\naws_access_key_id = ' + 'K' * 200 + '\naws_secret_access_key = S\n'),
    ('long-region', '\n====\n[default]\nregion = ' + 'r' * 100 + '\n'),
    ('odd', '[ default ]\r\n aws_access_key_id=H \r\naws_secret_access_key==I\r\n[unterminated\nx=y\n'),
])

#  The supervisor's configuration (docs/man/cabruca-supervisor.md).
write('supervisor_config', [
    ('manual', compact({
        "run_dir": "/run/cabruca", "log_dir": "/var/log/cabruca",
        "broker": {"endpoint": "ipc:///run/cabruca/broker.ipc"},
        "programs": [
            {"name": "broker", "command": ["cabruca-broker", "-c", "broker.json", "-d", "3"],
             "notify_fd": 3, "stop_timeout": 30},
            {"name": "monitor", "command": ["cabruca-monitor"], "depends_on": ["broker"],
             "restart": "on-failure", "backoff": {"initial": 1, "maximum": 30}},
            {"name": "tester", "command": ["cabruca-tester"], "depends_on": ["broker"],
             "instances": 2, "environment": {"CABRUCA_BROKER": "ipc:///run/cabruca/broker.ipc"}}]})),
    ('system', compact({
        "run_dir": "run", "log_dir": "run/logs", "events_file": "events.jsonl",
        "log": {"max_bytes": 1048576, "keep": 3},
        "programs": [
            {"name": "dashboard", "command": ["cabruca-dashboard", "--notify-fd", "3"],
             "notify_fd": 3, "restart": "always", "directory": "run", "autostart": False,
             "stop_signal": "INT", "start_secs": 2, "start_limit_burst": 5,
             "start_limit_interval": 60}]})),
    ('minimal', '{"programs":[{"name":"a","command":["true"]}]}'),
    ('cycle', '{"programs":[{"name":"a","command":["x"],"depends_on":["b"]},'
              '{"name":"b","command":["y"],"depends_on":["a"]}]}'),
    ('duplicate', '{"programs":[{"name":"a","command":["x"]},{"name":"a","command":["y"]}]}'),
    ('bad-signal', '{"programs":[{"name":"a","command":["x"],"stop_signal":"FROB"}]}'),
    ('not-json', '{"programs": [}'),
])

#  The dashboard's query arguments (docs/dashboard.md), or one time text.
write('dashboard', [
    ('stream', compact({"pattern": '{"source":["cabruca.agents.monitor"]}', "after": "41"})),
    ('stream-bad-after', compact({"after": "-1"})),
    ('stream-unknown', compact({"limit": "10"})),
    ('stream-bad-pattern', compact({"pattern": '{"source":"x"}'})),
    ('times', compact({"from": "2026-11-16T10:30:00Z", "to": "2026-11-16T10:30:00.123+05:30"})),
    ('time-utc', '2026-11-16T10:30:00.5Z'),
    ('time-date', '2026-02-29'),
    ('time-offset', '1970-01-01T00:00:00-14:00'),
    ('time-leap-second', '2016-12-31T23:59:60Z'),
    ('time-nanos', '9999-12-31 23:59:59.999999999z'),
    ('time-short', '2026-1'),
])
