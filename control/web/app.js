// asicmon farm dashboard: plain JS over control's REST API. The first render
// reads the JSON endpoints once; polling every 10 s keeps it current. The
// table asks the server for one sorted, filtered page of 100 miners, so the
// page's cost does not grow with the farm.
'use strict';

const PAGE_SIZE = 100;
const POLL_MS = 10000;
const TOKEN_KEY = 'asicmon-control-token';
const MINER_HISTORY_S = 6 * 3600;

const state = {
  sort: 'address', order: 'asc', offset: 0,
  filters: { status: '', model: '', worker: '' },
  miners: [],      // the page shown
  selected: null,  // the miner whose panel is open
  charts: {},      // uPlot instances by element id
};

const $ = (id) => document.getElementById(id);

// --- API --------------------------------------------------------------------

// {status, body}; never throws on an HTTP status, so a 404 is an answer, not an error.
async function api(path, options = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = 'Bearer ' + token;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (e) {
    return { status: 0, body: { error: 'control unreachable', detail: String(e) } };
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  // With CONTROL_AUTH_READ, reads need a key too: ask once and retry.
  if (response.status === 401 && !options.method && !token && askToken()) return api(path, options);
  return { status: response.status, body };
}

function askToken() {
  const token = window.prompt('API key (asicmon-control keys add), kept for this browser tab');
  if (!token) return null;
  sessionStorage.setItem(TOKEN_KEY, token);
  loadWho();
  return token;
}

// Who is signed in, and the miner buttons their role allows (the others are
// hidden; without a key every button shows and asks for one).
const ACTION_BUTTONS = { reset: 'do-reset', reboot: 'do-reboot', pool: 'do-pool' };

async function loadWho() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  let may = Object.keys(ACTION_BUTTONS);
  $('who').textContent = 'not signed in';
  if (token) {
    const headers = { Authorization: 'Bearer ' + token };
    const response = await fetch('/whoami', { headers }).catch(() => null);
    const body = response && response.ok ? await response.json() : null;
    if (body) {
      $('who').textContent = `${body.name} (${body.role})`;
      may = body.may;
    } else if (response && response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);  // revoked or expired: asked again next time
    }
  }
  for (const [action, id] of Object.entries(ACTION_BUTTONS)) $(id).hidden = !may.includes(action);
}

// --- formatting ---------------------------------------------------------------

function fmtRate(hs) {
  if (hs === null || hs === undefined) return '–';
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s', 'EH/s'];
  let i = 0;
  while (Math.abs(hs) >= 1000 && i < units.length - 1) { hs /= 1000; i++; }
  return hs.toFixed(hs >= 100 ? 0 : hs >= 10 ? 1 : 2) + ' ' + units[i];
}

function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

function fmtAge(ts) {
  return ts ? fmtDuration(Math.max(0, Date.now() / 1000 - ts)) + ' ago' : '–';
}

function fmtTemp(c) { return c === null || c === undefined ? '–' : c.toFixed(0) + ' °C'; }

// ok, sleeping (stopped on purpose: no fault), degraded (polls fine but a
// board has failed chips or hashes nothing) or down.
function health(m) {
  if (m.status !== 'ok') return { word: 'down', why: m.status + (m.error ? ': ' + m.error : '') };
  if (m.sleeping) return { word: 'sleeping', why: 'asleep on purpose: not hashing, no alert fires' };
  const bad = (m.boards || []).filter((b) => (b.chips_failed || 0) > 0 || b.hashrate === 0);
  if (bad.length) return { word: 'degraded', why: bad.length + ' board(s) with failed chips' };
  return { word: 'ok', why: '' };
}

function boardsText(m) {
  const boards = m.boards || [];
  if (m.sleeping) return 'asleep';  // a sleeping S19 marks every chip failed
  if (!boards.length) return '–';
  const bad = boards.filter((b) => (b.chips_failed || 0) > 0 || b.hashrate === 0);
  if (!bad.length) return `${boards.length} ok`;
  // A dead chain may report 0 chips while its status string marks every one failed.
  return bad.map((b) => `#${b.index}: ${b.chips_failed ?? '?'}${b.chips ? ' of ' + b.chips : ''} chips failed`)
    .join(', ');
}

function activePool(m) {
  const pool = (m.pools || []).find((p) => p.active) || (m.pools || [])[0];
  return pool ? pool.url : '–';
}

// --- totals and farm chart ----------------------------------------------------

