#!/usr/bin/env node
//  terraform-check.js - check terraform/ without a terraform binary.
//
//    node terraform-check.js SRCDIR
//
//  1. Syntax: every terraform/*.tf parses with HashiCorp's HCL parser
//     (@cdktf/hcl2json, Go compiled to WebAssembly); errors name file:line.
//  2. References: every var.x, local.x, data.T.N and aws_T.N resolves to a
//     declaration; every declared variable and local is used.
//  3. Provider: every resource and data type, argument and nested block is one
//     the AWS provider defines (aws-provider-extract.json, made by
//     extract-provider-schema.js), and required arguments are set.
//  4. Consistency with schemas/ and DESIGN.md: every event schema is
//     registered (fileset + file, as JSONSchemaDraft4); the rules are exactly
//     those of schemas/rules/default.json (iterated, pattern jsonencoded); DLQ,
//     archive, log retentions and the budget have DESIGN.md's values; the
//     outputs issue 10 names exist.
//  Exit 0 when all pass, 1 with one `file:line: message` per problem.
'use strict';
const fs = require('fs');
const path = require('path');
const hcl = require('@cdktf/hcl2json');

const src = process.argv[2];
if (!src) {
    process.stderr.write('usage: terraform-check.js SRCDIR\n');
    process.exit(2);
}
const tfDir = path.join(src, 'terraform');
const here = __dirname;
const problems = [];
const texts = {};

function lineOf(file, needle) {
    const text = texts[file] || '';
    const at = text.indexOf(needle);
    return at < 0 ? 1 : text.slice(0, at).split('\n').length;
}
function bad(file, needle, message) {
    problems.push(`terraform/${file}:${lineOf(file, needle)}: ${message}`);
}

//  Values of an expression string "${...}" or a template: all ${} texts.
function strings(node, out = []) {
    if (typeof node === 'string')
        out.push(node);
    else if (Array.isArray(node))
        node.forEach((n) => strings(n, out));
    else if (node && typeof node === 'object')
        Object.values(node).forEach((n) => strings(n, out));
    return out;
}

const META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'dynamic']);

function checkBody(file, where, body, schema, needle) {
    for (const [key, value] of Object.entries(body)) {
        if (META.has(key) && key !== 'dynamic')
            continue;
        if (key === 'dynamic') {
            for (const [name, list] of Object.entries(value)) {
                const block = schema.blocks[name];
                if (!block) {
                    bad(file, `dynamic "${name}"`, `${where}: dynamic "${name}": no such nested block`);
                    continue;
                }
                for (const dyn of list) {
                    if (!('for_each' in dyn))
                        bad(file, `dynamic "${name}"`, `${where}: dynamic "${name}" without for_each`);
                    for (const content of dyn.content || [])
                        checkBody(file, `${where}.${name}`, content, block, `dynamic "${name}"`);
                }
            }
            continue;
        }
        if (schema.arguments[key])
            continue;
        const block = schema.blocks[key];
        if (!block) {
            bad(file, `${key} `, `${where}: unknown argument or block "${key}" (AWS provider ${extract.provider})`);
            continue;
        }
        if (!Array.isArray(value) || !value.every((v) => v && typeof v === 'object')) {
            bad(file, `${key} `, `${where}: "${key}" is a nested block, not an argument (write ${key} { ... })`);
            continue;
        }
        if (block.nesting === 'single' && value.length > 1)
            bad(file, `${key} `, `${where}: at most one "${key}" block`);
        value.forEach((v) => checkBody(file, `${where}.${key}`, v, block, needle));
    }
    for (const [arg, need] of Object.entries(schema.arguments)) {
        if (need === 'required' && !(arg in body))
            bad(file, needle, `${where}: required argument "${arg}" is missing`);
    }
    for (const [name, block] of Object.entries(schema.blocks)) {
        const dynamic = body.dynamic && body.dynamic[name];
        if (block.required && !(name in body) && !dynamic)
            bad(file, needle, `${where}: required block "${name}" is missing`);
    }
}

let extract;

