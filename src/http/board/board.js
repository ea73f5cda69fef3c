// The crisis board: a client of crisisd's own API (/v1) and SSE stream.
// No framework, no build step. Every string comes from i18n.js; every request carries
// the token kept in sessionStorage; the page never writes data into innerHTML.
(() => {
  'use strict';

  const STAGES = ['monitor', 'assess', 'plan', 'execute', 'follow_up', 'review'];
  const SEVERITIES = ['low', 'medium', 'high', 'critical'];
  // The command that takes an incident out of each stage (crisis leads).
  const NEXT_STAGE = {
    monitor: 'start_assessment', assess: 'start_planning', plan: 'start_execution',
    execute: 'start_follow_up', follow_up: 'start_review',
  };
  const PAGE = 500;
  const TOKEN_KEY = 'crisisd.token';
  const SEALED = 'pd:v1:';

  const S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    lang: localStorage.getItem('crisisd.lang') || 'en',
    rows: new Map(),        // incident id -> board row
    opened: new Map(),      // incident id -> opened_at (read only for the date filter)
    airports: new Map(),    // "LH/400/2026-01-01" -> [airports]
    lastId: 0,              // last SSE position received
    positions: [],          // every position received (tests check for gaps)
    gaps: 0,
    feed: [],               // last events, newest first
    live: false,
    filters: { severity: '', airport: '', flight: '', date: '' },
    view: null,
    readyAt: null,
  };
  window.__board = S;
  if (!localStorage.getItem('crisisd.lang')) {
    S.lang = (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  }

  // ---------- strings, elements, formats ----------
  function t(key, vars) {
    const table = window.BOARD_I18N;
    let s = (table[S.lang] && table[S.lang][key]) || table.en[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split('{' + k + '}').join(String(v));
    return s;
  }
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'data') for (const [d, dv] of Object.entries(v)) node.dataset[d] = dv;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const locale = () => (S.lang === 'zh' ? 'zh-CN' : 'en-GB');
  function localTime(iso) {
    if (!iso) return '—';
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
  }
  function utcTime(iso) {
    if (!iso) return '—';
    return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  function duration(secs) {
    const neg = secs < 0; secs = Math.abs(Math.round(secs));
    const d = Math.floor(secs / 86400), h = Math.floor((secs % 86400) / 3600), m = Math.floor((secs % 3600) / 60);
    let s;
    if (d) s = t('dur_dh', { d, h });
    else if (h) s = t('dur_hm', { h, m });
    else if (m) s = t('dur_m', { m });
    else s = t('dur_s', { s: secs });
    return neg ? '−' + s : s;
  }
  function money(m) {
    if (!m) return '—';
    return (m.amount_minor / 100).toLocaleString(locale(), { minimumFractionDigits: 2 }) + ' ' + m.currency;
  }
  const flightName = (f) => (f ? f.carrier + f.number + ' ' + f.date : '—');
  // An enum value in the viewer's language (the value itself when the table lacks it).
  function label(prefix, v) {
    if (v === null || v === undefined) return '—';
    const key = prefix + '_' + v;
    const s = t(key);
    return s === key ? String(v) : s;
  }
  const sealed = (v) => typeof v === 'string' && (v.startsWith(SEALED) || v === '[redacted]');
  // Personal values an auditor may not read arrive sealed: show that, never the cipher.
  function openData(v) {
    if (sealed(v)) return t('redacted');
    if (v === '[erased]') return t('erased');
    if (v === '[unavailable]') return t('unavailable');
    if (Array.isArray(v)) return v.map(openData);
    if (v && typeof v === 'object') {
      const o = {};
      for (const [k, x] of Object.entries(v)) o[k] = openData(x);
      return o;
    }
    return v;
  }
  function toast(text, bad) {
    const box = $('toast');
    box.textContent = text; box.hidden = false; box.classList.toggle('bad', !!bad);
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // ---------- roles ----------
  const role = () => (S.me ? S.me.role : null);
  const isAdmin = () => role() === 'admin';
  const mayDecide = () => isAdmin() || role() === 'crisis_lead';
  const mayRead = () => isAdmin() || ['agent', 'crisis_lead', 'auditor'].includes(role());
  const mayCare = () => isAdmin() || ['agent', 'crisis_lead'].includes(role());
  const mayAudit = () => isAdmin() || ['auditor', 'crisis_lead'].includes(role());

  // ---------- the API ----------
  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
      this.status = status; this.problem = problem;
    }
  }
  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Authorization: 'Bearer ' + S.token, Accept: 'application/json' }, opts.headers || {});
    let body;
    if (opts.body !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(opts.body); }
    const res = await fetch(path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    if (res.status === 401) { signOut(t('token_refused')); throw new ApiError(401, null); }
    const type = res.headers.get('content-type') || '';
    const data = type.includes('json') ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(res.status, typeof data === 'object' ? data : null);
    if (opts.withHeaders) return { data, headers: res.headers };
    return data;
  }
  // Every page of a list, following next_cursor.
  async function all(path, max) {
    const items = [];
    let cursor = null;
    const sep = path.includes('?') ? '&' : '?';
    do {
      const page = await api(path + sep + 'limit=' + PAGE + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && (!max || items.length < max));
    return items;
  }
  function command(path, body, version) {
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    if (version) headers['If-Match'] = '"' + version + '"';
    return api(path, { method: 'POST', body: body || {}, headers });
  }

  // ---------- sign-in ----------
  async function signIn(token) {
    S.token = token;
    try {
      S.me = await api('/v1/whoami');
    } catch (e) {
      S.token = null; S.me = null;
      throw e;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  function signOut(message) {
    S.token = null; S.me = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (S.streamCtrl) S.streamCtrl.abort();
    S.rows.clear(); S.lastId = 0; S.positions = []; S.feed = [];
    S.actionBox = null; S.qualityBox = null; S.qualityLoad = null; S.ledgerBox = null; S.ledgerActing = null;
    chrome();
    $('view').replaceChildren();
    $('signin').hidden = false;
    const err = $('signin-error');
    err.hidden = !message; err.textContent = message || '';
  }
  function chrome() {
    const signedIn = !!S.me;
    $('nav').hidden = !signedIn;
    $('signout').hidden = !signedIn;
    $('me').hidden = !signedIn;
    $('live').hidden = !signedIn;
    $('banner').hidden = !signedIn || S.live || !S.streamStarted;
    document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
    document.body.dataset.role = role() || '';
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    document.title = t('app_title');
    if (signedIn) {
      $('me').textContent = S.me.actor + ' · ' + t('role_' + S.me.role) + (S.me.personal_data ? '' : ' · ' + t('no_personal_data'));
      $('live').textContent = S.live ? t('live') : t('offline');
      $('live').classList.toggle('off', !S.live);
      $('banner').textContent = t('connection_lost');
      for (const a of document.querySelectorAll('#nav a')) {
        const v = a.dataset.view;
        a.hidden = (v === 'audit' && !mayAudit()) || (v !== 'audit' && !mayRead());
        a.classList.toggle('active', S.view && S.view.name === v);
      }
    }
  }

  // ---------- the live stream (SSE over fetch: EventSource cannot send the token) ----------
  function setLive(live) {
    if (S.live === live) return;
    S.live = live;
    document.body.dataset.live = live ? '1' : '0';
    chrome();
  }
  async function streamLoop() {
    S.streamStarted = true;
    let backoff = 250;
    while (S.token) {
      const ctrl = new AbortController();
      S.streamCtrl = ctrl;
      try {
        const headers = { Authorization: 'Bearer ' + S.token, Accept: 'text/event-stream' };
        let url = '/v1/stream';
        // Resume right after the last event seen: no gap, no duplicate.
        if (S.lastId > 0) headers['Last-Event-ID'] = String(S.lastId);
        else url += '?from=' + (S.head + 1);
        const res = await fetch(url, { headers, signal: ctrl.signal, cache: 'no-store' });
        if (res.status === 401) { signOut(t('token_refused')); return; }
        if (res.status === 400) {
          // This log never reached our position (another store, or an older backup).
          S.lastId = 0; await reloadAll(); continue;
        }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        setLive(true);
        backoff = 250;
        await readEvents(res.body, ctrl);
      } catch (e) {
        if (!S.token) return;
      }
      setLive(false);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 4000);
    }
  }
  async function readEvents(body, ctrl) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    // Heartbeats arrive every 15 s: silence for 40 s means a dead connection.
    let heard = Date.now();
    const watchdog = setInterval(() => { if (Date.now() - heard > 40000) ctrl.abort(); }, 5000);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        heard = Date.now();
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
          frameReceived(frame);
        }
      }
    } finally {
      clearInterval(watchdog);
    }
  }
  function frameReceived(frame) {
    let id = null, event = 'message';
    const data = [];
    for (const line of frame.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event === 'dropped') {
      const why = JSON.parse(data.join('\n'));
      S.lastId = Math.min(S.lastId || Infinity, why.resume_from - 1);
      return;
    }
    if (id === null || !data.length) return;
    const position = Number(id);
    if (position <= S.lastId) return;
    if (S.lastId && position !== S.lastId + 1) S.gaps += 1;
    S.lastId = position;
    S.positions.push(position);
    document.body.dataset.lastEventId = String(position);
    eventArrived(JSON.parse(data.join('\n')));
  }

  // What an event changes on the page: each view refreshes what it shows, read after
  // the event's position so the read model has it.
  function eventArrived(env) {
    S.feed.unshift(env);
    if (S.feed.length > 30) S.feed.length = 30;
    const type = env.type;
    if (type === 'incident.opened') S.opened.set(env.stream.slice('incident-'.length), env.occurred_at);
    // A board row carries its open complaints: complaint events reload it too.
    if (type.startsWith('incident.') || type.startsWith('compensation.') || type.startsWith('complaint.')) later('board', 150, () => loadBoard(env.position));
    const v = S.view;
    if (v && v.name === 'incident') {
      const mine = env.stream === 'incident-' + v.id || (env.data && env.data.incident_id === v.id);
      if (mine) later('incident', 200, () => renderIncident(v.id, env.position));
    }
    if (v && (v.name === 'complaints') && type.startsWith('complaint.')) later('complaints', 1000, () => renderComplaints(env.position));
    if (v && (v.name === 'monitor') && (type.startsWith('signal.') || type.startsWith('incident.'))) later('monitor', 1000, () => renderMonitor(env.position));
    if (v && v.name === 'board') renderFeed();
  }
  const timers = {};
  function later(key, ms, fn) {
    if (timers[key]) return;
    timers[key] = setTimeout(() => { timers[key] = null; fn(); }, ms);
  }

  // ---------- the pipeline board ----------
  let boardLoading = null;
  let boardAgain = 0;
  async function loadBoard(after) {
    if (boardLoading) { boardAgain = Math.max(boardAgain, after || 1); return boardLoading; }
    boardLoading = (async () => {
      try {
        const rows = await all('/v1/incidents' + (after ? '?after=' + after : ''));
        S.rows = new Map(rows.map((r) => [r.incident_id, r]));
        S.boardAt = Date.now();
        // Open complaints on the cards (each row carries its own count).
        S.complaintsOpen = rows.reduce((n, r) => n + (r.open_complaints || 0), 0);
        if (S.view && S.view.name === 'board') drawColumns();
      } catch (e) {
        if (e.status !== 401) toast(t('load_failed') + ': ' + e.message, true);
      }
    })();
    await boardLoading;
    boardLoading = null;
    if (boardAgain) { const a = boardAgain; boardAgain = 0; await loadBoard(a); }
  }
  // What the rows lack for two filters, read only when those filters are used: the day an
  // incident without a flight opened (date), the airports of each flight (airport).
  async function ensureDetails() {
    if (S.filters.date) {
      const missing = [...S.rows.values()].filter((r) => !r.flight && !S.opened.has(r.incident_id)).map((r) => r.incident_id);
      let i = 0;
      const worker = async () => {
        while (i < missing.length) {
          const id = missing[i++];
          try { S.opened.set(id, (await api('/v1/incidents/' + id)).opened_at); } catch (e) { S.opened.set(id, null); }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    }
    if (S.filters.airport) await ensureAirports();
    if (S.view && S.view.name === 'board') drawColumns();
  }
  async function ensureAirports() {
    const keys = new Set();
    for (const r of S.rows.values()) if (r.flight) keys.add(flightPath(r.flight));
    for (const k of keys) {
      if (S.airports.has(k)) continue;
      try {
        const f = await api('/v1/flights/' + k);
        S.airports.set(k, airportsOf(f));
      } catch (e) { S.airports.set(k, []); }
    }
  }
  const flightPath = (f) => encodeURIComponent(f.carrier) + '/' + encodeURIComponent(f.number) + '/' + f.date;
  // Airport codes anywhere in a flight's state: origin, destination, diversion.
  function airportsOf(value, key, out) {
    out = out || new Set();
    if (typeof value === 'string' && /^[A-Z]{3}$/.test(value) && /origin|destination|divert|airport|from|to/i.test(key || '')) out.add(value);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) airportsOf(v, Array.isArray(value) ? key : k, out);
    return [...out];
  }
  function passes(row) {
    const f = S.filters;
    if (f.severity && SEVERITIES.indexOf(row.severity) < SEVERITIES.indexOf(f.severity)) return false;
    const flight = row.flight;
    if (f.flight) {
      const want = f.flight.replace(/\s+/g, '').toUpperCase();
      const name = flight ? (flight.carrier + flight.number).toUpperCase() : '';
      if (!name.includes(want) && !row.title.toUpperCase().replace(/\s+/g, '').includes(want)) return false;
    }
    if (f.date) {
      const opened = S.opened.get(row.incident_id);
      const day = flight ? flight.date : localDay(opened || row.stage_entered_at);
      if (day !== f.date) return false;
    }
    if (f.airport) {
      const codes = flight ? S.airports.get(flightPath(flight)) || [] : [];
      if (!codes.includes(f.airport.toUpperCase())) return false;
    }
    return true;
  }
  function localDay(iso) {
    const x = new Date(iso);
    return x.getFullYear() + '-' + String(x.getMonth() + 1).padStart(2, '0') + '-' + String(x.getDate()).padStart(2, '0');
  }
  function renderBoard() {
    const f = S.filters;
    const input = (name, type, placeholder) => el('input', {
      name, type, value: f[name], placeholder, 'aria-label': t('filter_' + name),
      onchange: (e) => { f[name] = e.target.value.trim(); filtersChanged(); },
    });
    const severity = el('select', { name: 'severity', 'aria-label': t('filter_severity'), onchange: (e) => { f.severity = e.target.value; filtersChanged(); } },
      el('option', { value: '', text: t('any_severity') }),
      SEVERITIES.map((s) => el('option', { value: s, text: t('at_least', { s: t('sev_' + s) }), selected: f.severity === s })));
    const bar = el('div', { class: 'filters' },
      el('label', {}, t('filter_severity'), severity),
      el('label', {}, t('filter_airport'), input('airport', 'text', 'FRA')),
      el('label', {}, t('filter_flight'), input('flight', 'text', 'LH400')),
      el('label', {}, t('filter_date'), input('date', 'date', '')),
      el('span', { id: 'board-count', class: 'count' }));
    const columns = el('div', { id: 'columns', class: 'columns' });
    const feed = el('aside', { class: 'feed' }, el('h2', { text: t('live_events') }), el('ol', { id: 'feed' }));
    $('view').replaceChildren(el('section', { class: 'board' }, bar, el('div', { class: 'board-body' }, columns, feed)));
    drawColumns();
    renderFeed();
  }
  function filtersChanged() {
    if (S.filters.date || S.filters.airport) ensureDetails();
    drawColumns();
  }
  function drawColumns() {
    const box = $('columns');
    if (!box) return;
    const by = Object.fromEntries(STAGES.map((s) => [s, []]));
    let shown = 0;
    for (const row of S.rows.values()) {
      if (!by[row.stage] || !passes(row)) continue;
      by[row.stage].push(row); shown += 1;
    }
    const elapsed = (Date.now() - (S.boardAt || Date.now())) / 1000;
    const cols = STAGES.map((stage) => el('section', { class: 'column', data: { stage } },
      el('h2', {}, t('stage_' + stage), el('span', { class: 'n', text: by[stage].length })),
      el('div', { class: 'cards' }, by[stage].map((row) => card(row, elapsed)))));
    box.replaceChildren(...cols);
    const count = $('board-count');
    if (count) count.textContent = t('shown_of', { n: shown, total: S.rows.size });
  }
  function card(row, elapsed) {
    const complaints = row.open_complaints || 0;
    const overdue = row.next_deadline && new Date(row.next_deadline) < new Date();
    return el('a', { class: 'card sev-' + row.severity, href: '#/incident/' + row.incident_id, data: { incidentId: row.incident_id, stage: row.stage } },
      el('div', { class: 'card-top' },
        el('span', { class: 'sev', text: t('sev_' + row.severity) }),
        el('span', { class: 'age', title: t('age_in_stage'), text: duration(row.age_in_stage_seconds + elapsed) })),
      el('div', { class: 'title', text: row.title }),
      el('dl', {},
        row.flight ? [el('dt', { text: t('flight') }), el('dd', { class: 'flight', text: flightName(row.flight) })] : null,
        el('dt', { text: t('lead') }), el('dd', { text: row.lead || '—' }),
        el('dt', { text: t('passengers') }), el('dd', { text: row.passengers_affected }),
        el('dt', { text: t('open_complaints') }), el('dd', { class: 'complaints', text: complaints }),
        el('dt', { text: t('next_deadline') }), el('dd', { class: overdue ? 'overdue' : '', text: row.next_deadline ? localTime(row.next_deadline) : '—' })));
  }
  function renderFeed() {
    const list = $('feed');
    if (!list) return;
    list.replaceChildren(...S.feed.map((e) => el('li', { data: { type: e.type } },
      el('span', { class: 'pos', text: '#' + e.position }), ' ',
      el('span', { class: 'type', text: e.type }), ' ',
      el('span', { class: 'who', text: e.actor ? e.actor.id : '' }), ' ',
      el('time', { datetime: e.recorded_at, text: new Date(e.recorded_at).toLocaleTimeString(locale()) }))));
  }

  // ---------- the incident page ----------
  async function renderIncident(id, after) {
    const q = after ? '?after=' + after : '';
    let summary, ledger, follow, timeline, cost;
    try {
      [summary, ledger, follow, timeline, cost] = await Promise.all([
        api('/v1/incidents/' + id + q),
        api('/v1/incidents/' + id + '/entitlements' + q).catch(() => null),
        api('/v1/incidents/' + id + '/follow-up' + q).catch(() => null),
        all('/v1/incidents/' + id + '/timeline' + q),
        api('/v1/incidents/' + id + '/cost' + q).catch(() => null),
      ]);
    } catch (e) {
      if (S.view && S.view.name === 'incident') $('view').replaceChildren(el('p', { class: 'error', text: e.message }));
      return;
    }
    if (!S.view || S.view.name !== 'incident' || S.view.id !== id) return;
    const version = timeline.length ? timeline[timeline.length - 1].stream_version : null;
    const keepAsOf = $('asof-result');
    const page = el('section', { class: 'incident', data: { incidentId: id, version: version || '' } },
      el('p', {}, el('a', { href: '#/board', text: '← ' + t('nav_board') })),
      el('h1', {}, el('span', { class: 'sev sev-' + summary.severity, text: t('sev_' + summary.severity) }), ' ', summary.title),
      stageStrip(summary.stage),
      actions(summary, version),
      el('div', { class: 'grid' },
        panel(t('summary'), kv([
          [t('stage'), t('stage_' + summary.stage)], [t('category'), label('cat', summary.category)],
          [t('flight'), flightName(summary.flight)], [t('opened'), both(summary.opened_at)],
          [t('in_stage_since'), both(summary.stage_entered_at)], [t('signals'), summary.signals],
          [t('reopened'), summary.reopened], [t('information_published'), summary.information_published],
          [t('contacts_planned'), summary.contacts_planned],
          [t('contacts_by_outcome'), Object.entries(summary.contacts_by_outcome || {}).map(([k, v]) => label('outcome', k) + ': ' + v).join(', ') || '—'],
        ])),
        panel(t('impact'), impact(summary.impact)),
        panel(t('roles'), roles(summary.assignments)),
        panel(t('plans'), plans(summary, timeline, version))),
      panel(t('ledger'), ledgerTable(ledger, cost), 'ledger'),
      el('div', { class: 'grid' },
        panel(t('follow_up'), followUp(summary, follow)),
        panel(t('review'), review(summary))),
      panel(t('as_of'), asOf(id), 'asof'),
      panel(t('timeline'), timelineTable(id, timeline), 'timeline'));
    $('view').replaceChildren(page);
    if (keepAsOf && keepAsOf.childNodes.length) $('asof-result').replaceWith(keepAsOf);
  }
  const both = (iso) => el('span', {}, el('time', { datetime: iso, text: localTime(iso) }), el('small', { class: 'utc', text: ' ' + utcTime(iso) }));
  function panel(title, body, cls) {
    return el('section', { class: 'panel ' + (cls || '') }, el('h2', { text: title }), body);
  }
  function kv(pairs) {
    return el('dl', { class: 'kv' }, pairs.map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v === null || v === undefined ? '—' : v)]));
  }
  function stageStrip(stage) {
    const at = STAGES.indexOf(stage);
    return el('ol', { class: 'stages' }, STAGES.concat(['closed']).map((s, i) =>
      el('li', { class: s === stage ? 'now' : (i < at || stage === 'closed' ? 'done' : ''), text: t('stage_' + s) })));
  }
  function actions(summary, version) {
    if (!mayDecide()) return null;
    const next = NEXT_STAGE[summary.stage];
    if (!next) return null;
    return el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'action', data: { command: next }, onclick: (e) => run(e.target, summary.incident_id, next, {}, version), text: t('cmd_' + next) }));
  }
  async function run(button, id, name, body, version) {
    button.disabled = true;
    try {
      const done = await command('/v1/incidents/' + id + '/' + name, body, version);
      toast(t('done', { what: t('cmd_' + name) }));
      await renderIncident(id, done.position);
    } catch (e) {
      toast(e.status === 412 ? t('changed_meanwhile') : e.message, true);
      button.disabled = false;
      if (e.status === 412) renderIncident(id);
    }
  }
  function impact(i) {
    if (!i) return el('p', { class: 'muted', text: t('not_assessed') });
    const p = i.passengers || {};
    const total = Object.values(p).reduce((a, b) => a + b, 0);
    return el('div', {},
      el('table', {}, el('tr', {}, ['diamond', 'platinum', 'gold', 'silver', 'none'].map((k) => el('th', { text: t('tier_' + k) })), el('th', { text: t('total') })),
        el('tr', {}, ['diamond', 'platinum', 'gold', 'silver', 'none'].map((k) => el('td', { text: p[k] || 0 })), el('td', { text: total }))),
      kv([[t('operations'), label('level', i.operations) + ' — ' + (i.operations_note || '')],
        [t('reputation'), label('level', i.reputation) + ' — ' + (i.reputation_note || '')]]));
  }
  function roles(list) {
    if (!list || !list.length) return el('p', { class: 'muted', text: t('none') });
    return el('table', {}, el('tr', {}, [t('role'), t('person'), t('from'), t('until')].map((h) => el('th', { text: h }))),
      list.map((a) => el('tr', { class: a.ended_at ? 'muted' : '' }, el('td', { text: label('irole', a.role) }), el('td', { text: a.person }),
        el('td', {}, both(a.from)), el('td', {}, a.ended_at ? both(a.ended_at) : a.until ? both(a.until) : '—'))));
  }
  function plans(summary, timeline, version) {
    const latest = (type) => { for (let i = timeline.length - 1; i >= 0; i--) if (timeline[i].type === type) return timeline[i].data; return null; };
    const one = (kind, progress, draft) => {
      const drafted = progress.drafted_version;
      const approved = progress.approved_version;
      const status = !drafted ? t('not_drafted')
        : approved === drafted ? t('approved_by', { v: approved, who: progress.approved_by || '?', at: localTime(progress.approved_at) })
          : t('awaiting_approval', { v: drafted });
      const plan = draft && draft.plan ? openData(draft.plan) : null;
      const body = plan ? (kind === 'communication'
        ? [el('p', { class: 'plan-text', text: plan.content }), el('p', { class: 'muted', text: (plan.channels || []).map((c) => label('chan', c)).join(', ') })]
        : [el('p', { class: 'plan-text', text: plan.summary }), plan.goodwill ? el('p', { class: 'muted', text: JSON.stringify(plan.goodwill) }) : null])
        : null;
      const approvable = mayDecide() && drafted && approved !== drafted;
      const name = 'approve_' + kind + '_plan';
      return el('div', { class: 'plan', data: { plan: kind } },
        el('h3', { text: t('plan_' + kind) }), el('p', { class: 'status', text: status }), body,
        approvable ? el('button', { type: 'button', class: 'action approve', data: { command: name },
          onclick: (e) => run(e.target, summary.incident_id, name, { version: drafted }, version), text: t('approve_v', { v: drafted }) }) : null);
    };
    return el('div', {},
      one('communication', summary.communication_plan, latest('incident.communication_plan_drafted')),
      one('compensation', summary.compensation_plan, latest('incident.compensation_plan_drafted')));
  }
  // The ledger: a line per passenger and regime that owes (or governs), with its status,
  // what was paid, the payment deadline (local and UTC) and whether it is overdue; above it
  // owed / offered / paid / overdue per currency from the incident's cause-to-cost page.
  function ledgerTable(ledger, cost) {
    if (!ledger || !ledger.lines.length) return el('p', { class: 'muted', text: t('no_entitlements') });
    const shown = ledger.lines.filter((l) => l.governing || l.owed);
    const head = [t('flight'), t('passenger'), t('regime'), t('owed'), t('status'), t('paid'), t('deadline'), t('overdue'), t('care'), mayCare() ? '' : null].filter((h) => h !== null);
    const actable = (l) => mayCare() && l.governing && l.status !== 'nothing_owed';
    const byCur = cost && cost.cost && cost.cost.by_currency ? cost.cost.by_currency.by_currency || {} : {};
    const overdueBy = {};
    for (const r of (cost && cost.cost && cost.cost.by_regime) || []) overdueBy[r.currency] = (overdueBy[r.currency] || 0) + (r.overdue || 0);
    const figure = (x, cur) => (x ? money({ amount_minor: x.amount_minor, currency: cur }) + ' (' + x.count + ')' : '—');
    const sums = Object.keys(byCur).length ? el('table', { class: 'totals ledger-sums' },
      el('tr', {}, ['', t('owed'), t('comp_offered'), t('comp_accepted'), t('paid'), t('overdue'), t('care_spent')].map((h) => el('th', { text: h }))),
      Object.entries(byCur).map(([cur, x]) => el('tr', { data: { currency: cur } }, el('td', { text: cur }),
        el('td', { class: 'owed', text: figure(x.owed, cur) }), el('td', { class: 'offered', text: figure(x.offered, cur) }),
        el('td', { text: figure(x.accepted, cur) }), el('td', { class: 'paid', text: figure(x.paid, cur) }),
        el('td', { class: overdueBy[cur] ? 'overdue' : '', text: String(overdueBy[cur] || 0) }), el('td', { text: figure(x.care_spent, cur) })))) : null;
    if (mayCare()) drawLedgerActions(ledger);
    return el('div', {}, sums,
      mayCare() ? ledgerBox() : null,
      el('div', { class: 'scroll' }, el('table', { class: 'ledger-lines' }, el('tr', {}, head.map((h) => el('th', { text: h }))),
        shown.map((l) => el('tr', { class: (l.overdue ? 'overdue' : '') + (l.governing ? ' governing' : ''), data: { status: l.status, passenger: l.passenger } },
          el('td', { text: flightName(l.flight) }), el('td', { text: openData(l.passenger) }), el('td', { text: label('regime', l.regime) + (l.governing ? ' ★' : '') }),
          el('td', { text: money(l.owed) }), el('td', { text: label('comp', l.status) }),
          el('td', { text: l.paid ? (l.paid.amount ? money(l.paid.amount) : l.paid.miles + ' miles') + (l.paid_late ? ' · ' + t('late') : '') : '—' }),
          el('td', {}, both(l.payment_deadline)),
          el('td', { text: l.overdue ? t('overdue') : '—' }),
          el('td', { text: (l.care || []).map((c) => label('care', c)).join(', ') || '—' }),
          mayCare() ? el('td', {}, actable(l) ? el('button', { type: 'button', class: 'action', data: { command: 'ledger-act', compensation: l.compensation_id },
            onclick: () => { S.ledgerActing = l.compensation_id; drawLedgerActions(ledger); }, text: t('act') }) : null) : null)))),
      el('table', { class: 'totals' }, el('tr', {}, [t('regime'), t('passengers_owed'), t('owed'), t('paid'), t('overdue')].map((h) => el('th', { text: h }))),
        ledger.totals.map((x) => el('tr', {}, el('td', { text: label('regime', x.regime) + ' ' + x.currency }), el('td', { text: x.passengers_owed }),
          el('td', { text: money({ amount_minor: x.owed_minor !== undefined ? x.owed_minor : (x.owed && x.owed.amount_minor), currency: x.currency }) }),
          el('td', { text: money({ amount_minor: x.paid_minor !== undefined ? x.paid_minor : (x.paid && x.paid.amount_minor), currency: x.currency }) }),
          el('td', { text: x.overdue_minor !== undefined ? money({ amount_minor: x.overdue_minor, currency: x.currency }) : (x.overdue !== undefined ? String(x.overdue) : '—') })))));
  }
  // Offers and payments for the entitlement picked in the ledger (agents, crisis leads):
  // offer cash / a voucher / miles, the passenger's acceptance or refusal, the payment
  // or its failure, and care spent. The panel outlives the page's redraws (typed values
  // stay) until the entitlement's status changes.
  const CARE_DUTIES = ['meals_and_refreshments', 'communication', 'accommodation', 'hotel_transport', 'transfer_to_destination', 'assistance_at_passenger_expense'];
  function ledgerBox() { return S.ledgerBox || (S.ledgerBox = el('div', { id: 'ledger-actions' })); }
  function drawLedgerActions(ledger) {
    const box = ledgerBox();
    const l = ledger.lines.find((x) => x.governing && x.compensation_id === S.ledgerActing);
    if (!l) { box.replaceChildren(); delete box.dataset.compensation; return; }
    if (box.dataset.compensation === l.compensation_id && box.dataset.status === l.status) return;
    box.dataset.compensation = l.compensation_id; box.dataset.status = l.status;
    const cur = l.owed ? l.owed.currency : 'EUR';
    const major = (m) => (m ? (m.amount_minor / 100).toFixed(2) : '');
    const minor = (id) => Math.round(Number(String($(id).value).replace(',', '.')) * 100);
    const input = (id, value, attrs) => el('input', Object.assign({ id, value }, attrs || {}));
    const option = (form, amountId) => (form === 'miles' ? { form, miles: Number($(amountId).value) } : { form, amount: { amount_minor: minor(amountId), currency: $('comp-currency').value.trim().toUpperCase() } });
    const go = (name, body) => async (e) => {
      e.target.disabled = true;
      try {
        const done = await command('/v1/compensations/' + l.compensation_id + '/' + name, body());
        toast(t('done', { what: t('cmd_' + name) }));
        if (S.view && S.view.name === 'incident') await renderIncident(S.view.id, done.position);
      } catch (err) { toast(err.message, true); }
      e.target.disabled = false;
    };
    const button = (name, body) => el('button', { type: 'button', class: 'action', data: { command: name }, onclick: go(name, body), text: t('cmd_' + name) });
    const offer = () => {
      const options = [];
      if ($('comp-cash').value) options.push(option('cash', 'comp-cash'));
      if ($('comp-voucher').value) options.push(option('voucher', 'comp-voucher'));
      if ($('comp-miles').value) options.push({ form: 'miles', miles: Number($('comp-miles').value) });
      return { options };
    };
    box.replaceChildren(panel(t('ledger_acting_on', { who: openData(l.passenger), regime: label('regime', l.regime), status: label('comp', l.status), owed: money(l.owed) }), el('div', { class: 'act-grid' },
      el('div', {}, el('label', {}, t('currency'), input('comp-currency', cur, { size: 4 })),
        el('label', {}, t('offer_cash'), input('comp-cash', major(l.owed), { inputmode: 'decimal' })),
        el('label', {}, t('offer_voucher'), input('comp-voucher', '', { inputmode: 'decimal' })),
        el('label', {}, t('offer_miles'), input('comp-miles', '', { inputmode: 'numeric' })),
        button('offer_compensation', offer)),
      el('div', {}, el('label', {}, t('choice'), el('select', { id: 'comp-choice' }, ['cash', 'voucher', 'miles'].map((f) => el('option', { value: f, text: t('form_' + f) })))),
        el('label', {}, t('choice_amount'), input('comp-choice-amount', major(l.owed), { inputmode: 'decimal' })),
        button('accept_offer', () => ({ choice: option($('comp-choice').value, 'comp-choice-amount') })),
        el('label', {}, t('reason'), input('comp-reason', '')),
        button('decline_offer', () => ({ reason: $('comp-reason').value.trim() }))),
      el('div', {}, el('label', {}, t('payment_reference'), input('comp-reference', '')),
        button('record_payment', () => ({ reference: $('comp-reference').value.trim() })),
        button('record_payment_failure', () => ({ reason: $('comp-reference').value.trim() }))),
      el('div', {}, el('label', {}, t('care_duty'), el('select', { id: 'comp-duty' }, CARE_DUTIES.map((d) => el('option', { value: d, text: label('care', d) })))),
        el('label', {}, t('care_amount'), input('comp-care-amount', '', { inputmode: 'decimal' })),
        el('label', {}, t('care_reference'), input('comp-care-reference', '')),
        button('record_care_expense', () => ({ duty: $('comp-duty').value, amount: { amount_minor: minor('comp-care-amount'), currency: $('comp-currency').value.trim().toUpperCase() },
          reference: $('comp-care-reference').value.trim() })))),
    'actions-panel'));
  }
  // The follow-up survey results: sent, answered, response rate, average score, per
  // method and per tier, and the open problems.
  function followUp(summary, follow) {
    const s = (follow && follow.surveys) || summary.surveys || {};
    const avg = (c) => (c.answered ? (c.score_sum / c.answered).toFixed(1) : '—');
    const rate = (c) => (c.sent ? Math.round((c.answered / c.sent) * 100) + ' %' : '—');
    const split = (title, by, lab) => (Object.keys(by || {}).length ? el('table', { class: 'surveys' },
      el('tr', {}, [title, t('survey_sent'), t('survey_answered'), t('response_rate'), t('survey_average')].map((h) => el('th', { text: h }))),
      Object.entries(by).map(([k, c]) => el('tr', { data: { key: k } }, el('td', { text: label(lab, k) }), el('td', { text: c.sent }), el('td', { text: c.answered }),
        el('td', { text: rate(c) }), el('td', { text: avg(c) })))) : null);
    return el('div', { class: 'survey-results' },
      kv([[t('survey_sent'), s.sent || 0], [t('survey_answered'), s.answered || 0], [t('response_rate'), rate(s)],
        [t('survey_average'), el('strong', { id: 'survey-average', text: follow && follow.satisfaction !== null && follow.satisfaction !== undefined ? follow.satisfaction.toFixed(1) + ' / 5' : avg(s) })],
        [t('open_problems'), follow ? follow.open_problems : summary.open_problems]]),
      split(t('survey_method'), s.by_method, 'method'), split(t('tier'), s.by_tier, 'tier'),
      follow && Array.isArray(follow.open_problems) ? el('ul', {}, follow.open_problems.map((p) => el('li', { text: openData(p) }))) : null);
  }
  function review(summary) {
    return el('div', {},
      el('h3', { text: t('lessons') }),
      summary.lessons.length ? el('ul', {}, summary.lessons.map((l) => el('li', { text: openData(l) }))) : el('p', { class: 'muted', text: t('none') }),
      el('h3', { text: t('causes') }),
      summary.causes.length ? el('ul', {}, summary.causes.map((c) => el('li', { text: c.root_cause + ' — ' + c.responsible + ': ' + c.finding }))) : el('p', { class: 'muted', text: t('none') }),
      el('h3', { text: t('improvements') }),
      summary.improvements.length ? el('ul', {}, summary.improvements.map((i) => el('li', { text: (i.description || i.title || JSON.stringify(openData(i))) + (i.owner ? ' — ' + i.owner : '') }))) : el('p', { class: 'muted', text: t('none') }));
  }
  function asOf(id) {
    // The page redraws as events arrive: the instant typed survives it.
    const input = el('input', { id: 'asof-input', type: 'datetime-local', step: '1', 'aria-label': t('as_of'),
      value: S.asOfTyped && S.asOfTyped.id === id ? S.asOfTyped.value : null,
      oninput: (e) => { S.asOfTyped = { id, value: e.target.value }; } });
    const out = el('div', { id: 'asof-result' });
    const go = async () => {
      if (!input.value) return;
      try {
        const at = new Date(input.value).toISOString();
        const then = await api('/v1/incidents/' + id + '?as_of=' + encodeURIComponent(at));
        const state = openData(then.state || {});
        // The page may have been redrawn meanwhile: answer into the one on screen.
        ($('asof-result') || out).replaceChildren(el('p', { class: 'muted', text: t('as_known_at', { at: localTime(then.as_of), v: then.stream_version }) }),
          kv(Object.entries(state).map(([k, v]) => [k, typeof v === 'object' && v !== null ? el('code', { text: JSON.stringify(v) }) : String(v)])));
      } catch (e) { ($('asof-result') || out).replaceChildren(el('p', { class: 'error', text: e.message })); }
    };
    return el('div', {}, el('div', { class: 'row' }, input, el('button', { type: 'button', id: 'asof-go', onclick: go, text: t('show_as_of') })), out);
  }
  function timelineTable(id, items) {
    const rows = items.map((it) => ({ position: it.position, local: localTime(it.recorded_at), utc: utcTime(it.recorded_at), type: it.type, actor: it.actor_id, role: it.actor_role, data: JSON.stringify(openData(it.data)) }));
    const csv = () => {
      const head = ['position', 'local_time', 'utc', 'type', 'actor', 'actor_role', 'data'];
      const q = (v) => { const s = String(v); return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
      const text = [head.join(',')].concat(rows.map((r) => [r.position, r.local, r.utc, r.type, r.actor, r.role, r.data].map(q).join(','))).join('\r\n') + '\r\n';
      const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: 'incident-' + id + '-timeline.csv' });
      document.body.append(a); a.click(); a.remove();
    };
    return el('div', {},
      el('button', { type: 'button', id: 'timeline-csv', onclick: csv, text: t('export_csv') }),
      el('div', { class: 'scroll' }, el('table', { class: 'timeline' },
        el('tr', {}, [t('position'), t('local_time'), 'UTC', t('event'), t('actor'), t('details')].map((h) => el('th', { text: h }))),
        rows.map((r) => el('tr', { data: { type: r.type, actor: r.actor } },
          el('td', { text: r.position }), el('td', { text: r.local }), el('td', { class: 'utc', text: r.utc }),
          el('td', { text: r.type }), el('td', { text: r.actor + ' (' + label('role', r.role) + ')' }),
          el('td', {}, el('code', { class: r.data.includes(t('redacted')) ? 'has-redacted' : '', text: r.data })))))));
  }

  // ---------- complaints ----------
  async function renderComplaints(after) {
    const q = after ? '?after=' + after : '';
    let items, kpis;
    try {
      [items, kpis] = await Promise.all([
        all('/v1/complaints' + q, 2000),
        api('/v1/complaints/kpis?dimension=' + (S.kpiDim || 'agent') + '&limit=' + PAGE + (after ? '&after=' + after : '')).catch(() => null),
      ]);
    } catch (e) { $('view').replaceChildren(el('p', { class: 'error', text: e.message })); return; }
    if (!S.view || S.view.name !== 'complaints') return;
    const readAt = Date.now();
    const next = (c) => (c.deadlines || []).find((d) => d.state === 'pending');
    const table = el('table', { class: 'queue' },
      el('tr', {}, [t('complaint'), t('passenger'), t('tier'), t('channel'), t('category'), t('status'), t('owner'), t('flight'), t('sla_next'), t('breaches'), ''].map((h) => el('th', { text: h }))),
      items.slice(0, 500).map((c) => {
        const d = next(c);
        return el('tr', { class: c.breaches.length ? 'breached' : '' },
          el('td', { text: c.complaint_id.slice(0, 8) }), el('td', { text: c.passenger }), el('td', { text: label('tier', c.tier) }),
          el('td', { text: label('chan', c.channel) }), el('td', { text: label('cat', c.category) }), el('td', { text: label('cstatus', c.status) }),
          el('td', { text: c.owner || '—' }), el('td', { text: flightName(c.flight) }),
          el('td', d ? { class: 'countdown', data: { left: d.time_left_secs, kind: d.kind || '' } } : {}, d ? label('sla', d.kind) + ' ' + duration(d.time_left_secs) : '—'),
          el('td', { text: c.breaches.map((b) => label('sla', b)).join(', ') || '—' }),
          el('td', {}, !mayCare() || c.status === 'closed' ? null
            : c.status === 'received' ? el('button', { type: 'button', class: 'action', data: { command: 'acknowledge_complaint', complaint: c.complaint_id },
              onclick: (e) => acknowledge(e.target, c.complaint_id), text: t('cmd_acknowledge_complaint') })
              : el('button', { type: 'button', class: 'action', data: { command: 'act', complaint: c.complaint_id },
                onclick: () => { S.acting = c.complaint_id; drawActions(items); }, text: t('act') })));
      }));
    const view = el('section', { class: 'complaints' },
      el('h1', { text: t('nav_complaints') }),
      el('p', { class: 'muted', text: t('complaints_shown', { n: Math.min(items.length, 500), total: items.length }) }),
      mayCare() ? (S.actionBox || (S.actionBox = el('div', { id: 'complaint-actions' }))) : null,
      el('div', { class: 'scroll' }, table),
      mayCare() ? qualityPanel() : null,
      kpis ? kpiPanel(kpis.items || []) : null);
    $('view').replaceChildren(view);
    if (mayCare() && S.acting) drawActions(items);
    clearInterval(S.countdown);
    S.countdown = setInterval(() => {
      const gone = (Date.now() - readAt) / 1000;
      for (const td of document.querySelectorAll('td.countdown')) {
        const left = Number(td.dataset.left) - gone;
        td.textContent = label('sla', td.dataset.kind) + ' ' + duration(left);
        td.classList.toggle('late', left < 0);
      }
    }, 1000);
  }
  // The complaint loop's first step from the queue: the apology, as the signed-in agent.
  async function acknowledge(button, id) {
    button.disabled = true;
    try {
      const done = await command('/v1/complaints/' + id + '/acknowledge_complaint', { apology: t('default_apology') });
      toast(t('done', { what: t('cmd_acknowledge_complaint') }));
      await renderComplaints(done.position);
    } catch (e) { toast(e.message, true); button.disabled = false; }
  }
  // The loop's later steps for the complaint picked in the queue: route, progress update,
  // propose a resolution (root cause from the policy's taxonomy), escalate. The panel sits
  // outside the queue's table, so what is typed survives the queue redrawing.
  const DEPARTMENTS = ['customer_care', 'baggage', 'refunds', 'flight_operations', 'ground_handling', 'loyalty', 'legal', 'digital', 'partners'];
  async function rootCauses() {
    if (S.rootCauses) return S.rootCauses;
    // The API lists the taxonomy's codes when asked about one it does not know.
    try { await api('/v1/costs/root-cause?code=unknown/list_codes'); } catch (e) {
      const m = /use one of (.*?) \(or/.exec(e.message || '');
      if (m) S.rootCauses = m[1].split(', ');
    }
    return S.rootCauses || ['other/unclassified'];
  }
  async function drawActions(items) {
    const box = $('complaint-actions');
    const c = items.find((x) => x.complaint_id === S.acting);
    if (!box) return;
    if (!c) { box.replaceChildren(); return; }
    if (box.dataset.complaint === c.complaint_id && box.dataset.status === c.status) return;
    const codes = await rootCauses();
    const select = (id, values, lab) => el('select', { id }, values.map((v) => el('option', { value: v, text: lab ? label(lab, v) : v })));
    const text = (id, value, kind) => el(kind || 'input', { id, value: kind ? null : value, text: kind ? value : null });
    const go = (name, body) => async (e) => {
      e.target.disabled = true;
      try {
        const done = await command('/v1/complaints/' + c.complaint_id + '/' + name, body());
        toast(t('done', { what: t('cmd_' + name) }));
        await renderComplaints(done.position);
        if (S.qualityLoad) S.qualityLoad(done.position);
      } catch (err) { toast(err.message, true); }
      e.target.disabled = false;
    };
    const button = (name, body) => el('button', { type: 'button', class: 'action', data: { command: name }, onclick: go(name, body), text: t('cmd_' + name) });
    box.dataset.complaint = c.complaint_id; box.dataset.status = c.status;
    box.replaceChildren(panel(t('acting_on', { id: c.complaint_id.slice(0, 8), status: label('cstatus', c.status), tier: label('tier', c.tier) }), el('div', { class: 'act-grid' },
      el('div', {}, el('label', {}, t('department'), select('act-department', DEPARTMENTS, 'dept')),
        button('route_complaint', () => ({ departments: [$('act-department').value] }))),
      el('div', {}, el('label', {}, t('message'), text('act-message', t('default_progress'), 'textarea')),
        button('send_progress_update', () => ({ message: $('act-message').value }))),
      el('div', {}, el('label', {}, t('resolution'), text('act-resolution', t('default_resolution'), 'textarea')),
        el('label', {}, t('root_cause'), select('act-root-cause', codes)),
        el('label', {}, t('responsible'), select('act-responsible', DEPARTMENTS, 'dept')),
        button('propose_resolution', () => ({ resolution: $('act-resolution').value, root_cause: $('act-root-cause').value, responsible: $('act-responsible').value }))),
      el('div', {}, el('label', {}, t('supervisor'), text('act-supervisor', '')),
        el('label', {}, t('reason'), text('act-reason', '')),
        button('escalate_to_supervisor', () => ({ supervisor: $('act-supervisor').value.trim(), reason: $('act-reason').value.trim() }))),
      // The customer's answer to the proposal, recorded by the agent who heard it.
      c.status === 'resolution_proposed' ? el('div', { class: 'answer' }, el('label', {}, t('customer_answer'), text('act-answer', '', 'textarea')),
        button('confirm_satisfaction', () => ({ comment: $('act-answer').value.trim() })),
        button('report_dissatisfaction', () => ({ reason: $('act-answer').value.trim() }))) : null,
      c.responsible ? el('div', {}, el('label', {}, t('reassign_to', { dept: label('dept', c.responsible) }), select('act-reassign-to', DEPARTMENTS.filter((d) => d !== c.responsible), 'dept')),
        el('label', {}, t('reason'), text('act-reassign-reason', '')),
        button('reassign_responsibility', () => ({ responsible: $('act-reassign-to').value, reason: $('act-reassign-reason').value.trim() }))) : null),
    'actions-panel'));
  }
  // The supervisors' quality sample (GET /v1/complaints/quality-sample): complaints closed
  // on a UTC day and not scored yet, the same sample for everyone. Crisis leads score them;
  // agents and leads may hand a closed complaint's root cause to another department.
  function qualityPanel() {
    if (S.qualityBox) return S.qualityBox;
    const day = el('input', { id: 'quality-date', type: 'date', value: new Date().toISOString().slice(0, 10), 'aria-label': t('quality_date') });
    const out = el('div', { id: 'quality-result' });
    // Loads can overlap (the panel's first draw, a click on "draw", the reload after a
    // command); only the latest one started may draw, or an older answer would redraw
    // the rows over what the lead is choosing. While one is on its way the result says
    // so (data-loading); the drawn rows say which position they were read after
    // (data-after), so a reader can tell they include a command.
    let latest = 0;
    const load = async (after) => {
      const mine = ++latest;
      out.dataset.loading = '1';
      let items;
      try {
        items = (await api('/v1/complaints/quality-sample?size=20&date=' + encodeURIComponent(day.value) + (after ? '&after=' + after : ''))).items;
      } catch (e) {
        if (mine === latest) { delete out.dataset.loading; out.replaceChildren(el('p', { class: 'error', text: e.message })); }
        return;
      }
      if (mine !== latest) return;
      delete out.dataset.loading;
      out.dataset.after = after || 0;
      const go = (c, name, body, button) => async () => {
        button.disabled = true;
        try {
          const done = await command('/v1/complaints/' + c.complaint_id + '/' + name, body());
          toast(t('done', { what: t('cmd_' + name) }));
          await load(done.position);
        } catch (err) { toast(err.message, true); button.disabled = false; }
      };
      const score = (name) => el('label', {}, t('q_' + name), el('select', { name }, [5, 4, 3, 2, 1].map((n) => el('option', { value: n, text: n, selected: n === 4 }))));
      const rows = items.map((c) => {
        const tr = el('tr', { data: { complaint: c.complaint_id } });
        const pick = (sel) => tr.querySelector(sel);
        const scoreBtn = el('button', { type: 'button', class: 'action', data: { command: 'score_quality' }, text: t('cmd_score_quality') });
        scoreBtn.onclick = go(c, 'score_quality', () => ({ accuracy: Number(pick("select[name='accuracy']").value), attitude: Number(pick("select[name='attitude']").value),
          timeliness: Number(pick("select[name='timeliness']").value), note: pick("input[name='note']").value.trim() }), scoreBtn);
        const moveBtn = el('button', { type: 'button', class: 'action', data: { command: 'reassign_responsibility' }, text: t('cmd_reassign_responsibility') });
        moveBtn.onclick = go(c, 'reassign_responsibility', () => ({ responsible: pick("select[name='responsible']").value, reason: pick("input[name='reason']").value.trim() }), moveBtn);
        tr.append(el('td', { class: 'id', text: c.complaint_id.slice(0, 8) }), el('td', { text: c.passenger }), el('td', { text: label('tier', c.tier) }),
          el('td', { text: c.agent || '—' }), el('td', { text: (c.root_cause || '—') + ' · ' + label('dept', c.responsible) }),
          el('td', { text: c.handling_secs !== null && c.handling_secs !== undefined ? duration(c.handling_secs) : '—' }),
          el('td', {}, el('div', { class: 'inline-form' },
            mayDecide() ? [score('accuracy'), score('attitude'), score('timeliness'), el('label', {}, t('note'), el('input', { name: 'note', value: '' })), scoreBtn] : null,
            c.responsible ? [el('label', {}, t('reassign_to', { dept: label('dept', c.responsible) }), el('select', { name: 'responsible' },
              DEPARTMENTS.filter((d) => d !== c.responsible).map((d) => el('option', { value: d, text: label('dept', d) })))),
            el('label', {}, t('reason'), el('input', { name: 'reason', value: '' })), moveBtn] : null)));
        return tr;
      });
      out.replaceChildren(items.length ? el('div', { class: 'scroll' }, el('table', { class: 'quality' },
        el('tr', {}, [t('complaint'), t('passenger'), t('tier'), t('agent'), t('root_cause'), t('handling'), ''].map((h) => el('th', { text: h }))), rows))
        : el('p', { class: 'muted', text: t('quality_none') }));
    };
    S.qualityLoad = load;
    S.qualityBox = panel(t('quality_sample'), el('div', {},
      el('p', { class: 'help', text: t('quality_help') }),
      el('div', { class: 'row' }, day, el('button', { type: 'button', id: 'quality-load', onclick: () => load(), text: t('quality_load') })), out), 'quality-panel');
    load();
    return S.qualityBox;
  }
  // KPIs per agent, tier, channel, day or department: a chart per KPI and a table.
  const KPIS = [
    ['received', (r) => r.counters.received, String],
    ['first_response_avg_secs', (r) => r.first_response_avg_secs, (v) => duration(v)],
    ['on_time_rate', (r) => r.on_time_rate, pct],
    ['resolution_rate', (r) => r.resolution_rate, pct],
    ['reopen_rate', (r) => r.reopen_rate, pct],
    ['handling_avg_secs', (r) => r.handling_avg_secs, (v) => duration(v)],
    ['satisfaction', (r) => r.satisfaction, pct],
    ['quality_avg', (r) => r.quality_avg, (v) => v.toFixed(1)],
  ];
  function pct(v) { return (v * 100).toFixed(0) + ' %'; }
  function kpiPanel(rows) {
    const dim = S.kpiDim || 'agent';
    const name = (r) => (dim === 'tier' ? label('tier', r.value) : dim === 'channel' ? label('chan', r.value) : dim === 'department' ? label('dept', r.value) : r.value);
    const dims = el('div', { class: 'row' }, el('span', { text: t('kpis_per') }), ['agent', 'tier', 'channel', 'day', 'department'].map((d) =>
      el('button', { type: 'button', class: d === dim ? 'on' : '', data: { kpiDim: d }, onclick: () => { S.kpiDim = d; renderComplaints(); }, text: t('kdim_' + d) })));
    if (!rows.length) return panel(t('kpis'), el('div', {}, dims, el('p', { class: 'muted', text: t('none') })), 'kpis');
    const charts = KPIS.map(([key, get, fmt]) => panel(t('kpi_' + key),
      bars(rows.map((r) => [name(r), Number(get(r) || 0), get(r) === null || get(r) === undefined ? '—' : fmt(get(r))])), 'kpi'));
    const table = el('div', { class: 'scroll' }, el('table', { class: 'kpi-table' },
      el('tr', {}, el('th', { text: t('kdim_' + dim) }), KPIS.map(([key]) => el('th', { text: t('kpi_' + key) }))),
      rows.map((r) => el('tr', { data: { value: r.value } }, el('td', { text: name(r) }),
        KPIS.map(([, get, fmt]) => el('td', { text: get(r) === null || get(r) === undefined ? '—' : fmt(get(r)) }))))));
    return panel(t('kpis'), el('div', {}, dims, el('div', { class: 'grid kpi-grid' }, charts), table), 'kpis');
  }
  // Horizontal bars, plain SVG: [name, value, shown text?] per bar; `left`: the names' width.
  function bars(pairs, left) {
    left = left || 120;
    const span = 360 - left;
    const ns = 'http://www.w3.org/2000/svg';
    const max = Math.max(1, ...pairs.map((p) => p[1]));
    const h = 22 * pairs.length + 4;
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 400 ' + h); svg.setAttribute('class', 'chart'); svg.setAttribute('role', 'img');
    pairs.forEach(([name, v], i) => {
      const y = 2 + i * 22;
      const text = document.createElementNS(ns, 'text');
      text.setAttribute('x', '0'); text.setAttribute('y', String(y + 15)); text.textContent = name;
      const rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('x', String(left)); rect.setAttribute('y', String(y)); rect.setAttribute('height', '18');
      rect.setAttribute('width', String(Math.max(1, (v / max) * span)));
      const num = document.createElementNS(ns, 'text');
      num.textContent = pairs[i][2] !== undefined ? pairs[i][2] : String(v);
      // A long bar carries its number inside (its end), so the number never leaves the chart.
      const inside = left + 6 + (v / max) * span + num.textContent.length * 7.5 > 400;
      num.setAttribute('x', String(inside ? left + (v / max) * span - 4 : left + 6 + (v / max) * span)); num.setAttribute('y', String(y + 15));
      if (inside) { num.setAttribute('text-anchor', 'end'); num.setAttribute('class', 'in'); }
      svg.append(text, rect, num);
    });
    return svg;
  }

  // ---------- monitor ----------
  async function renderMonitor(after) {
    const q = after ? '&after=' + after : '';
    let counts, feed, spikes;
    const win = S.window || '1h';
    try {
      [counts, feed, spikes] = await Promise.all([
        api('/v1/monitor/counts?window=' + win + q),
        api('/v1/monitor/feed?limit=50' + q),
        api('/v1/monitor/spikes?limit=50' + q),
      ]);
    } catch (e) { $('view').replaceChildren(el('p', { class: 'error', text: e.message })); return; }
    if (!S.view || S.view.name !== 'monitor') return;
    const charts = Object.entries(counts).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v))
      .map(([k, v]) => panel(t('by_' + k), bars(Object.entries(v).map(([name, n]) => [name, typeof n === 'number' ? n : Number(n.count || 0)]))));
    const windows = el('div', { class: 'row' }, ['15m', '1h', '24h'].map((w) => el('button', { type: 'button', class: w === win ? 'on' : '', onclick: () => { S.window = w; renderMonitor(); }, text: w })));
    $('view').replaceChildren(el('section', { class: 'monitor' },
      el('h1', { text: t('nav_monitor') }), windows,
      el('div', { class: 'grid' }, charts),
      panel(t('spikes'), simpleTable(spikes.items)),
      panel(t('signal_feed'), simpleTable(feed.items))));
  }
  function simpleTable(items) {
    if (!items || !items.length) return el('p', { class: 'muted', text: t('none') });
    const keys = Object.keys(items[0]).filter((k) => typeof items[0][k] !== 'object' || items[0][k] === null).slice(0, 8);
    return el('div', { class: 'scroll' }, el('table', {}, el('tr', {}, keys.map((k) => el('th', { text: k }))),
      items.map((it) => el('tr', {}, keys.map((k) => el('td', { text: /_at$/.test(k) && it[k] ? localTime(it[k]) : String(openData(it[k]) ?? '—') }))))));
  }

  // ---------- audit ----------
  function renderAudit() {
    const out = el('div', { id: 'verify-result' });
    const verify = async (button) => {
      button.disabled = true;
      try {
        const r = await api('/v1/audit/verify');
        const hash = r.last_hash || '';
        out.replaceChildren(kv([
          [t('verdict'), r.damage ? el('strong', { class: 'overdue', text: t('damaged') + ': ' + JSON.stringify(r.damage) }) : el('strong', { id: 'chain-ok', text: t('chain_ok') })],
          [t('records_verified'), r.verified + ' (' + r.from + '–' + r.to + ')'],
          [t('head_hash'), el('span', {}, el('code', { id: 'head-hash', text: hash }), ' ',
            el('button', { type: 'button', onclick: () => navigator.clipboard && navigator.clipboard.writeText(hash).then(() => toast(t('copied'))), text: t('copy') }))],
        ]), el('details', {}, el('summary', { text: 'JSON' }), el('pre', { text: JSON.stringify(r, null, 2) })));
      } catch (e) { out.replaceChildren(el('p', { class: 'error', text: e.message })); }
      button.disabled = false;
    };
    $('view').replaceChildren(el('section', { class: 'audit' }, el('h1', { text: t('nav_audit') }),
      el('button', { type: 'button', id: 'verify', onclick: (e) => verify(e.target), text: t('verify_chain') }), out,
      replayPanel()));
  }
  // Replay a range of the log: the envelopes as stored (NDJSON, what `crisisd replay`
  // prints), shown as a table and saved as the NDJSON received, byte for byte.
  function replayPanel() {
    const head = S.lastId || S.head || 1;
    const from = el('input', { id: 'replay-from', type: 'number', min: '1', value: String(Math.max(1, head - 49)) });
    const to = el('input', { id: 'replay-to', type: 'number', min: '1', value: String(head) });
    const out = el('div', { id: 'replay-result' });
    const go = async (button) => {
      button.disabled = true;
      try {
        const url = '/v1/audit/events?from=' + Number(from.value) + '&to=' + Number(to.value);
        const res = await fetch(url, { headers: { Authorization: 'Bearer ' + S.token }, cache: 'no-store' });
        const text = await res.text();
        if (!res.ok) { let p = null; try { p = JSON.parse(text); } catch (e) { /* not JSON */ } throw new ApiError(res.status, p); }
        const envs = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
        const shown = envs.slice(0, 2000);
        out.replaceChildren(
          el('div', { class: 'row' }, el('span', { id: 'replay-count', text: t('replayed', { n: envs.length, from: from.value, to: to.value }) }),
            el('button', { type: 'button', id: 'replay-ndjson', onclick: () => saveFile('crisisd-events-' + from.value + '-' + to.value + '.ndjson', text, 'application/x-ndjson'), text: t('download_ndjson') })),
          el('div', { class: 'scroll' }, el('table', { class: 'replay' },
            el('tr', {}, [t('position'), t('event'), t('stream'), t('actor'), t('recorded_at'), 'hash'].map((h) => el('th', { text: h }))),
            shown.map((e) => el('tr', { data: { position: e.position } }, el('td', { text: e.position }), el('td', { text: e.type }), el('td', { text: e.stream }),
              el('td', { text: e.actor ? e.actor.id + ' (' + label('role', e.actor.role) + ')' : '—' }),
              el('td', {}, both(e.recorded_at)), el('td', { class: 'hash', title: e.hash, text: (e.hash || '').slice(0, 16) + '…' }))))));
      } catch (e) { out.replaceChildren(el('p', { class: 'error', text: e.message })); }
      button.disabled = false;
    };
    return panel(t('replay_title'), el('div', {}, el('p', { class: 'help', text: t('replay_help') }),
      el('div', { class: 'filters' }, el('label', {}, t('from'), from), el('label', {}, t('until'), to),
        el('button', { type: 'button', id: 'replay', onclick: (e) => go(e.target), text: t('replay') })), out), 'replay-panel');
  }


  // ---------- analysis: the periodic reports ----------
  async function renderAnalysis() {
    const a = S.analysis || (S.analysis = { period: 'day', date: new Date().toISOString().slice(0, 10), by: 'channel' });
    const query = 'period=' + a.period + '&date=' + a.date + '&by=' + a.by;
    let report;
    try { report = await api('/v1/reports?' + query); } catch (e) { $('view').replaceChildren(el('p', { class: 'error', text: e.message })); return; }
    if (!S.view || S.view.name !== 'analysis') return;
    const select = (name, values) => el('select', { name, 'aria-label': t('an_' + name), onchange: (e) => { a[name] = e.target.value; renderAnalysis(); } },
      values.map((v) => el('option', { value: v, selected: a[name] === v, text: t('an_' + name + '_' + v) })));
    const download = async (button) => {
      button.disabled = true;
      try {
        const res = await fetch('/v1/reports.csv?' + query, { headers: { Authorization: 'Bearer ' + S.token } });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const link = el('a', { href: URL.createObjectURL(await res.blob()), download: 'report-' + a.period + '-' + a.date + '-' + a.by + '.csv' });
        document.body.append(link); link.click(); link.remove();
      } catch (e) { toast(e.message, true); }
      button.disabled = false;
    };
    // A row's counts sit beside its rates (the API flattens them into the row).
    const rates = ['resolution_rate', 'on_time_rate', 'satisfaction', 'average_handling_secs', 'quality'];
    const figures = (row) => Object.entries(row).filter(([k, v]) => typeof v === 'number' && !rates.includes(k));
    const rate = (v) => (v === null || v === undefined ? '—' : (v * 100).toFixed(1) + ' %');
    const total = report.total || {};
    $('view').replaceChildren(el('section', { class: 'analysis' },
      el('h1', { text: t('nav_analysis') }),
      el('div', { class: 'filters' },
        el('label', {}, t('an_period'), select('period', ['day', 'week', 'month'])),
        el('label', {}, t('filter_date'), el('input', { type: 'date', value: a.date, onchange: (e) => { if (e.target.value) { a.date = e.target.value; renderAnalysis(); } } })),
        el('label', {}, t('an_by'), select('by', ['all', 'channel', 'tier', 'department', 'agent', 'route', 'root_cause'])),
        el('button', { type: 'button', id: 'report-csv', onclick: (e) => download(e.target), text: t('export_csv') })),
      el('p', { class: 'muted', text: report.complete ? t('an_complete') : t('an_running') }),
      el('div', { class: 'grid' },
        panel(t('an_total'), kv(figures(total).map(([k, v]) => [label('fig', k), v]).concat([
          [t('an_resolution_rate'), rate(total.resolution_rate)], [t('an_on_time_rate'), rate(total.on_time_rate)],
          [t('an_satisfaction'), rate(total.satisfaction)],
          [t('an_handling'), total.average_handling_secs ? duration(total.average_handling_secs) : '—']]))),
        panel(t('an_complaints_by', { by: t('an_by_' + a.by) }), (report.rows || []).length
          ? bars(report.rows.map((r) => [r.value, Number(r.complaints || 0)])) : el('p', { class: 'muted', text: t('none') })),
        panel(t('an_top_causes'), (report.top_root_causes || []).length
          ? el('table', {}, el('tr', {}, [t('causes'), t('an_resolved'), t('an_previous')].map((h) => el('th', { text: h }))),
            report.top_root_causes.map((c) => el('tr', {}, el('td', { text: c.root_cause }), el('td', { text: c.resolved }), el('td', { text: c.previous + ' (' + (c.change >= 0 ? '+' : '') + c.change + ')' }))))
          : el('p', { class: 'muted', text: t('none') }))),
      costSection(),
      mayAudit() ? whatIfSection() : null));
  }

  // ---------- analysis: cause to cost ----------
  // Per incident, flight, period (and route) or root cause, from the API's cost pages;
  // tables and a chart, downloadable as CSV made in the browser from the answer.
  function saveFile(name, text, type) {
    const link = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
    document.body.append(link); link.click(); link.remove();
  }
  const csvCell = (v) => { const x = v === null || v === undefined ? '' : String(v); return /[",\r\n]/.test(x) ? '"' + x.replace(/"/g, '""') + '"' : x; };
  const csvText = (rows) => rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
  // Every leaf of an answer as [path, value]; lists of plain values joined by spaces.
  function flatten(v, path, out) {
    out = out || [];
    if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) out.push([path, v.join(' ')]);
    else if (Array.isArray(v)) v.forEach((x, i) => flatten(x, path + '[' + i + ']', out));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) flatten(x, path ? path + '.' + k : k, out);
    else out.push([path, v]);
    return out;
  }
  function costSection() {
    const today = new Date().toISOString().slice(0, 10);
    const c = S.cost || (S.cost = { kind: 'incident', incident: '', carrier: '', number: '', date: today, from: today, to: today, route: '', code: 'operations/cancellation' });
    if (S.costBox) return S.costBox;
    const box = el('section', { class: 'panel cost', id: 'cost' });
    S.costBox = box;
    drawCostForm(box);
    return box;
  }
  async function drawCostForm(box) {
    const c = S.cost;
    const codes = await rootCauses();
    const field = (name, attrs) => el('input', Object.assign({ id: 'cost-' + name, name, value: c[name], onchange: (e) => { c[name] = e.target.value.trim(); } }, attrs || {}));
    const incidents = [...S.rows.values()];
    if (!c.incident && incidents.length) c.incident = incidents[0].incident_id;
    const kinds = el('select', { id: 'cost-kind', onchange: (e) => { c.kind = e.target.value; drawCostForm(box); } },
      ['incident', 'flight', 'period', 'root_cause'].map((k) => el('option', { value: k, selected: c.kind === k, text: t('cost_' + k) })));
    const inputs = {
      incident: [el('label', {}, t('incident'), el('select', { id: 'cost-incident', onchange: (e) => { c.incident = e.target.value; } },
        incidents.map((r) => el('option', { value: r.incident_id, selected: r.incident_id === c.incident, text: r.title + ' · ' + t('stage_' + r.stage) }))))],
      flight: [el('label', {}, t('carrier'), field('carrier', { size: 3, placeholder: 'LH' })), el('label', {}, t('flight_number'), field('number', { size: 5, placeholder: '400' })),
        el('label', {}, t('filter_date'), field('date', { type: 'date' }))],
      period: [el('label', {}, t('from'), field('from', { type: 'date' })), el('label', {}, t('until'), field('to', { type: 'date' })),
        el('label', {}, t('route'), field('route', { size: 8, placeholder: 'FRA-JFK' }))],
      root_cause: [el('label', {}, t('root_cause'), el('select', { id: 'cost-code', onchange: (e) => { c.code = e.target.value; } },
        codes.map((k) => el('option', { value: k, selected: k === c.code, text: k }))))],
    }[c.kind];
    box.replaceChildren(el('h2', { text: t('cost_title') }),
      el('p', { class: 'help', text: t('cost_help') }),
      el('div', { class: 'filters', id: 'cost-form', data: { kind: c.kind } }, el('label', {}, t('cost_per'), kinds), inputs,
        el('button', { type: 'button', id: 'cost-go', onclick: () => showCost(box), text: t('show_as_of') })),
      el('div', { id: 'cost-result' }, S.costResult || null));
  }
  function costUrl() {
    const c = S.cost;
    const enc = encodeURIComponent;
    if (c.kind === 'incident') return '/v1/incidents/' + enc(c.incident) + '/cost';
    if (c.kind === 'flight') return '/v1/flights/' + enc(c.carrier.toUpperCase()) + '/' + enc(c.number) + '/' + c.date + '/cost';
    if (c.kind === 'period') return '/v1/costs/flights?from=' + c.from + '&to=' + (c.to || c.from) + (c.route ? '&route=' + enc(c.route.toUpperCase()) : '');
    return '/v1/costs/root-cause?code=' + enc(c.code);
  }
  async function showCost(box) {
    const c = S.cost;
    let answer;
    try { answer = await api(costUrl()); } catch (e) { toast(e.message, true); return; }
    const name = 'cost-' + c.kind + '-' + ({ incident: c.incident, flight: c.carrier + c.number + '-' + c.date, period: c.from + '_' + c.to + (c.route ? '-' + c.route : ''), root_cause: c.code.replace('/', '-') })[c.kind] + '.csv';
    S.costResult = costResult(answer, name);
    const out = box.querySelector('#cost-result');
    if (out) out.replaceChildren(S.costResult);
  }
  function costResult(r, fileName) {
    const cost = r.cost || {};
    const byCur = (cost.by_currency && cost.by_currency.by_currency) || {};
    const kinds = ['owed', 'offered', 'accepted', 'paid', 'failed', 'declined', 'care_spent'];
    const cx = r.complaints || {};
    const pax = typeof r.passengers === 'object' && r.passengers ? r.passengers : { known: r.passengers };
    const summary = kv([
      r.title ? [t('incident'), r.title] : null, r.root_cause ? [t('root_cause'), r.root_cause] : null,
      r.flight ? [t('flight'), flightName(r.flight)] : null,
      r.flights ? [t('flights'), r.flights.map(flightName).join(', ') || '—'] : null,
      r.disruptions ? [t('disruptions'), r.disruptions.join(', ') || '—'] : null,
      r.incident_ids ? [t('incidents'), r.incident_ids.length] : null,
      r.signals !== undefined ? [t('signals'), r.signals] : null,
      [t('fig_complaints'), t('cost_complaints', { received: cx.received || 0, open: cx.open || 0, resolved: cx.resolved || 0, reopens: cx.reopens || 0, breaches: cx.breaches || 0 })],
      [t('an_satisfaction'), cx.satisfaction === null || cx.satisfaction === undefined ? '—' : pct(cx.satisfaction)],
      [t('passengers'), t('cost_passengers', { known: pax.known ?? '—', booked: pax.booked ?? '—', assessed: pax.assessed ?? '—' })],
      [t('care_duties'), Object.entries(cost.care_duties || {}).map(([k, n]) => label('care', k) + ': ' + n).join(', ') || '—'],
      r.surveys ? [t('survey_average'), r.surveys.average_score ?? '—'] : null,
      [t('compensation_ids'), (cost.compensation_ids || []).length], [t('log_positions'), (cost.positions || []).join(', ') || '—'],
    ].filter(Boolean));
    const money = el('table', { class: 'cost-money' },
      el('tr', {}, el('th', { text: '' }), kinds.map((k) => el('th', { text: t('ck_' + k) }))),
      Object.entries(byCur).map(([cur, x]) => el('tr', { data: { currency: cur } }, el('td', { text: cur }),
        kinds.map((k) => el('td', { class: k, text: x[k] ? (x[k].amount_minor / 100).toLocaleString(locale(), { minimumFractionDigits: 2 }) + ' (' + x[k].count + ')' : '—' })))));
    const chart = Object.entries(byCur).flatMap(([cur, x]) => kinds.filter((k) => x[k]).map((k) => [cur + ' ' + t('ck_' + k), x[k].amount_minor / 100, (x[k].amount_minor / 100).toFixed(2)]));
    const regimes = (cost.by_regime || []).length ? el('table', {}, el('tr', {}, [t('regime'), t('passengers_owed'), t('owed'), t('paid'), t('overdue')].map((h) => el('th', { text: h }))),
      cost.by_regime.map((x) => el('tr', {}, el('td', { text: label('regime', x.regime) + ' ' + x.currency }), el('td', { text: x.passengers_owed }),
        el('td', { text: (x.owed_minor / 100).toFixed(2) }), el('td', { text: (x.paid_minor / 100).toFixed(2) }), el('td', { text: x.overdue })))) : null;
    const causes = Object.keys(cx.root_causes || {}).length ? el('table', {}, el('tr', {}, el('th', { text: t('root_cause') }), el('th', { text: t('fig_complaints') })),
      Object.entries(cx.root_causes).map(([k, n]) => el('tr', {}, el('td', { text: k }), el('td', { text: typeof n === 'object' ? JSON.stringify(n) : n })))) : null;
    const rows = [['field', 'value']].concat(flatten(r, ''));
    return el('div', { class: 'cost-result', data: { kind: S.cost.kind } },
      el('div', { class: 'row' }, el('button', { type: 'button', id: 'cost-csv', onclick: () => saveFile(fileName, csvText(rows), 'text/csv'), text: t('export_csv') }),
        el('span', { class: 'muted', text: t('as_known_at', { at: localTime(r.as_of), v: '—' }) })),
      el('div', { class: 'grid' }, panel(t('summary'), summary, 'result'),
        panel(t('cost_money'), el('div', {}, el('div', { class: 'scroll' }, money), chart.length ? bars(chart) : el('p', { class: 'muted', text: t('none') })), 'result'),
        regimes ? panel(t('cost_regimes'), regimes, 'result') : null,
        causes ? panel(t('causes'), causes, 'result') : null));
  }

  // ---------- analysis: what if ----------
  // POST /v1/what-if (crisis leads and auditors): the history replayed under a candidate
  // crisis or compensation policy beside the one in force, on scratch models (nothing is
  // written). The policies are typed as JSON; lines starting with // are dropped first.
  const SLA_TIERS = ['diamond', 'platinum', 'gold', 'silver', 'none'];
  function whatIfExample() {
    // deploy/crisis-policy.json's SLA, gold made stricter (15 min, 2 h, 3 working days).
    const tiers = {
      diamond: [15, 2, 2], platinum: [30, 4, 3], gold: [15, 2, 3], silver: [240, 24, 7], none: [1440, 72, 10],
    };
    const lines = SLA_TIERS.map((k, i) => '      "' + k + '": { "acknowledge_minutes": ' + tiers[k][0] + ', "first_feedback_hours": ' + tiers[k][1]
      + ', "resolve_working_days": ' + tiers[k][2] + ' }' + (i < SLA_TIERS.length - 1 ? ',' : ''));
    return t('wi_example_comment').split('\n').map((l) => '// ' + l).join('\n') + '\n{\n  "sla": {\n'
      + '    "utc_offset_minutes": 0,\n    "weekend": ["Sat", "Sun"],\n    "holidays": [],\n    "tiers": {\n'
      + lines.join('\n') + '\n    },\n    "channel_percent": { "social_media": 50, "airport": 50 }\n  }\n}\n';
  }
  // The text as a JSON object, null when empty (the policy in force); throws on bad JSON.
  function policyOf(text, what) {
    const body = text.split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n').trim();
    if (!body || body === 'null') return null;
    let v;
    try { v = JSON.parse(body); } catch (e) { throw new Error(t('wi_not_json', { what, why: e.message })); }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(t('wi_not_object', { what }));
    return v;
  }
  function whatIfSection() {
    const w = S.whatIf || (S.whatIf = { policy: whatIfExample(), compensation: '', from: '1', to: '', result: null, error: null });
    const area = (name, id) => el('textarea', { id, rows: name === 'policy' ? 16 : 4, spellcheck: 'false', class: 'policy',
      oninput: (e) => { w[name] = e.target.value; } }, w[name]);
    const num = (name) => el('input', { id: 'what-if-' + name, type: 'number', min: '1', value: w[name], placeholder: name === 'to' ? t('wi_head') : '1',
      oninput: (e) => { w[name] = e.target.value.trim(); } });
    const out = el('div', { id: 'what-if-result' });
    const draw = () => {
      if (w.error) out.replaceChildren(el('p', { class: 'error', id: 'what-if-error', data: { field: w.error.field || '' }, text: w.error.text }));
      else out.replaceChildren(w.result ? whatIfResult(w.result) : '');
    };
    const go = async (button) => {
      button.disabled = true;
      w.error = null;
      try {
        const body = { policy: policyOf(w.policy, t('wi_policy')), compensation_policy: policyOf(w.compensation, t('wi_compensation')) };
        if (w.from) body.from = Number(w.from);
        if (w.to) body.to = Number(w.to);
        out.replaceChildren(el('p', { class: 'muted', text: t('wi_running') }));
        w.result = await api('/v1/what-if', { method: 'POST', body });
      } catch (e) {
        const field = e.problem && (e.problem.field || e.problem.pointer || (e.problem.errors && e.problem.errors[0] && e.problem.errors[0].field));
        w.result = null;
        w.error = { text: (field ? field + ': ' : '') + e.message, field };
      }
      button.disabled = false;
      draw();
    };
    draw();
    return el('section', { class: 'panel what-if', id: 'what-if' },
      el('h2', { text: t('wi_title') }),
      el('p', { class: 'help', id: 'what-if-help', text: t('wi_help') }),
      el('div', { class: 'what-if-form' },
        el('label', {}, t('wi_policy'), area('policy', 'what-if-policy')),
        el('label', {}, t('wi_compensation'), area('compensation', 'what-if-compensation'))),
      el('div', { class: 'filters' },
        el('label', {}, t('wi_from'), num('from')), el('label', {}, t('wi_to'), num('to')),
        el('button', { type: 'button', onclick: () => { w.policy = whatIfExample(); renderAnalysis(); }, text: t('wi_example') }),
        el('button', { type: 'button', onclick: () => { w.policy = ''; w.compensation = ''; renderAnalysis(); }, text: t('wi_use_in_force') }),
        el('button', { type: 'button', id: 'what-if-run', onclick: (e) => go(e.target), text: t('wi_run') })),
      out);
  }
  const SHOWN_MAX = 500;
  function whatIfResult(r) {
    const b = r.breaches || {}, inc = r.incidents || {}, sev = r.severity || {}, gw = r.goodwill || {};
    const would = b.would_have_happened || [], wouldNot = b.would_not_have_happened || [];
    const changes = inc.changes || [];
    const gIn = gw.in_force || {}, gCand = gw.candidate || {};
    const currencies = [...new Set(Object.keys(gIn.vouchers || {}).concat(Object.keys(gCand.vouchers || {})))].sort();
    const severities = SEVERITIES.filter((s) => (sev.in_force || {})[s] !== undefined || (sev.candidate || {})[s] !== undefined);
    const differs = would.length || wouldNot.length || changes.length || sev.changed || gw.changed
      || b.in_force !== b.candidate || inc.in_force !== inc.candidate;
    const opening = (c) => (c.in_force && !c.candidate ? 'not_opened' : !c.in_force && c.candidate ? 'newly_opened'
      : c.shift_secs < 0 ? 'earlier' : c.shift_secs > 0 ? 'later' : 'other_severity');
    const breachTable = (list, cls) => (list.length ? el('div', { class: 'scroll' }, el('table', { class: 'what-if-breaches ' + cls },
      el('tr', {}, [t('complaint'), t('wi_deadline'), t('tier'), t('channel'), t('wi_deadline_in_force'), t('wi_deadline_candidate'), t('wi_done_at')].map((h) => el('th', { text: h }))),
      list.slice(0, SHOWN_MAX).map((x) => el('tr', { class: cls, data: { complaint: x.complaint_id, kind: x.kind } },
        el('td', { class: 'id', title: x.complaint_id, text: x.complaint_id.slice(0, 8) }), el('td', { text: label('sla', x.kind) }),
        el('td', { text: label('tier', x.tier) }), el('td', { text: label('chan', x.channel) }),
        el('td', {}, both(x.deadline_in_force)), el('td', {}, both(x.deadline_candidate)),
        el('td', {}, x.done_at ? both(x.done_at) : t('wi_not_done')))))) : el('p', { class: 'muted', text: t('none') }));
    const incidents = changes.length ? el('div', { class: 'scroll' }, el('table', { class: 'what-if-incidents' },
      el('tr', {}, [t('wi_key'), t('wi_change'), t('wi_in_force'), t('wi_candidate'), t('wi_shift'), t('wi_severity')].map((h) => el('th', { text: h }))),
      changes.slice(0, SHOWN_MAX).map((c) => el('tr', { data: { change: opening(c), key: c.correlation_key } },
        el('td', { text: c.correlation_key }), el('td', { text: t('wi_' + opening(c)) }),
        el('td', {}, c.in_force ? both(c.in_force) : '—'), el('td', {}, c.candidate ? both(c.candidate) : '—'),
        el('td', { text: c.shift_secs === null || c.shift_secs === undefined ? '—' : duration(c.shift_secs) }),
        el('td', { text: label('sev', c.severity_in_force) + ' → ' + label('sev', c.severity_candidate) }))))) : el('p', { class: 'muted', text: t('none') });
    const sevTable = el('table', { class: 'what-if-severity' },
      el('tr', {}, [t('wi_severity'), t('wi_in_force'), t('wi_candidate')].map((h) => el('th', { text: h }))),
      severities.map((s) => el('tr', { data: { severity: s } }, el('td', { text: label('sev', s) }),
        el('td', { text: (sev.in_force || {})[s] || 0 }), el('td', { text: (sev.candidate || {})[s] || 0 }))));
    const minor = (v) => ((v || 0) / 100).toLocaleString(locale(), { minimumFractionDigits: 2 });
    const gwTable = el('table', { class: 'what-if-goodwill' },
      el('tr', {}, [t('wi_goodwill_of'), t('wi_in_force'), t('wi_candidate'), t('wi_difference')].map((h) => el('th', { text: h }))),
      currencies.map((cur) => {
        const a = (gIn.vouchers || {})[cur] || 0, c = (gCand.vouchers || {})[cur] || 0;
        return el('tr', { data: { currency: cur } }, el('td', { text: t('wi_vouchers', { cur }) }), el('td', { text: minor(a) }), el('td', { text: minor(c) }),
          el('td', { text: (c - a >= 0 ? '+' : '−') + minor(Math.abs(c - a)) }));
      }),
      el('tr', { data: { currency: 'miles' } }, el('td', { text: t('wi_miles') }), el('td', { text: gIn.miles || 0 }), el('td', { text: gCand.miles || 0 }),
        el('td', { text: ((gCand.miles || 0) - (gIn.miles || 0) >= 0 ? '+' : '') + ((gCand.miles || 0) - (gIn.miles || 0)) })));
    const chart = bars([
      [t('wi_chart_breaches_in_force'), b.in_force || 0], [t('wi_chart_breaches_candidate'), b.candidate || 0],
      [t('wi_chart_incidents_in_force'), inc.in_force || 0], [t('wi_chart_incidents_candidate'), inc.candidate || 0],
      [t('wi_chart_severity_changed'), sev.changed || 0], [t('wi_chart_goodwill_changed'), gw.changed || 0],
    ], 170);
    // The CSV: one row per figure and per change, made in the browser from the answer.
    const rows = [['section', 'item', 'in_force', 'candidate', 'detail'],
      ['range', 'positions', r.from, r.to, r.events + ' events until ' + (r.until || '')],
      ['breaches', 'total', b.in_force, b.candidate, '']]
      .concat(would.map((x) => ['would_breach', x.complaint_id + ' ' + x.kind, x.deadline_in_force, x.deadline_candidate, (x.tier + ' ' + x.channel + ' done ' + (x.done_at || 'not done'))]))
      .concat(wouldNot.map((x) => ['would_not_breach', x.complaint_id + ' ' + x.kind, x.deadline_in_force, x.deadline_candidate, (x.tier + ' ' + x.channel + ' done ' + (x.done_at || 'not done'))]))
      .concat([['incidents', 'opened', inc.in_force, inc.candidate, '']])
      .concat(changes.map((c) => ['incident_' + opening(c), c.correlation_key, c.in_force, c.candidate,
        'shift_secs ' + (c.shift_secs ?? '') + ' severity ' + (c.severity_in_force || '') + ' -> ' + (c.severity_candidate || '')]))
      .concat(severities.map((s) => ['severity', s, (sev.in_force || {})[s] || 0, (sev.candidate || {})[s] || 0, '']))
      .concat([['severity', 'changed', '', '', sev.changed || 0]])
      .concat(currencies.map((cur) => ['goodwill', 'vouchers_minor ' + cur, (gIn.vouchers || {})[cur] || 0, (gCand.vouchers || {})[cur] || 0, '']))
      .concat([['goodwill', 'miles', gIn.miles || 0, gCand.miles || 0, ''], ['goodwill', 'entitlements', '', '', gw.entitlements || 0],
        ['goodwill', 'changed', '', '', gw.changed || 0]]);
    const shown = (list) => (list.length > SHOWN_MAX ? ' ' + t('wi_shown', { n: SHOWN_MAX, total: list.length }) : '');
    return el('div', { class: 'what-if-result', data: { differs: differs ? '1' : '0' } },
      el('div', { class: 'row' },
        el('strong', { id: 'what-if-verdict', class: differs ? 'differs' : 'same', data: { differs: differs ? '1' : '0' }, text: differs ? t('wi_differs') : t('wi_same') }),
        el('span', { class: 'muted', text: t('wi_range', { from: r.from, to: r.to, events: r.events, until: r.until ? localTime(r.until) : '—' }) }),
        el('button', { type: 'button', id: 'what-if-csv', onclick: () => saveFile('what-if-' + r.from + '-' + r.to + '.csv', csvText(rows), 'text/csv'), text: t('export_csv') })),
      el('div', { class: 'grid' },
        panel(t('wi_overview'), el('div', {}, kv([
          [t('wi_breaches'), t('wi_then_now', { a: b.in_force || 0, c: b.candidate || 0 })],
          [t('wi_incidents_opened'), t('wi_then_now', { a: inc.in_force || 0, c: inc.candidate || 0 })],
          [t('wi_severity_changed'), sev.changed || 0],
          [t('wi_goodwill_changed'), t('wi_of', { n: gw.changed || 0, total: gw.entitlements || 0 })],
        ]), chart), 'result'),
        panel(t('wi_severity_title'), sevTable, 'result'),
        panel(t('wi_goodwill_title'), gwTable, 'result')),
      panel(t('wi_would_breach', { n: would.length }) + shown(would), breachTable(would, 'would'), 'result would-breach'),
      panel(t('wi_would_not_breach', { n: wouldNot.length }) + shown(wouldNot), breachTable(wouldNot, 'would-not'), 'result would-not-breach'),
      panel(t('wi_openings', { n: changes.length }) + shown(changes), incidents, 'result openings'));
  }

  // ---------- routing ----------
  function route() {
    if (!S.me) return;
    const hash = location.hash.replace(/^#\/?/, '');
    const [name, id] = hash.split('/');
    clearInterval(S.countdown);
    $('toast').hidden = true;
    if (name === 'incident' && id) { S.view = { name, id }; $('view').replaceChildren(el('p', { class: 'muted', text: t('loading') })); renderIncident(id); }
    else if (name === 'complaints') { S.view = { name }; renderComplaints(); }
    else if (name === 'monitor') { S.view = { name }; renderMonitor(); }
    else if (name === 'audit') { S.view = { name }; renderAudit(); }
    else if (name === 'analysis') { S.view = { name }; renderAnalysis(); }
    else { S.view = { name: 'board' }; renderBoard(); }
    chrome();
  }

  async function reloadAll() {
    // The head the board is read at; the stream starts right after it.
    const lags = await api('/v1/projections');
    S.head = lags.reduce((m, l) => Math.max(m, l.head), 0);
    await loadBoard(S.head || undefined);
  }

  async function start() {
    $('signin').hidden = true;
    chrome();
    if (!mayRead()) {
      $('view').replaceChildren(el('p', { class: 'error', text: t('role_has_no_views') }));
      return;
    }
    S.view = { name: 'board' };
    try { await reloadAll(); } catch (e) { if (e.status !== 401) toast(e.message, true); return; }
    route();
    S.readyAt = performance.now();
    document.body.dataset.ready = '1';
    streamLoop();
    setInterval(() => { if (S.view && S.view.name === 'board' && !document.hidden) drawColumns(); }, 30000);
  }

  document.addEventListener('DOMContentLoaded', async () => {
    chrome();
    $('lang').addEventListener('click', () => {
      S.lang = S.lang === 'zh' ? 'en' : 'zh';
      localStorage.setItem('crisisd.lang', S.lang);
      chrome();
      if (S.me) route();
    });
    $('signout').addEventListener('click', () => signOut());
    $('signin').addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = $('token').value.trim();
      try {
        await signIn(token);
        $('token').value = '';
        $('signin-error').hidden = true;
        await start();
      } catch (err) {
        $('signin-error').hidden = false;
        $('signin-error').textContent = err.status === 403 ? t('role_has_no_views')
          : err.status === 401 || !err.status ? t('token_refused') : err.message;
      }
    });
    window.addEventListener('hashchange', route);
    if (S.token) {
      try { await signIn(S.token); await start(); } catch (e) { signOut(); }
    }
  });
})();