// A totals sample's algorithms that have a rate, as [name, totals]. Down
// miners that never said their algorithm add nothing to any rate: they must
// not make a farm of one algorithm look mixed.
function ratedAlgorithms(totals) {
  return Object.entries(totals.algorithms || {})
    .filter(([, a]) => a.hashrate > 0 || a.hashrate_expected > 0);
}

async function loadTotals() {
  const r = await api('/farm');
  if (r.status !== 200) return;
  const t = r.body;
  $('t-up').textContent = t.up;
  $('t-down').textContent = t.down;
  $('t-down').classList.toggle('health-down', t.down > 0);
  $('t-sleeping').textContent = t.sleeping ?? 0;
  const share = (h, e) => (e ? `of ${fmtRate(e)} expected (${(100 * h / e).toFixed(1)} %)` : '');
  const algorithms = ratedAlgorithms(t);
  if (algorithms.length > 1) {
    // Hashrates of different algorithms do not add up: each on its own.
    $('t-hashrate').textContent = algorithms.map(([name, a]) => `${name} ${fmtRate(a.hashrate)}`).join(' · ');
    $('t-expected').textContent = algorithms
      .map(([name, a]) => `${name} ${share(a.hashrate, a.hashrate_expected) || 'no expected rate'}`).join(' · ');
  } else {
    $('t-hashrate').textContent = fmtRate(t.hashrate);
    $('t-expected').textContent = share(t.hashrate, t.hashrate_expected);
  }
  $('t-power').textContent = t.power_w === null ? 'not reported' : (t.power_w / 1000).toFixed(1) + ' kW';
}

// Curtailment's state, and the farm's draw as it counts it: miners' own
// readings, their model's nominal power where they report none.
async function loadCurtail() {
  const r = await api('/curtail');
  if (r.status !== 200) return;
  const c = r.body;
  const kw = (v) => (typeof v === 'number' ? v.toFixed(1) + ' kW' : '–');
  const farm = c.plan ? `farm ${kw(c.farm_kw)}` +
    (c.plan.nominal_miners ? ` (${c.plan.nominal_miners} at nominal power)` : '') : '';
  if (c.state === 'idle') {
    $('t-curtail').textContent = 'off';
    $('t-curtail-detail').textContent = farm;
    return;
  }
  $('t-curtail').textContent = c.state === 'restoring' ? 'lifting' : `holding ${kw(c.target_kw)}`;
  const progress = typeof c.progress === 'number' ? `, ${(100 * c.progress).toFixed(0)} %` : '';
  $('t-curtail-detail').textContent = `${farm}; shed ${kw(c.shed_kw)}, ${c.held} miners${progress}`;
}

// `axes` defaults to time below and one value axis formatted as series[0].
function drawChart(id, series, data, axes) {
  const el = $(id);
  if (typeof uPlot === 'undefined') {
    el.textContent = 'charts need uPlot (run scripts/deps.sh, then rebuild)';
    return;
  }
  if (state.charts[id]) state.charts[id].destroy();
  el.textContent = '';
  state.charts[id] = new uPlot({
    width: Math.max(300, el.clientWidth), height: 220,
    series: [{}, ...series],
    axes: axes || [{}, { size: 70, values: (u, ticks) => ticks.map(series[0].format) }],
  }, data, el);
}

async function loadFarmChart() {
  const r = await api('/farm/history?seconds=3600');
  if (r.status !== 200) return;
  const samples = r.body.samples;
  const names = [...new Set(samples.flatMap((s) => ratedAlgorithms(s).map(([name]) => name)))].sort();
  if (names.length > 1) {
    // A mixed farm: H/s of SHA-256 and of scrypt share no scale, so each
    // algorithm gets its own (the first two with an axis, left and right).
    const colours = ['#1f6feb', '#bf8700', '#8250df', '#1a7f37', '#cf222e'];
    const of = (name, field) => samples.map((s) => ((s.algorithms || {})[name] || {})[field] ?? null);
    const series = [];
    const data = [samples.map((s) => s.ts)];
    names.forEach((name, i) => {
      series.push({ label: name, scale: name, stroke: colours[i % colours.length], width: 2,
                    value: (u, v) => fmtRate(v) });
      data.push(of(name, 'hashrate'));
    });
    names.forEach((name, i) => {
      const expected = of(name, 'hashrate_expected');
      if (!expected.some((v) => v > 0)) return;
      series.push({ label: `${name} expected`, scale: name, stroke: colours[i % colours.length],
                    dash: [6, 4], value: (u, v) => fmtRate(v) });
      data.push(expected);
    });
    const axes = [{}, ...names.slice(0, 2).map((name, i) => ({
      scale: name, side: i === 0 ? 3 : 1, size: 70, stroke: colours[i], grid: { show: i === 0 },
      values: (u, ticks) => ticks.map(fmtRate),
    }))];
    drawChart('farm-chart', series, data, axes);
    return;
  }
  drawChart('farm-chart', [
    { label: 'hashrate', stroke: '#1f6feb', width: 2, value: (u, v) => fmtRate(v), format: fmtRate },
    { label: 'expected', stroke: '#8c959f', dash: [6, 4], value: (u, v) => fmtRate(v) },
  ], [samples.map((s) => s.ts), samples.map((s) => s.hashrate), samples.map((s) => s.hashrate_expected)]);
}

