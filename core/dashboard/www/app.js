// cabruca dashboard: plain JavaScript, no library, no build step. It talks
// only to its own server (Content-Security-Policy: default-src 'self'):
// /api/stats every 5 s, /api/budget, /api/mirror, /api/agents and
// /api/supervisor every 3 s, /api/events for the table (with the pattern filter),
// /api/stream (server-sent events, read with fetch so that the bearer token
// travels in a header) for new events, /api/events/ID and .../chain for the
// detail view.
'use strict';

const state = {
  token: sessionStorage.getItem('cabruca-token') || '',
  pattern: '',
  cursor: null,
  lastSeq: 0,
  stream: null,        // AbortController of the live stream
  streamGen: 0,
};
const PALETTE = ['#1f6feb', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#c2255c',
                 '#5c940d', '#364fc7', '#862e9c'];
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children)
    node.append(child instanceof Node ? child : document.createTextNode(child ?? ''));
  return node;
}

function headers() {
  return state.token ? { Authorization: 'Bearer ' + state.token } : {};
}

function setConnection(text, cls) {
  const badge = $('connection');
  badge.textContent = text;
  badge.className = 'badge ' + (cls || '');
}

async function api(path) {
  const response = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (response.status === 401) {
    $('token-form').hidden = false;
    setConnection('token required', 'down');
    throw new Error('a bearer token is required');
  }
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.message || response.statusText);
    error.body = body;
    throw error;
  }
  return body;
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–');
const shortTime = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

// ---- stats: cards, chart, budget/mirror, DLQ, rules --------------------------

function drawChart(hourly) {
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 820, height = canvas.clientHeight || 220;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const start = Date.parse(hourly.from), hours = hourly.hours;
  const agents = Object.keys(hourly.by_agent).sort();
  const series = agents.map((agent) => {
    const values = new Array(hours).fill(0);
    for (const [bucket, count] of Object.entries(hourly.by_agent[agent])) {
      const index = Math.round((Date.parse(bucket) - start) / 3600000);
      if (index >= 0 && index < hours) values[index] += count;
    }
    return values;
  });
  const max = Math.max(1, ...series.flat());
  const left = 48, right = 10, top = 10, bottom = 24;
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (i) => left + (plotW * i) / (hours - 1);
  const y = (v) => top + plotH - (plotH * v) / max;
  g.font = '11px system-ui, sans-serif';
  g.strokeStyle = '#e3e6eb';
  g.fillStyle = '#667085';
  g.lineWidth = 1;
  for (let step = 0; step <= 4; step++) {
    const value = (max * step) / 4, yy = y(value);
    g.beginPath(); g.moveTo(left, yy); g.lineTo(width - right, yy); g.stroke();
    g.textAlign = 'right';
    g.fillText(Math.round(value).toLocaleString('en-US'), left - 6, yy + 4);
  }
  g.textAlign = 'center';
  for (let i = 0; i < hours; i += 6) {
    const when = new Date(start + i * 3600000);
    g.fillText(String(when.getUTCHours()).padStart(2, '0') + 'h', x(i), height - 8);
  }
  const legend = $('legend');
  legend.replaceChildren();
  series.forEach((values, n) => {
    const colour = PALETTE[n % PALETTE.length];
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    values.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.stroke();
    const swatch = el('span', { class: 'swatch' });
    swatch.style.background = colour;
    const total = values.reduce((a, b) => a + b, 0);
    legend.append(el('li', { 'data-agent': agents[n] }, swatch, agents[n],
                     el('span', { class: 'count', 'data-count': String(total) }, fmt(total))));
  });
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) =>
    el('tr', {}, ...cells.map((cell) => (cell instanceof Node ? el('td', {}, cell)
      : el('td', typeof cell === 'number' ? { class: 'num' } : {}, typeof cell === 'number' ? fmt(cell) : cell))))));
}