async function main() {
    extract = JSON.parse(fs.readFileSync(path.join(here, 'aws-provider-extract.json'), 'utf8'));

    //  1. Syntax, file by file.
    const files = fs.readdirSync(tfDir).filter((n) => n.endsWith('.tf')).sort();
    const parsed = {};
    for (const file of files) {
        texts[file] = fs.readFileSync(path.join(tfDir, file), 'utf8');
        try {
            parsed[file] = await hcl.parse(file, texts[file]);
        } catch (e) {
            //  The parser says "parse config: [file.tf:LINE,COL-...: summary; detail]".
            const m = String(e).match(/\[([^:\]]+):(\d+),(\d+)[^:]*: ([^\]]*)\]/);
            problems.push(m ? `terraform/${m[1]}:${m[2]}:${m[3]}: syntax: ${m[4]}` : `terraform/${file}: syntax: ${e}`);
        }
    }
    if (problems.length)
        return;
    for (const need of ['main.tf', 'variables.tf', 'outputs.tf', 'bus.tf', 'schemas.tf', 'rules.tf', 'targets.tf',
                        'dlq.tf', 'archive.tf', 'monitoring.tf', 'iam.tf'])
        if (!files.includes(need))
            problems.push(`terraform/${need}: missing`);

    //  Declarations, with the file that holds each.
    const decl = { variable: {}, local: {}, resource: {}, data: {}, output: {} };
    const where = {};
    for (const [file, doc] of Object.entries(parsed)) {
        for (const kind of ['variable', 'output']) {
            for (const [name, list] of Object.entries(doc[kind] || {})) {
                if (decl[kind][name])
                    bad(file, `${kind} "${name}"`, `${kind} "${name}" declared twice`);
                decl[kind][name] = list[0];
                where[`${kind}.${name}`] = file;
            }
        }
        for (const block of doc.locals || []) {
            for (const [name, value] of Object.entries(block)) {
                if (decl.local[name])
                    bad(file, `${name} `, `local "${name}" declared twice`);
                decl.local[name] = value;
                where[`local.${name}`] = file;
            }
        }
        for (const kind of ['resource', 'data']) {
            for (const [type, byName] of Object.entries(doc[kind] || {})) {
                for (const [name, list] of Object.entries(byName)) {
                    const key = `${type}.${name}`;
                    if (decl[kind][key])
                        bad(file, `"${type}" "${name}"`, `${kind} ${key} declared twice`);
                    decl[kind][key] = list[0];
                    where[`${kind}.${key}`] = file;
                }
            }
        }
    }

    //  2. References.
    const used = new Set();
    for (const [file, doc] of Object.entries(parsed)) {
        for (const text of strings(doc)) {
            for (const m of text.matchAll(/(?<![\w.])(var|local)\.([A-Za-z_][\w-]*)/g)) {
                const kind = m[1] === 'var' ? 'variable' : 'local';
                used.add(`${kind}.${m[2]}`);
                if (!decl[kind][m[2]])
                    bad(file, m[0], `${m[0]}: no such ${kind}`);
            }
            for (const m of text.matchAll(/(?<![\w.])data\.(aws_\w+)\.([A-Za-z_][\w-]*)/g)) {
                used.add(`data.${m[1]}.${m[2]}`);
                if (!decl.data[`${m[1]}.${m[2]}`])
                    bad(file, m[0], `${m[0]}: no such data source`);
            }
            for (const m of text.matchAll(/(?<![\w.])(aws_\w+)\.([A-Za-z_][\w-]*)/g)) {
                if (!decl.resource[`${m[1]}.${m[2]}`])
                    bad(file, m[0], `${m[0]}: no such resource`);
            }
            for (const m of text.matchAll(/(?<![\w.])(module)\.([A-Za-z_][\w-]*)/g))
                bad(file, m[0], `${m[0]}: this configuration has no modules`);
        }
    }
    for (const name of Object.keys(decl.variable))
        if (!used.has(`variable.${name}`))
            bad(where[`variable.${name}`], `variable "${name}"`, `variable "${name}" is never used`);
    for (const name of Object.keys(decl.local))
        if (!used.has(`local.${name}`))
            bad(where[`local.${name}`], `${name} `, `local "${name}" is never used`);

    //  3. Provider definitions.
    for (const kind of ['resource', 'data']) {
        for (const [key, body] of Object.entries(decl[kind])) {
            const [type, name] = key.split('.');
            const file = where[`${kind}.${key}`];
            const needle = `${kind} "${type}" "${name}"`;
            const schema = extract[kind][type];
            if (!schema) {
                bad(file, needle, `${kind} type ${type} is not in aws-provider-extract.json (unknown type, or rerun extract-provider-schema.js)`);
                continue;
            }
            checkBody(file, `${type}.${name}`, body, schema, needle);
        }
    }
    const tfBlock = (parsed['main.tf'].terraform || [])[0] || {};
    const aws = (((tfBlock.required_providers || [])[0] || {}).aws) || {};
    const major = (extract.provider || '').replace(/^hashicorp\/aws (\d+)\..*/, '$1');
    if (aws.source !== 'hashicorp/aws' || aws.version !== `~> ${major}.0`)
        bad('main.tf', 'required_providers', `required_providers.aws must be hashicorp/aws "~> ${major}.0", the version the extract comes from (${extract.provider})`);

    consistency(decl, where);
}