// --- events -------------------------------------------------------------------

async function loadEvents() {
  const r = await api('/events?limit=20');
  const list = $('events');
  list.textContent = '';
  const events = r.status === 200 ? r.body.events : [];
  if (!events.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = r.status === 200 ? 'no events' : `events unavailable (${r.status})`;
    list.appendChild(li);
    return;
  }
  for (const e of events) {
    const li = document.createElement('li');
    li.className = 'sev-' + e.severity;
    const when = new Date(e.ts * 1000).toLocaleTimeString();
    li.textContent = `${when} ${e.ip} ${e.kind} ${e.state}: ${e.message}`;
    list.appendChild(li);
  }
}

// --- miners table -------------------------------------------------------------

function minersQuery() {
  const q = new URLSearchParams({ limit: PAGE_SIZE, offset: state.offset, sort: state.sort, order: state.order });
  for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
  return q.toString();
}

async function loadMiners() {
  const r = await api('/miners?' + minersQuery());
  if (r.status !== 200) {
    $('page-info').textContent = `miners unavailable (${r.status}${r.body ? ': ' + r.body.error : ''})`;
    return;
  }
  state.miners = r.body.miners;
  renderMiners();
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function renderMiners() {
  const fragment = document.createDocumentFragment();
  for (const m of state.miners) {
    const tr = document.createElement('tr');
    tr.dataset.ip = m.ip;
    const h = health(m);
    const status = cell(tr, h.word, 'health health-' + h.word);
    status.title = h.why;
    cell(tr, m.port === 4028 ? m.ip : `${m.ip}:${m.port}`);
    cell(tr, m.model || '–');
    cell(tr, m.worker || '–');
    cell(tr, fmtRate(m.hashrate), 'num');
    cell(tr, fmtTemp(m.temp_max), 'num');
    cell(tr, (m.fans || []).join(' / ') || '–');
    cell(tr, boardsText(m), 'boards');
    cell(tr, activePool(m));
    cell(tr, fmtDuration(m.uptime_s), 'num');
    cell(tr, fmtAge(m.ts), 'num');
    if (state.selected && state.selected.ip === m.ip) tr.classList.add('selected');
    fragment.appendChild(tr);
  }
  const body = document.querySelector('#miners tbody');
  body.textContent = '';
  body.appendChild(fragment);
  const first = state.miners.length ? state.offset + 1 : 0;
  $('page-info').textContent = `miners ${first}–${state.offset + state.miners.length}`;
  $('prev').disabled = state.offset === 0;
  $('next').disabled = state.miners.length < PAGE_SIZE;
  for (const th of document.querySelectorAll('#miners th[data-sort]')) {
    th.classList.toggle('sorted-asc', th.dataset.sort === state.sort && state.order === 'asc');
    th.classList.toggle('sorted-desc', th.dataset.sort === state.sort && state.order === 'desc');
  }
}

// --- one miner's panel --------------------------------------------------------

async function openMiner(ip) {
  const m = state.miners.find((x) => x.ip === ip);
  if (!m) return;
  state.selected = m;
  for (const tr of document.querySelectorAll('#miners tbody tr')) {
    tr.classList.toggle('selected', tr.dataset.ip === ip);
  }
  $('miner-panel').hidden = false;
  $('panel-title').textContent = `${m.ip} · ${m.model || 'unknown model'} · ${m.worker || 'no worker'}`;
  const h = health(m);
  $('panel-state').textContent = h.word;
  $('panel-state').className = 'health health-' + h.word;
  $('panel-state').title = h.why;
  $('action-result').textContent = '';
  for (const id of ['do-reset', 'do-reboot', 'do-pool']) $(id).disabled = !m.worker;
  if (!m.worker) showResult('commands need the miner\'s worker name, which it has not reported', false);
  await loadMinerCharts(m);
}

async function loadMinerCharts(m) {
  const to = Math.floor(Date.now() / 1000);
  const r = await api(`/miners/${m.ip}/history?from=${to - MINER_HISTORY_S}&to=${to}&limit=5000`);
  if (r.status !== 200 || state.selected !== m) return;
  const records = r.body.records;
  const ts = records.map((x) => x.ts);
  drawChart('miner-hashrate', [
    { label: 'hashrate', stroke: '#1f6feb', width: 2, value: (u, v) => fmtRate(v), format: fmtRate },
    { label: 'expected', stroke: '#8c959f', dash: [6, 4], value: (u, v) => fmtRate(v) },
  ], [ts, records.map((x) => x.hashrate ?? null), records.map((x) => x.hashrate_expected ?? null)]);
  const boards = Math.max(0, ...records.map((x) => (x.boards || []).length));
  const colours = ['#d1242f', '#bf8700', '#8250df', '#1a7f37'];
  const series = [{ label: 'max', stroke: '#cf222e', width: 2, value: (u, v) => fmtTemp(v), format: fmtTemp }];
  const data = [ts, records.map((x) => x.temp_max ?? null)];
  for (let b = 0; b < boards; b++) {
    series.push({ label: `board ${b + 1} chip`, stroke: colours[b % colours.length], value: (u, v) => fmtTemp(v) });
    data.push(records.map((x) => (x.boards && x.boards[b] ? x.boards[b].temp_chip ?? null : null)));
  }
  drawChart('miner-temps', series, data);
}

function showResult(text, ok) {
  const el = $('action-result');
  el.textContent = text;
  el.className = 'result ' + (ok ? 'ok' : 'error');
}

// reset, reboot or pool on the selected miner: token, confirmation, then the result.
async function command(action) {
  const m = state.selected;
  if (!m) return;
  let body;
  if (action === 'pool') {
    const url = window.prompt('New pool URL (stratum+tcp://host:port)');
    if (!url) return;
    const user = window.prompt('Pool user', m.worker);
    if (user === null) return;
    const password = window.prompt('Pool password', 'x');
    if (password === null) return;
    body = JSON.stringify({ url, user, password });
  }
  if (!sessionStorage.getItem(TOKEN_KEY) && !askToken()) return;
  const what = action === 'pool' ? 'Change the pool of' : action === 'reset' ? 'Soft-reset' : 'Reboot';
  if (!window.confirm(`${what} ${m.ip} (worker ${m.worker})?`)) return;
  showResult(`${action}: sent, waiting for the miner…`, true);
  const r = await api(`/miners/${m.ip}/${encodeURIComponent(m.worker)}/${action}`, { method: 'POST', body });
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);  // a wrong key is asked again next time
    loadWho();
  }
  if (r.status >= 200 && r.status < 300) {
    showResult(`${action} ${m.ip}: ${r.body.result} (HTTP ${r.status})`, true);
  } else {
    const why = r.body ? `${r.body.error}${r.body.detail ? ' — ' + r.body.detail : ''}` : 'no reply';
    showResult(`${action} ${m.ip} failed (HTTP ${r.status}): ${why}`, false);
  }
}

