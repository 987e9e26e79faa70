#!/bin/sh
#  terraform/ checked without a terraform binary (terraform-check.js): HCL
#  syntax with HashiCorp's parser, references, AWS provider arguments, and
#  consistency with schemas/ and DESIGN.md. The parser comes from npm
#  (tests/terraform/package.json, pinned by package-lock.json), installed once
#  into the build tree ($CAB_BUILDDIR/node_modules-terraform) with its own npm
#  cache; later runs reuse it and need no network. No node, npm or registry:
#  the test fails and says so. The checker first shows that it catches errors.
: "${CAB_SRCDIR:?}" "${CAB_BUILDDIR:?}"
here="$CAB_SRCDIR/tests/terraform"
deps="$CAB_BUILDDIR/node_modules-terraform"

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "FAIL: $tool not found; ./setup.sh installs Debian's nodejs and npm"; exit 1; }
done

if ! cmp -s "$here/package-lock.json" "$deps/installed-lock.json" \
   || [ ! -f "$deps/node_modules/@cdktf/hcl2json/package.json" ]; then
    mkdir -p "$deps" || exit 99
    rm -f "$deps/package.json" "$deps/package-lock.json" "$deps/installed-lock.json"
    cat "$here/package.json" > "$deps/package.json"
    cat "$here/package-lock.json" > "$deps/package-lock.json"
    echo "terraform.sh: npm ci into $deps"
    if ! timeout 600 npm ci --prefix "$deps" --cache "$deps/.npm-cache" --prefer-offline \
            --ignore-scripts --no-audit --no-fund --loglevel=error; then
        echo "FAIL: could not install tests/terraform/package.json from the npm registry"
        echo "      (offline? set npm's registry or proxy; once installed, runs need no network)"
        exit 1
    fi
    #  Written last: marks a complete install of this lock file.
    cat "$here/package-lock.json" > "$deps/installed-lock.json"
fi

check () { NODE_PATH="$deps/node_modules" node "$here/terraform-check.js" "$@"; }

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

#  The checker catches what it should, on a copy with mistakes put in.
cp -R "$CAB_SRCDIR/terraform" "$CAB_SRCDIR/schemas" "$tmp/" && chmod -R u+w "$tmp" || exit 99
sed 's/var\.archive_retention_days/var.archive_days/' "$CAB_SRCDIR/terraform/archive.tf" > "$tmp/terraform/archive.tf"
sed 's/^\( *\)maximum_retry_attempts .*/&\n\1max_attempts = 3/' "$CAB_SRCDIR/terraform/targets.tf" > "$tmp/terraform/targets.tf"
sed 's/default     = 345600$/default     = 345000/' "$CAB_SRCDIR/terraform/variables.tf" > "$tmp/terraform/variables.tf"
sed 's/jsonencode(each.value.event_pattern)/jsonencode({ source = ["x"] })/' "$CAB_SRCDIR/terraform/rules.tf" > "$tmp/terraform/rules.tf"
check "$tmp" > "$tmp/bad.out" 2>&1
for expect in 'archive.tf:[0-9]*: var.archive_days: no such variable' \
              'targets.tf:[0-9]*: .*unknown argument or block "max_attempts"' \
              'variables.tf:[0-9]*: variable dlq_critical_retention_seconds default' \
              'rules.tf:[0-9]*: .*event_pattern'; do
    grep -q -- "$expect" "$tmp/bad.out" || {
        echo "FAIL: terraform-check.js did not report $expect:"; cat "$tmp/bad.out"; exit 1; }
done
printf 'locals {\n  broken = \n}\n' > "$tmp/terraform/zz.tf"
check "$tmp" > "$tmp/syntax.out" 2>&1
grep -q '^terraform/zz.tf:2:[0-9]*: syntax: ' "$tmp/syntax.out" || {
    echo "FAIL: no file:line for a syntax error:"; cat "$tmp/syntax.out"; exit 1; }

check "$CAB_SRCDIR"