async function refreshStats() {
  try {
    const stats = await api('/api/stats');
    $('total-events').textContent = fmt(stats.events);
    let recent = 0;
    for (const buckets of Object.values(stats.hourly.by_source))
      for (const count of Object.values(buckets)) recent += count;
    $('recent-events').textContent = fmt(recent);
    $('dlq-standard').textContent = fmt(stats.dlq.standard ? stats.dlq.standard.depth : 0);
    $('dlq-critical').textContent = fmt(stats.dlq.critical ? stats.dlq.critical.depth : 0);
    $('last-seq').textContent = fmt(stats.last_seq);
    drawChart(stats.hourly);
    fillRows($('dlq-table').tBodies[0], Object.entries(stats.dlq).map(([queue, q]) =>
      [queue, q.depth, shortTime(q.oldest).slice(5), shortTime(q.newest).slice(5)]));
    fillRows($('rules-table').tBodies[0], Object.entries(stats.rules).sort().map(([rule, r]) =>
      [rule, r.matches || 0, r.done || 0, r.pending || 0, r.dead || 0]));
  } catch (error) {
    setConnection(error.message, 'down');
  }
}

// ---- budget, mirror, agents, supervisor (the broker's answers, cached) -----

// Money: enough decimals to show a millionth of a dollar.
function usd(n) {
  if (typeof n !== 'number') return '–';
  const abs = Math.abs(n);
  const digits = abs === 0 ? 2 : abs < 0.01 ? 6 : abs < 1 ? 4 : 2;
  return '$' + n.toFixed(digits);
}
const pct = (n) => (typeof n === 'number' ? n.toFixed(1) + '%' : '–');
function duration(ms) {
  if (typeof ms !== 'number') return '–';
  if (ms < 1000) return ms + ' ms';
  if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
  if (ms < 7200000) return Math.round(ms / 60000) + ' min';
  return (ms / 3600000).toFixed(1) + ' h';
}

// Show the "not available" note of a panel (body hidden) or the body.
function availability(name, answer, what) {
  const na = $(name + '-na');
  const ok = answer && answer.available === true;
  na.hidden = ok;
  na.replaceChildren();
  if (!ok) {
    na.append(el('div', { 'data-available': 'false' }, what + ' not available'),
              el('small', {}, answer ? answer.error || '' : ''));
  }
  return ok;
}

function setValue(id, value, text) {
  const node = $(id);
  node.dataset.value = value === undefined || value === null ? '' : String(value);
  node.textContent = text;
}

function capCell(window) {
  const used = window ? window.used : 0;
  const cap = window ? window.cap : null;
  const bar = el('div', { class: 'bar' });
  const fill = el('div', { class: 'bar-fill' });
  const ratio = cap ? used / cap : 0;
  fill.style.width = Math.min(100, ratio * 100).toFixed(1) + '%';
  if (cap !== null && ratio >= 1) fill.classList.add('full');
  else if (ratio >= 0.9) fill.classList.add('high');
  bar.append(fill);
  const label = el('span', { class: 'cap-text', 'data-used': String(used),
                             'data-cap': cap === null ? '' : String(cap) },
                   fmt(used) + ' / ' + (cap === null ? 'no cap' : fmt(cap)));
  return el('div', { class: 'cap' }, bar, label);
}

