// The dashboard's page in Debian's headless Chromium, driven by playwright-core.
//
// usage: node browser.js URL TEST_ID PUBLISH_LIVE ARTIFACT_DIR
//
// Loads the page at 1280x800, checks that the numbers it shows equal the
// API's (same snapshot: the page's last seq equals the API's; the budget
// gauge, the caps, the mirror panel, the agents, the NACKs and the
// supervisor's programs equal /api/budget, /api/mirror, /api/agents and
// /api/supervisor), that it made no
// request outside its own server and broke no Content-Security-Policy rule,
// opens an event's detail with its correlation chain, applies a pattern
// filter, sees a newly published event arrive live in the filtered table, and
// saves a screenshot in ARTIFACT_DIR. Exit 0 ok, 1 failure.
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const path = require('path');

const [url, testId, publishLive, artifactDir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(message) {
  throw new Error(message);
}

async function until(what, seconds, fn) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last === true) return;
    } catch (error) {
      last = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  fail(`${what} (after ${seconds} s): ${last}`);
}

async function getJSON(p) {
  const response = await fetch(url + p);
  if (!response.ok) fail(`${p}: HTTP ${response.status}`);
  return response.json();
}

const num = (text) => Number(String(text).replace(/,/g, ''));

// With a bearer token: the page asks for it, then shows the API's numbers.
async function tokenMode(token) {
  const args = ['--disable-gpu', '--disable-dev-shm-usage'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  const browser = await chromium.launch({ executablePath, headless: true, args });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url + '/', { waitUntil: 'load' });
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 10000 });
    await page.fill('#token', token);
    await page.click('#token-form button');
    const response = await fetch(url + '/api/stats', { headers: { Authorization: 'Bearer ' + token } });
    const stats = await response.json();
    await until('the numbers appear with the token', 10, async () => {
      const shown = num(await page.textContent('#total-events'));
      return shown === stats.events || `shown ${shown}, API ${stats.events}`;
    });
    await until('the stream is live with the token', 10, async () =>
      (await page.textContent('#connection')) === 'live' || 'badge: ' + (await page.textContent('#connection')));
  } finally {
    await browser.close();
  }
  console.log('browser.js: token OK');
}