function expect(file, needle, actual, wanted, what) {
    if (actual !== wanted)
        bad(file, needle, `${what}: is ${JSON.stringify(actual)}, must be ${JSON.stringify(wanted)}`);
}

function consistency(decl, where) {
    const res = (key) => decl.resource[key] || {};
    const file = (key) => where[`resource.${key}`] || 'main.tf';

    //  The files the broker reads.
    expect('main.tf', 'schemas_dir', decl.local.schemas_dir, '${path.module}/../schemas', 'local.schemas_dir');
    expect('main.tf', 'rule_file', decl.local.rule_file, '${jsondecode(file("${local.schemas_dir}/rules/default.json"))}',
           'local.rule_file (the broker\'s default rule file)');
    expect('main.tf', 'rules ', decl.local.rules, '${{ for rule in local.rule_file.rules : rule.name => rule }}', 'local.rules');

    //  Schemas: every file in schemas/events, through fileset().
    expect('schemas.tf', 'event_schema_files', decl.local.event_schema_files,
           '${fileset("${local.schemas_dir}/events", "*.json")}', 'local.event_schema_files');
    const schema = res('aws_schemas_schema.event');
    expect('schemas.tf', 'for_each', schema.for_each, '${local.event_schema_files}', 'aws_schemas_schema.event.for_each');
    expect('schemas.tf', 'type ', schema.type, 'JSONSchemaDraft4', 'aws_schemas_schema.event.type');
    expect('schemas.tf', 'name ', schema.name, '${trimsuffix(each.value, ".json")}', 'aws_schemas_schema.event.name');
    if (!/file\("\$\{local\.schemas_dir\}\/events\/\$\{each\.value\}"\)/.test(schema.content || '')
        || !(schema.content || '').includes('"http://json-schema.org/draft-04/schema#"'))
        bad('schemas.tf', 'content', 'aws_schemas_schema.event.content must be the file with the draft-04 $schema URI swapped in');
    const eventsDir = path.join(src, 'schemas', 'events');
    const eventFiles = fs.readdirSync(eventsDir).filter((n) => n.endsWith('.json'));
    if (eventFiles.length === 0)
        problems.push('schemas/events: no schemas found');
    for (const name of eventFiles) {
        const text = fs.readFileSync(path.join(eventsDir, name), 'utf8');
        const doc = JSON.parse(text.replace('http://json-schema.org/draft-07/schema#', 'http://json-schema.org/draft-04/schema#'));
        if (doc.$schema !== 'http://json-schema.org/draft-04/schema#')
            problems.push(`schemas/events/${name}: $schema is not the draft-07 URI that terraform swaps for draft-04`);
        if (!/^[.\-_A-Za-z0-9@]{1,385}$/.test(name.replace(/\.json$/, '')))
            problems.push(`schemas/events/${name}: not a valid schema registry name`);
        if (text.length > 100000)
            problems.push(`schemas/events/${name}: over the registry's 100,000 character limit`);
        if (typeof doc.title !== 'string')
            problems.push(`schemas/events/${name}: no title (terraform's schema description)`);
    }

    //  Rules: exactly the broker's default rules.
    const rule = res('aws_cloudwatch_event_rule.rule');
    expect('rules.tf', 'for_each', rule.for_each, '${local.rules}', 'aws_cloudwatch_event_rule.rule.for_each');
    expect('rules.tf', 'event_pattern', rule.event_pattern, '${jsonencode(each.value.event_pattern)}',
           'aws_cloudwatch_event_rule.rule.event_pattern (the broker\'s own pattern)');
    expect('rules.tf', 'name ', rule.name, '${each.value.name}', 'aws_cloudwatch_event_rule.rule.name');
    expect('rules.tf', 'event_bus_name', rule.event_bus_name, '${aws_cloudwatch_event_bus.agents.name}', 'aws_cloudwatch_event_rule.rule.event_bus_name');
    expect('rules.tf', 'state', rule.state, '${try(each.value.enabled, true) ? "ENABLED" : "DISABLED"}', 'aws_cloudwatch_event_rule.rule.state');
    const others = Object.keys(decl.resource).filter((k) => /^aws_cloudwatch_event_(rule|target)\./.test(k));
    expect('rules.tf', 'resource', others.sort().join(' '), 'aws_cloudwatch_event_rule.rule aws_cloudwatch_event_target.target',
           'event rules and targets (only those of the rule file)');
    const ruleFile = JSON.parse(fs.readFileSync(path.join(src, 'schemas', 'rules', 'default.json'), 'utf8'));
    const names = ruleFile.rules.map((r) => r.name);
    const design = ['issue-detection-log', 'high-severity-alert', 'feature-request-product-queue',
                    'approved-code-change-cicd', 'test-results-tracking', 'failed-tests-investigation'];
    if (JSON.stringify(names) !== JSON.stringify(design))
        problems.push(`schemas/rules/default.json: rules ${names.join(', ')}; DESIGN.md's six are ${design.join(', ')}`);
    for (const r of ruleFile.rules) {
        for (const t of r.targets) {
            if (!['agent', 'command', 'log'].includes(t.type))
                problems.push(`schemas/rules/default.json: ${r.name}.${t.id}: type ${t.type} has no cloud counterpart in terraform/`);
            const rp = t.retry_policy || {};
            const attempts = rp.maximum_retry_attempts ?? 185;
            const age = rp.maximum_event_age_seconds ?? 86400;
            if (!(attempts >= 0 && attempts <= 185) || !(age >= 60 && age <= 86400))
                problems.push(`schemas/rules/default.json: ${r.name}.${t.id}: retry policy out of EventBridge's ranges`);
        }
    }
    const target = res('aws_cloudwatch_event_target.target');
    expect('targets.tf', 'for_each', target.for_each, '${local.targets}', 'aws_cloudwatch_event_target.target.for_each');
    if (!/for rule in local\.rule_file\.rules/.test(decl.local.targets || ''))
        bad('main.tf', 'targets ', 'local.targets must come from local.rule_file.rules');
    const retry = (target.retry_policy || [{}])[0];
    expect('targets.tf', 'maximum_retry_attempts', retry.maximum_retry_attempts, '${each.value.retry_attempts}', 'target retry_policy.maximum_retry_attempts');
    expect('targets.tf', 'maximum_event_age_in_seconds', retry.maximum_event_age_in_seconds, '${each.value.retry_age_seconds}', 'target retry_policy.maximum_event_age_in_seconds');
    expect('targets.tf', 'dead_letter_config', ((target.dead_letter_config || [{}])[0]).arn,
           '${aws_sqs_queue.dlq[each.value.dead_letter_queue].arn}', 'target dead_letter_config.arn');

    //  DESIGN.md's numbers: DLQs 14 and 4 days, archive and event log 7 days,
    //  budget $10/month with the alarm at 90%, region sa-east-1, bus name.
    const defaults = {
        dlq_standard_retention_seconds: 14 * 86400, dlq_critical_retention_seconds: 4 * 86400,
        archive_retention_days: 7, log_retention_days: 7, monthly_budget_usd: 10, budget_alarm_percent: 90,
        region: 'sa-east-1', event_bus_name: 'cabruca-agents-bus',
    };
    for (const [name, value] of Object.entries(defaults))
        expect('variables.tf', `variable "${name}"`, (decl.variable[name] || {}).default, value, `variable ${name} default`);
    expect('dlq.tf', 'standard', decl.local.dlq_retention_seconds?.standard, '${var.dlq_standard_retention_seconds}', 'local.dlq_retention_seconds.standard');
    expect('dlq.tf', 'critical', decl.local.dlq_retention_seconds?.critical, '${var.dlq_critical_retention_seconds}', 'local.dlq_retention_seconds.critical');
    expect('dlq.tf', 'message_retention_seconds', res('aws_sqs_queue.dlq').message_retention_seconds, '${each.value}', 'aws_sqs_queue.dlq.message_retention_seconds');
    expect('archive.tf', 'retention_days', res('aws_cloudwatch_event_archive.agents').retention_days, '${var.archive_retention_days}', 'archive retention_days');
    expect('archive.tf', 'event_source_arn', res('aws_cloudwatch_event_archive.agents').event_source_arn, '${aws_cloudwatch_event_bus.agents.arn}', 'archive event_source_arn');
    expect('targets.tf', 'retention_in_days', res('aws_cloudwatch_log_group.target').retention_in_days, '${var.log_retention_days}', 'log group retention_in_days');
    expect('bus.tf', 'name ', res('aws_cloudwatch_event_bus.agents').name, '${var.event_bus_name}', 'bus name');
    const budget = res('aws_budgets_budget.eventbridge');
    if (!/var\.monthly_budget_usd/.test(budget.limit_amount || ''))
        bad(file('aws_budgets_budget.eventbridge'), 'limit_amount', 'the budget limit must be var.monthly_budget_usd');
    for (const n of budget.notification || [])
        expect(file('aws_budgets_budget.eventbridge'), 'threshold ', n.threshold, '${var.budget_alarm_percent}', 'budget notification threshold');
    expect('monitoring.tf', 'budget_alarm_usd', decl.local.budget_alarm_usd,
           '${var.monthly_budget_usd * var.budget_alarm_percent / 100}', 'local.budget_alarm_usd');
    const dash = res('aws_cloudwatch_dashboard.cabruca').dashboard_body || '';
    for (const metric of ['PutEventsEntriesCount', 'MatchedEvents', 'FailedInvocations', 'ApproximateNumberOfMessagesVisible', 'cost_expression'])
        if (!dash.includes(metric) && !JSON.stringify(decl.local).includes(metric))
            bad('monitoring.tf', 'dashboard_body', `dashboard: no ${metric} widget`);

    //  The publisher policy: events:PutEvents on this bus, nothing else.
    const stmts = (decl.data['aws_iam_policy_document.agent_event_publisher'] || {}).statement || [];
    if (stmts.length !== 1 || JSON.stringify(stmts[0].actions) !== '["events:PutEvents"]'
        || JSON.stringify(stmts[0].resources) !== '["${aws_cloudwatch_event_bus.agents.arn}"]' || stmts[0].effect !== 'Allow')
        bad('iam.tf', 'agent_event_publisher', 'the publisher policy must allow only events:PutEvents on aws_cloudwatch_event_bus.agents');

    //  The outputs issue 10 names.
    for (const name of ['event_bus_name', 'event_bus_arn', 'schema_registry_name', 'dlq_url', 'dlq_urls', 'agent_event_publisher_policy_arn'])
        if (!decl.output[name])
            problems.push(`terraform/outputs.tf: output "${name}" is missing`);
}

main().then(() => {
    for (const p of problems)
        console.log(p);
    console.log(`terraform-check: ${Object.keys(texts).length} files, ${problems.length} problems`);
    process.exit(problems.length ? 1 : 0);
}, (e) => {
    console.log(`terraform-check: ${e.stack || e}`);
    process.exit(1);
});