function showBudget(answer) {
  const ok = availability('budget', answer, 'budget');
  const body = $('budget');
  body.hidden = !ok || answer.enabled !== true;
  if (!ok && answer && answer.saved) {
    const saved = answer.saved;
    $('budget-na').append(el('div', { id: 'budget-saved', 'data-cost': String(saved.cost_usd) },
      `last saved by the broker: ${usd(saved.cost_usd)} this month (${fmt(saved.events)} events` +
      ` from ${shortTime(saved.month_start).slice(0, 10)}; shed ${fmt(saved.shed)}, sampled ${fmt(saved.sampled)})`));
  }
  if (ok && answer.enabled !== true) {
    $('budget-na').hidden = false;
    $('budget-na').replaceChildren(el('div', { 'data-available': 'off' }, 'the mirror is off: no budget'));
  }
  const state = $('budget-state');
  state.textContent = ok ? answer.alarm_state : '';
  state.className = 'state ' + (ok ? 'state-' + answer.alarm_state : '');
  if (body.hidden) return;
  const report = answer.report, month = report.month, threshold = report.threshold;
  setValue('budget-cost', month.cost_usd, usd(month.cost_usd));
  setValue('budget-limit', month.budget_usd, usd(month.budget_usd));
  setValue('budget-percent', month.used_percent, pct(month.used_percent));
  setValue('budget-alarm', threshold.alarm_percent, pct(threshold.alarm_percent));
  setValue('budget-projected', month.projected_usd, usd(month.projected_usd));
  $('budget-projected').classList.toggle('over', month.projected_usd > month.budget_usd);
  setValue('budget-events', month.events, fmt(month.events));
  setValue('budget-deferred', report.counts.deferred, fmt(report.counts.deferred));
  setValue('budget-sampled', report.counts.sampled, fmt(report.counts.sampled));
  setValue('budget-shed', report.counts.shed, fmt(report.counts.shed));
  $('budget-fill').style.width = Math.min(100, month.used_percent).toFixed(2) + '%';
  $('budget-fill').className = 'gauge-fill ' + answer.alarm_state;
  $('budget-alarm-line').style.left = Math.min(100, threshold.alarm_percent) + '%';
  const projected = month.budget_usd > 0 ? (100 * month.projected_usd) / month.budget_usd : 0;
  $('budget-projected-line').style.left = Math.min(100, projected).toFixed(2) + '%';
  const tbody = $('caps-table').tBodies[0];
  tbody.replaceChildren(...Object.keys(report.agent_types).sort().map((type) => {
    const t = report.agent_types[type];
    return el('tr', { 'data-type': type }, el('td', {}, type), el('td', {}, capCell(t.hour)),
              el('td', {}, capCell(t.day)));
  }));
}

function showMirror(answer) {
  const ok = availability('mirror', answer, 'mirror status');
  $('mirror').hidden = !ok;
  const mode = $('mirror-mode');
  if (!ok) {
    mode.textContent = '';
    return;
  }
  const store = answer.store || {};
  const sender = answer.sender || {};
  let text;
  if (answer.source === 'store') text = 'from the store (the broker does not answer)';
  else if (answer.enabled !== true) text = 'off';
  else text = answer.dry_run ? 'dry-run' : 'live';
  mode.textContent = text;
  mode.className = 'state ' + (answer.source === 'store' ? 'state-alarm' : 'state-ok');
  mode.dataset.mode = answer.source === 'store' ? 'store' : answer.enabled !== true ? 'off' : answer.dry_run ? 'dry-run' : 'live';
  setValue('mirror-bus', answer.bus || '', answer.bus || '–');
  for (const key of ['outbox', 'deferred', 'accepted', 'dry_run', 'dead', 'sampled', 'shed', 'dlq_depth'])
    setValue('mirror-' + key, store[key], fmt(store[key]));
  setValue('mirror-lag', store.lag_ms, duration(store.lag_ms));
  setValue('mirror-cost', sender.cost_usd, usd(sender.cost_usd));
  const error = sender.last_error || answer.broker_error || '';
  setValue('mirror-error', error, error || 'none');
}