async function main() {
  if (process.env.DASH_TOKEN) return tokenMode(process.env.DASH_TOKEN);
  const args = ['--disable-gpu', '--disable-dev-shm-usage'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  const browser = await chromium.launch({ executablePath, headless: true, args });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('request', (request) => {
      const target = request.url();
      if (!target.startsWith(url + '/') && target !== url) problems.push('external request: ' + target);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' && !/net::ERR_ABORTED|Failed to fetch|aborted/i.test(message.text()))
        problems.push('console error: ' + message.text());
    });
    page.on('pageerror', (error) => problems.push('page error: ' + error.message));
    await page.goto(url + '/', { waitUntil: 'load' });

    // 1. The numbers shown equal the API's, in the same snapshot.
    await until('the page numbers equal the API', 20, async () => {
      const stats = await getJSON('/api/stats');
      const shown = await page.evaluate(() => {
        const text = (id) => document.getElementById(id).textContent;
        const legend = {};
        for (const li of document.querySelectorAll('#legend li'))
          legend[li.dataset.agent] = Number(li.querySelector('.count').dataset.count);
        const firstRow = document.querySelector('#events-table tbody tr');
        return { total: text('total-events'), lastSeq: text('last-seq'), critical: text('dlq-critical'),
                 standard: text('dlq-standard'), legend,
                 rules: [...document.querySelectorAll('#rules-table tbody tr')].map((tr) =>
                   [...tr.cells].map((td) => td.textContent)) };
      });
      if (num(shown.lastSeq) !== stats.last_seq) return `page last seq ${shown.lastSeq}, API ${stats.last_seq}`;
      if (num(shown.total) !== stats.events) fail(`events shown ${shown.total}, API ${stats.events}`);
      if (num(shown.critical) !== stats.dlq.critical.depth) fail(`critical DLQ shown ${shown.critical}`);
      if (num(shown.standard) !== stats.dlq.standard.depth) fail(`standard DLQ shown ${shown.standard}`);
      for (const [agent, buckets] of Object.entries(stats.hourly.by_agent)) {
        const want = Object.values(buckets).reduce((a, b) => a + b, 0);
        if (shown.legend[agent] !== want) fail(`chart legend ${agent}: ${shown.legend[agent]}, API ${want}`);
      }
      for (const [rule, counts] of Object.entries(stats.rules)) {
        const row = shown.rules.find((cells) => cells[0] === rule);
        if (!row || num(row[1]) !== counts.matches) fail(`rule ${rule}: shown ${row}, API ${counts.matches}`);
      }
      return true;
    });

    // 1b. The budget gauge, the caps, the mirror panel, the agents and the
    // supervisor show the API's numbers (the broker's answers, cached).
    await until('the budget, caps and mirror panels equal the API', 20, async () => {
      const [budget, mirror, agents, supervisor] = await Promise.all(
        ['/api/budget', '/api/mirror', '/api/agents', '/api/supervisor'].map(getJSON));
      const shown = await page.evaluate(() => {
        const text = (id) => document.getElementById(id).textContent;
        const caps = {};
        for (const tr of document.querySelectorAll('#caps-table tbody tr'))
          caps[tr.dataset.type] = [...tr.querySelectorAll('.cap-text')].map((span) => span.textContent);
        const mirror = {};
        for (const key of ['outbox', 'deferred', 'accepted', 'dry_run', 'dead', 'sampled', 'shed', 'dlq_depth'])
          mirror[key] = text('mirror-' + key);
        return { cost: text('budget-cost'), limit: text('budget-limit'), percent: text('budget-percent'),
                 alarm: text('budget-alarm'), alarmLine: document.getElementById('budget-alarm-line').style.left,
                 fill: document.getElementById('budget-fill').style.width, state: text('budget-state'),
                 gaugeHidden: document.getElementById('budget').hidden, caps, mirror,
                 mode: document.getElementById('mirror-mode').dataset.mode,
                 agents: [...document.querySelectorAll('#agents-table tbody tr')].map((tr) => tr.cells[0].textContent),
                 nacks: Object.fromEntries([...document.querySelectorAll('#nacks-table tbody tr')].map((tr) =>
                   [tr.cells[0].textContent, tr.cells[1].textContent])),
                 nacksTotal: text('nacks-total'),
                 programs: Object.fromEntries([...document.querySelectorAll('#supervisor-table tbody tr')].map((tr) =>
                   [tr.cells[0].textContent, [tr.cells[1].textContent, tr.cells[2].textContent]])) };
      });
      if (!budget.available || !budget.enabled) fail('the API has no budget: ' + JSON.stringify(budget));
      const month = budget.report.month;
      const money = (t) => Number(String(t).replace(/[$,]/g, ''));
      if (shown.gaugeHidden) return 'the gauge is hidden';
      if (Math.abs(money(shown.cost) - month.cost_usd) > 5e-7) return `cost shown ${shown.cost}, API ${month.cost_usd}`;
      if (Math.abs(money(shown.limit) - month.budget_usd) > 5e-7) return `budget shown ${shown.limit}, API ${month.budget_usd}`;
      if (Math.abs(parseFloat(shown.percent) - month.used_percent) > 0.05) return `percent shown ${shown.percent}, API ${month.used_percent}`;
      const alarmPercent = budget.report.threshold.alarm_percent;
      if (parseFloat(shown.alarm) !== alarmPercent || shown.alarmLine !== alarmPercent + '%')
        return `alarm line ${shown.alarmLine} (${shown.alarm}), API ${alarmPercent}`;
      if (Math.abs(parseFloat(shown.fill) - Math.min(100, month.used_percent)) > 0.01) return `gauge fill ${shown.fill}`;
      if (shown.state !== budget.alarm_state) return `state ${shown.state}, API ${budget.alarm_state}`;
      for (const [type, t] of Object.entries(budget.report.agent_types)) {
        const want = [t.hour, t.day].map((w) => `${w.used.toLocaleString('en-US')} / ${w.cap === null ? 'no cap' : w.cap.toLocaleString('en-US')}`);
        if (JSON.stringify(shown.caps[type]) !== JSON.stringify(want))
          return `caps of ${type}: shown ${shown.caps[type]}, API ${want}`;
      }
      if (!mirror.available || mirror.source !== 'broker') fail('the API has no mirror status: ' + JSON.stringify(mirror));
      for (const [key, value] of Object.entries(shown.mirror))
        if (num(value) !== mirror.store[key]) return `mirror ${key}: shown ${value}, API ${mirror.store[key]}`;
      if (shown.mode !== (mirror.dry_run ? 'dry-run' : 'live')) return `mirror mode ${shown.mode}`;
      const ids = agents.agents.map((a) => a.agent_id);
      if (JSON.stringify(shown.agents) !== JSON.stringify(ids)) return `agents shown ${shown.agents}, API ${ids}`;
      if (num(shown.nacksTotal) !== agents.nacked_total) return `NACKs shown ${shown.nacksTotal}, API ${agents.nacked_total}`;
      for (const [code, count] of Object.entries(agents.nacked))
        if (num(shown.nacks[code]) !== count) return `NACKs ${code}: shown ${shown.nacks[code]}, API ${count}`;
      // The sleeper runs steadily; the crasher changes state every second.
      const sleeper = supervisor.programs.sleeper, row = shown.programs.sleeper;
      if (!row || row[0] !== sleeper.state || row[1] !== String(sleeper.pid))
        return `program sleeper: shown ${row}, API ${sleeper.state} ${sleeper.pid}`;
      if (!shown.programs.crasher) return 'the crasher is not shown';
      if (!ids.includes('watcher-001')) fail('no watcher-001 in the API');
      return true;
    });
    await until('the newest event heads the table', 10, async () => {
      const api = await getJSON('/api/events?limit=1');
      const seq = await page.$eval('#events-table tbody tr', (tr) => Number(tr.dataset.seq));
      return seq === api.events[0].seq || `table starts at ${seq}, API at ${api.events[0].seq}`;
    });

    // 2. The detail view and the correlation chain (via a pattern on the id).
    await page.fill('#pattern', JSON.stringify({ id: [testId] }));
    await page.click('#apply');
    await until('the id pattern leaves one row', 10, async () => {
      const ids = await page.$$eval('#events-table tbody tr', (rows) => rows.map((r) => r.dataset.id));
      return (ids.length === 1 && ids[0] === testId) || `rows ${ids.join(' ')}`;
    });
    await page.click(`#events-table tbody tr[data-id="${testId}"]`);
    await until('the chain is shown', 10, async () => {
      const items = await page.$$eval('#chain li', (lis) => lis.map((li) => li.textContent));
      const deliveries = await page.$$eval('#deliveries-table tbody tr', (rows) => rows.map((r) => r.cells[1].textContent));
      const mirrorState = await page.$eval('#detail-mirror span', (span) => span.dataset.state).catch(() => '');
      return (items.length === 4 && items[0].includes('Issue Detection') && items[3].includes(testId)
              && deliveries.join() === 'all-tests' && mirrorState === 'dry-run')
        || `chain ${JSON.stringify(items)} deliveries ${deliveries} mirror ${mirrorState}`;
    });

    // 3. A pattern filter: only tester events, as many as the API has.
    const pattern = { source: ['cabruca.agents.tester'] };
    await page.fill('#pattern', JSON.stringify(pattern));
    await page.click('#apply');
    const expected = await getJSON('/api/events?limit=50&pattern=' + encodeURIComponent(JSON.stringify(pattern)));
    await until('the table shows the filtered events', 10, async () => {
      const rows = await page.$$eval('#events-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.seq, tr.cells[2].textContent]));
      if (rows.some((r) => r[1] !== 'cabruca.agents.tester')) fail('a non-tester row under the filter');
      return rows.map((r) => r[0]).join() === expected.events.map((e) => String(e.seq)).join()
        || `rows ${rows.length}, API ${expected.events.length}`;
    });
    await until('the stream is live', 10, async () =>
      (await page.textContent('#connection')) === 'live' || 'badge: ' + (await page.textContent('#connection')));

    // 4. A new event arrives live.
    const liveId = execFileSync(publishLive, { encoding: 'utf8', timeout: 60000 }).trim();
    if (!liveId) fail('could not publish the live event');
    await until('the new event arrives live', 10, async () =>
      (await page.$(`#events-table tbody tr[data-id="${liveId}"]`)) !== null || 'not yet');
    const firstId = await page.$eval('#events-table tbody tr', (tr) => tr.dataset.id);
    if (firstId !== liveId) fail(`the live event is not on top (${firstId})`);

    await page.evaluate(() => window.scrollTo(0, 0));
    const shot = path.join(artifactDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: false });
    await page.screenshot({ path: path.join(artifactDir, 'dashboard-full.png'), fullPage: true });
    console.log('browser.js: screenshot ' + shot);
    const width = await page.evaluate(() => Math.max(document.documentElement.scrollWidth,
      ...[...document.querySelectorAll('section')].map((s) => s.getBoundingClientRect().right)));
    if (width > 1280) fail(`the page is ${width} px wide at 1280x800`);
    if (problems.length) fail(problems.join('\n'));
  } finally {
    await browser.close();
  }
  console.log('browser.js: OK');
}

main().catch((error) => {
  console.error('FAIL: ' + error.message);
  process.exit(1);
});