// --- wiring -------------------------------------------------------------------

async function refresh() {
  await Promise.all([loadTotals(), loadCurtail(), loadMiners(), loadFarmChart(), loadEvents()]);
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

function wire() {
  for (const th of document.querySelectorAll('#miners th[data-sort]')) {
    th.addEventListener('click', () => {
      const key = th.dataset.sort;
      state.order = state.sort === key && state.order === 'asc' ? 'desc' : 'asc';
      state.sort = key;
      state.offset = 0;
      loadMiners();
    });
  }
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    for (const k of Object.keys(state.filters)) state.filters[k] = (form.get(k) || '').trim();
    state.offset = 0;
    loadMiners();
  });
  $('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); loadMiners(); });
  $('next').addEventListener('click', () => { state.offset += PAGE_SIZE; loadMiners(); });
  document.querySelector('#miners tbody').addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (tr) openMiner(tr.dataset.ip);
  });
  $('panel-close').addEventListener('click', () => { state.selected = null; $('miner-panel').hidden = true; });
  $('do-reset').addEventListener('click', () => command('reset'));
  $('do-reboot').addEventListener('click', () => command('reboot'));
  $('do-pool').addEventListener('click', () => command('pool'));
}

// Polls one after another, so a slow control never has two refreshes in flight.
async function poll() {
  await refresh();
  if (state.selected) await loadMinerCharts(state.selected);
  setTimeout(poll, POLL_MS);
}

wire();
loadWho();
refresh().then(() => setTimeout(poll, POLL_MS));