function showAgents(answer) {
  const ok = availability('agents', answer, 'the broker\u2019s status is');
  $('agents-table').hidden = !ok;
  $('nacks-table').hidden = !ok;
  if (!ok) {
    $('agents-summary').textContent = '';
    $('nacks-total').textContent = '–';
    return;
  }
  $('agents-summary').textContent = `(${fmt(answer.connected_agents)} connected · received ${fmt(answer.received)} · stored ${fmt(answer.stored)})`;
  $('agents-summary').dataset.connected = String(answer.connected_agents);
  fillRows($('agents-table').tBodies[0], answer.agents.map((a) => [a.agent_id, a.in_flight, duration(a.idle_ms)]));
  const codes = Object.entries(answer.nacked || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  fillRows($('nacks-table').tBodies[0], codes.length ? codes : [['none', 0]]);
  setValue('nacks-total', answer.nacked_total, fmt(answer.nacked_total));
}

function showSupervisor(answer) {
  const ok = availability('supervisor', answer, 'the supervisor\u2019s state is');
  $('supervisor-table').hidden = !ok;
  if (!ok) {
    $('supervisor-summary').textContent = '';
    return;
  }
  const counts = Object.entries(answer.counts || {}).map(([state, n]) => `${n} ${state.toLowerCase()}`);
  $('supervisor-summary').textContent = counts.length ? '(' + counts.join(' · ') + ')' : '';
  const exit = (e) => (!e ? '' : e.signal ? 'signal ' + e.signal : 'status ' + e.status);
  fillRows($('supervisor-table').tBodies[0], Object.keys(answer.programs).sort().map((name) => {
    const p = answer.programs[name];
    return [name, el('span', { class: 'prog-' + String(p.state).toLowerCase() }, p.state),
            p.pid === null ? '' : String(p.pid), typeof p.uptime === 'number' ? duration(Math.round(p.uptime * 1000)) : '',
            p.restarts, exit(p.last_exit)];
  }));
}

async function refreshSystem() {
  const parts = [['/api/budget', showBudget], ['/api/mirror', showMirror], ['/api/agents', showAgents],
                 ['/api/supervisor', showSupervisor]];
  await Promise.all(parts.map(async ([path, show]) => {
    try {
      show(await api(path));
    } catch (error) {
      show({ available: false, error: error.message });
    }
  }));
}

// ---- the event table, the pattern filter, the live stream -------------------

function eventRow(row, fresh) {
  const e = row.event || {};
  const detail = e.detail || {};
  const tr = el('tr', { 'data-seq': String(row.seq), 'data-id': e.id || '', class: fresh ? 'new' : '' },
    el('td', { class: 'num' }, String(row.seq)), el('td', {}, shortTime(e.time)),
    el('td', {}, e.source || ''), el('td', {}, e['detail-type'] || ''),
    el('td', {}, detail.agent_id || ''), el('td', {}, e.id || ''));
  tr.addEventListener('click', () => showDetail(e.id));
  return tr;
}

function eventsQuery(cursor) {
  const params = new URLSearchParams({ limit: '50' });
  if (state.pattern) params.set('pattern', state.pattern);
  if (cursor) params.set('cursor', cursor);
  return '/api/events?' + params;
}

async function loadEvents() {
  const tbody = $('events-table').tBodies[0];
  $('filter-error').textContent = '';
  try {
    const page = await api(eventsQuery(null));
    tbody.replaceChildren(...page.events.map((row) => eventRow(row, false)));
    state.cursor = page.next_cursor || null;
    $('more').hidden = !state.cursor;
    $('events-note').textContent = state.pattern ? '(filtered by pattern)' : '';
    startStream(page.events.length ? page.events[0].seq : null);
  } catch (error) {
    $('filter-error').textContent = error.message;
  }
}

async function loadMore() {
  if (!state.cursor) return;
  try {
    const page = await api(eventsQuery(state.cursor));
    $('events-table').tBodies[0].append(...page.events.map((row) => eventRow(row, false)));
    state.cursor = page.next_cursor || null;
    $('more').hidden = !state.cursor;
  } catch (error) {
    $('filter-error').textContent = error.message;
  }
}

function addLive(row) {
  const tbody = $('events-table').tBodies[0];
  if (tbody.querySelector(`tr[data-seq="${row.seq}"]`)) return;
  tbody.prepend(eventRow(row, true));
  while (tbody.rows.length > 500) tbody.deleteRow(-1);
}

async function startStream(from) {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  const generation = ++state.streamGen;
  const params = new URLSearchParams();
  if (state.pattern) params.set('pattern', state.pattern);
  let after = from ?? null;
  while (generation === state.streamGen) {
    const query = new URLSearchParams(params);
    if (after !== null) query.set('after', String(after));
    try {
      const response = await fetch('/api/stream?' + query, { headers: headers(), signal: controller.signal });
      if (response.status === 401) {
        $('token-form').hidden = false;
        setConnection('token required', 'down');
        return;
      }
      if (!response.ok) throw new Error('stream: HTTP ' + response.status);
      setConnection('live', 'live');
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          const from = /^: stream from seq (\d+)/m.exec(block);
          if (from && after === null) after = Number(from[1]);
          if (!data) continue;
          const row = JSON.parse(data);
          after = row.seq;
          addLive(row);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      setConnection('reconnecting…', 'down');
    }
    if (generation !== state.streamGen) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// ---- detail view with the correlation chain --------------------------------

function chainItem(item, current) {
  const label = `${item.detail_type || '?'} · ${item.source || ''} · ${item.id}`;
  if (current || item.missing) return el('li', { class: current ? 'current' : '' }, item.missing ? item.id + ' (not in the store)' : label);
  const link = el('a', { 'data-chain-id': item.id }, label);
  link.addEventListener('click', () => showDetail(item.id));
  return el('li', {}, link);
}

async function showDetail(id) {
  if (!id) return;
  const safe = encodeURIComponent(id);
  try {
    const [event, chain] = await Promise.all([api('/api/events/' + safe), api('/api/events/' + safe + '/chain')]);
    $('detail').hidden = false;
    $('detail-id').textContent = id;
    const items = [...chain.causes].reverse().map((c) => chainItem(c, false));
    items.push(chainItem(chain.event, true));
    for (const c of chain.caused) items.push(chainItem(c, false));
    $('chain').replaceChildren(...items);
    const tbody = $('deliveries-table').tBodies[0];
    fillRows(tbody, event.deliveries.map((d) =>
      [String(d.id), d.rule, d.target, el('span', { class: 'state-' + d.state }, d.state), d.attempts, d.dlq || '', d.error || '']));
    const m = event.mirror || {};
    const facts = [m.state || 'unknown'];
    if (m.aws_event_id) facts.push('AWS id ' + m.aws_event_id);
    if (m.attempts) facts.push(m.attempts + ' attempt' + (m.attempts === 1 ? '' : 's'));
    if (m.not_before_ms) facts.push('not before ' + new Date(m.not_before_ms).toISOString());
    if (m.error) facts.push(m.error);
    $('detail-mirror').replaceChildren(el('span', { class: 'mirror-' + (m.state || 'unknown'), 'data-state': m.state || 'unknown' },
                                          facts.join(' · ')));
    $('detail-json').textContent = JSON.stringify(event.event, null, 2);
    $('detail').scrollIntoView({ block: 'nearest' });
  } catch (error) {
    $('filter-error').textContent = error.message;
  }
}

// ---- wiring ----------------------------------------------------------------

function start() {
  $('filter-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('pattern').value.trim();
    if (text) {
      try { JSON.parse(text); } catch (error) {
        $('filter-error').textContent = 'not JSON: ' + error.message;
        return;
      }
    }
    state.pattern = text;
    loadEvents();
  });
  $('clear').addEventListener('click', () => { $('pattern').value = ''; state.pattern = ''; loadEvents(); });
  $('more').addEventListener('click', loadMore);
  $('detail-close').addEventListener('click', () => { $('detail').hidden = true; });
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value;
    sessionStorage.setItem('cabruca-token', state.token);
    $('token-form').hidden = true;
    refreshStats();
    refreshSystem();
    loadEvents();
  });
  refreshStats();
  refreshSystem();
  loadEvents();
  setInterval(refreshStats, 5000);
  setInterval(refreshSystem, 3000);
}

document.addEventListener('DOMContentLoaded', start);
