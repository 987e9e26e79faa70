#!/usr/bin/env node
//  extract-provider-schema.js - extract, from the npm package @cdktf/provider-aws,
//  the arguments and nested blocks of the resource and data source types that
//  terraform/*.tf uses, into a small JSON file (aws-provider-extract.json) that
//  terraform-check.js checks every resource against.
//
//  The package is large (about 400 MB) and not needed by the tests, so it is
//  installed only when the extract is remade:
//
//    tmp=$(mktemp -d)
//    npm install --prefix "$tmp" --no-save --legacy-peer-deps --ignore-scripts \
//        @cdktf/provider-aws@21.22.1
//    node tests/terraform/extract-provider-schema.js "$tmp/node_modules" terraform \
//        > tests/terraform/aws-provider-extract.json
//    rm -rf "$tmp"
//
//  It reads the generated TypeScript declarations (lib/<type>/index.d.ts): each
//  config interface lists the arguments, each names its Terraform argument in
//  the "Docs at Terraform Registry" link, `?` marks optional ones, and a field
//  whose type is another interface of the same file is a nested block.
'use strict';
const fs = require('fs');
const path = require('path');

function die(message) {
    process.stderr.write(`extract-provider-schema: ${message}\n`);
    process.exit(2);
}

if (process.argv.length !== 4)
    die('usage: extract-provider-schema.js NODE_MODULES_DIR TERRAFORM_DIR');
const pkgDir = path.join(process.argv[2], '@cdktf', 'provider-aws');
const tfDir = process.argv[3];
let pkg;
try {
    pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
} catch (e) {
    die(`cannot read ${pkgDir}/package.json: ${e.message}`);
}

//  The types used: resource "aws_x" "name" / data "aws_x" "name" blocks.
const used = { resource: new Set(), data: new Set() };
for (const file of fs.readdirSync(tfDir).filter((n) => n.endsWith('.tf')).sort()) {
    const text = fs.readFileSync(path.join(tfDir, file), 'utf8');
    for (const m of text.matchAll(/^(resource|data)\s+"(aws_[a-z0-9_]+)"\s+"/gm))
        used[m[1]].add(m[2]);
}

function parseInterfaces(text) {
    const interfaces = {};
    const re = /^export interface (\w+)(?: extends [\w.]+)? \{\n([\s\S]*?)^\}/gm;
    for (const m of text.matchAll(re)) {
        const fields = [];
        const fre = /\{@link https:\/\/registry\.terraform\.io\/[^#}]*#(\w+) [^}]*\}[\s\S]*?\*\/\s*readonly (\w+)(\??): ([^;]+);/g;
        for (const f of m[2].matchAll(fre))
            fields.push({ name: f[1], optional: f[3] === '?', type: f[4].trim() });
        //  Every field must have been read with its Terraform name.
        const declared = (m[2].match(/^\s*readonly \w+\??:/gm) || []).length;
        if (declared !== fields.length)
            die(`interface ${m[1]}: ${declared} fields, ${fields.length} with a Terraform name`);
        interfaces[m[1]] = fields;
    }
    return interfaces;
}

function describe(interfaces, name) {
    const out = { arguments: {}, blocks: {} };
    for (const field of interfaces[name]) {
        const bare = field.type.replace(/\s*\|\s*cdktf\.IResolvable/, '').trim();
        const element = bare.replace(/\[\]$/, '');
        if (interfaces[element] && element !== name) {
            const block = describe(interfaces, element);
            block.required = !field.optional;
            block.nesting = bare.endsWith('[]') ? 'list' : 'single';
            out.blocks[field.name] = block;
        } else {
            out.arguments[field.name] = field.optional ? 'optional' : 'required';
        }
    }
    return out;
}

const extract = {
    comment: 'Made by tests/terraform/extract-provider-schema.js from @cdktf/provider-aws; do not edit.',
    package: `@cdktf/provider-aws@${pkg.version}`,
    provider: null,
    resource: {},
    data: {},
};
for (const kind of ['resource', 'data']) {
    for (const type of [...used[kind]].sort()) {
        const dir = (kind === 'data' ? 'data-' : '') + type.replace(/^aws_/, kind === 'data' ? 'aws_' : '').replace(/_/g, '-');
        const file = path.join(pkgDir, 'lib', dir, 'index.d.ts');
        let text;
        try {
            text = fs.readFileSync(file, 'utf8');
        } catch (e) {
            die(`${kind} type ${type}: no ${file} (unknown type?)`);
        }
        const tfType = text.match(/static readonly tfResourceType = "(\w+)";/);
        if (!tfType || tfType[1] !== type)
            die(`${file} does not declare ${type}`);
        const version = text.match(/registry\.terraform\.io\/providers\/hashicorp\/aws\/([0-9.]+)\//);
        if (version)
            extract.provider = `hashicorp/aws ${version[1]}`;
        const interfaces = parseInterfaces(text);
        const root = Object.keys(interfaces).find((n) => n.endsWith('Config') && /^(DataAws)?[A-Z]/.test(n)
            && text.includes(`export interface ${n} extends cdktf.TerraformMetaArguments`));
        if (!root)
            die(`${file}: no config interface`);
        extract[kind][type] = describe(interfaces, root);
    }
}
process.stdout.write(JSON.stringify(extract, null, 1) + '\n');
