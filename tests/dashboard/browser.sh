#!/bin/sh
#  The dashboard's page in Debian's headless Chromium (browser.js, driven by
#  playwright-core from npm, pinned by package-lock.json and installed once
#  into $CAB_BUILDDIR/node_modules-dashboard like tests/terraform): the
#  numbers shown equal the API's, a pattern filter, an event arriving live,
#  a screenshot saved as $CAB_BUILDDIR/dashboard-artifacts/dashboard.png.
#  Skipped (77) only when chromium or node is missing.
: "${CAB_SRCDIR:?}" "${CAB_BUILDDIR:?}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
command -v node >/dev/null 2>&1 || { echo "SKIP: node not found (./setup.sh installs it)"; exit 77; }
[ -x "$CHROMIUM" ] || { echo "SKIP: $CHROMIUM not found (./setup.sh installs Debian's chromium)"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "FAIL: npm not found; ./setup.sh installs it"; exit 1; }
here="$CAB_SRCDIR/tests/dashboard"
deps="$CAB_BUILDDIR/node_modules-dashboard"
if ! cmp -s "$here/package-lock.json" "$deps/installed-lock.json" \
   || [ ! -f "$deps/node_modules/playwright-core/package.json" ]; then
    mkdir -p "$deps" || exit 99
    rm -f "$deps/package.json" "$deps/package-lock.json" "$deps/installed-lock.json"
    cat "$here/package.json" > "$deps/package.json"
    cat "$here/package-lock.json" > "$deps/package-lock.json"
    echo "browser.sh: npm ci into $deps"
    if ! timeout 600 npm ci --prefix "$deps" --cache "$deps/.npm-cache" --prefer-offline \
            --ignore-scripts --no-audit --no-fund --loglevel=error; then
        echo "FAIL: could not install tests/dashboard/package.json from the npm registry"
        exit 1
    fi
    cat "$here/package-lock.json" > "$deps/installed-lock.json"
fi

. "$CAB_SRCDIR/tests/dashboard/dash-lib.sh"
start_dashboard
{ echo "PYTHON3=$PYTHON3"; sed -n '/^new_event () {/,/^}/p' "$here/dash-lib.sh"; } > "$WORK/funcs.sh"
cat > "$WORK/publish-live.sh" <<SH
#!/bin/sh
rm -f "$WORK/live"
id=\$(. "$WORK/funcs.sh"; new_event "$WORK/live" cabruca.agents.tester "Test Results" tester-001 "" "" \
    '{"test_type": "UNIT", "status": "FAILED", "duration_ms": 7}')
CABRUCA_BROKER=$ENDPOINT "$CABRUCA" publish --agent tester-001 --timeout 30000 "$WORK/live" >/dev/null 2>&1 || exit 1
echo "\$id"
SH
chmod +x "$WORK/publish-live.sh"
artifacts="$CAB_BUILDDIR/dashboard-artifacts"
mkdir -p "$artifacts" || exit 99
#  Chromium's profile and crash files go under $WORK (removed by the trap).
HOME="$WORK" XDG_CONFIG_HOME="$WORK/.config" XDG_CACHE_HOME="$WORK/.cache" \
CHROMIUM="$CHROMIUM" NODE_PATH="$deps/node_modules" \
    timeout 180 node "$here/browser.js" "$DASH_URL" "$TEST_ID" "$WORK/publish-live.sh" "$artifacts" \
    || fail "browser.js failed (dashboard log: $(tail -5 "$WORK/dash.log"))"
[ -s "$artifacts/dashboard.png" ] || fail "no screenshot"
stop_dashboard

#  With a bearer token: the page asks for it and then works.
TOKEN=browser-token-0123456789
start_dashboard "\"token\": \"$TOKEN\""
HOME="$WORK" XDG_CONFIG_HOME="$WORK/.config" XDG_CACHE_HOME="$WORK/.cache" \
CHROMIUM="$CHROMIUM" NODE_PATH="$deps/node_modules" DASH_TOKEN="$TOKEN" \
    timeout 120 node "$here/browser.js" "$DASH_URL" "$TEST_ID" "$WORK/publish-live.sh" "$artifacts" \
    || fail "browser.js with a token failed"
stop_dashboard
stop_broker
echo "browser.sh: OK"
