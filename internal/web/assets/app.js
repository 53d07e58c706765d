// The dashboard's live updates. The page arrives rendered by the server;
// this script subscribes to /api/events and redraws from then on.
//
// Safety rule: data (file names, errors, plugin names) only ever reaches
// the page through textContent or setAttribute, never innerHTML.
(() => {
  'use strict';

  const LIMITS = { queue: 25, recent: 50, failed: 50 };
  const $ = (id) => document.getElementById(id);
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;

  const build = meta('build');
  let csrf = meta('csrf');
  let started = Date.parse(meta('started'));
  let offset = 0; // server clock minus ours, in ms

  const state = {
    totals: null,
    last: null,
    queue: [],
    processing: new Map(),
    recent: [],
    failed: [],
    failedKept: 0,
    plugins: [],
    pipelines: [],
    tp: { start: 0, files: [], bytes: [] },
    retried: new Set(),
  };

  // ---- formatting, as the server formats (page.go) ----

  function fmtBytes(n) {
    if (n < 1024) return `${n} B`;
    let v = n;
    for (const unit of ['KiB', 'MiB', 'GiB', 'TiB']) {
      v /= 1024;
      if (v < 1024 || unit === 'TiB') return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
    }
    return '';
  }

  function fmtDur(ms) {
    if (!(ms > 0)) return '0';
    if (ms < 1) return `${Math.floor(ms * 1000)} µs`;
    if (ms < 1000) return `${Math.floor(ms)} ms`;
    const s = ms / 1000;
    if (s < 10) return `${s.toFixed(1)} s`;
    if (s < 60) return `${Math.floor(s)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${String(Math.floor(s) % 60).padStart(2, '0')}s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
    return `${Math.floor(h / 24)}d${h % 24}h`;
  }

  const ns = (n) => n / 1e6; // nanoseconds to ms
  const now = () => Date.now() + offset;
  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });
  // took is a finished file's processing time. Browsers parse times to the
  // millisecond only, so a faster file reads "<1 ms" rather than "0".
  function took(f) {
    if (!f.started || !f.finished) return '—';
    const ms = Date.parse(f.finished) - Date.parse(f.started);
    return ms < 1 ? '<1 ms' : fmtDur(ms);
  }

  function fmtRate(v, unit) {
    if (v === 0) return `0 ${unit}`;
    return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
  }

  // ---- DOM helpers ----

  // el builds an element; string children become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const td = (text, cls, attrs) => el('td', Object.assign({ class: cls }, attrs), text);
  const nameCell = (f) => el('td', { class: 'name', title: f.folder }, f.name);
  const emptyRow = (cols, text) => el('tr', { class: 'empty' }, el('td', { colspan: cols }, text));

  function setRows(id, rows, cols, empty) {
    $(id).replaceChildren(...(rows.length ? rows : [emptyRow(cols, empty)]));
  }

  function resultLinks(f) {
    const base = `/api/files/${encodeURIComponent(f.id)}/result`;
    return [el('a', { href: `${base}?view=1`, target: '_blank', rel: 'noopener' }, 'view'), ' ',
      el('a', { href: base }, 'download')];
  }

  // ---- rendering ----

  let dirty = new Set();
  let frame = 0;
  function mark(...parts) {
    for (const p of parts) dirty.add(p);
    if (!frame) frame = requestAnimationFrame(flush);
  }
  function flush() {
    frame = 0;
    const d = dirty;
    dirty = new Set();
    if (d.has('counts')) renderCounts();
    if (d.has('last')) renderLast();
    if (d.has('queue')) renderQueue();
    if (d.has('processing')) renderProcessing();
    if (d.has('recent')) renderRecent();
    if (d.has('failed')) renderFailed();
    if (d.has('plugins')) renderPlugins();
    if (d.has('pipelines')) renderPipelines();
    if (d.has('chart')) renderChart();
  }

  function renderCounts() {
    const t = state.totals;
    if (!t) return;
    $('count-queued').textContent = t.queued;
    $('count-processing').textContent = t.processing;
    $('count-processed').textContent = t.processed;
    $('count-failed').textContent = t.failed;
    $('count-retried').textContent = t.retried;
    $('count-bytes').textContent = `${fmtBytes(t.bytes_in)} → ${fmtBytes(t.bytes_out)}`;
    $('n-queue').textContent = t.queued;
    const more = $('queue-more');
    more.replaceChildren();
    if (t.queued > state.queue.length) {
      more.append(`and ${t.queued} in all: `, el('a', { href: '/api/files?state=queued' }, 'full queue as JSON'));
    }
  }

  function renderLast() {
    const f = state.last;
    const body = $('last-body');
    if (!f) {
      body.replaceChildren(el('p', { class: 'empty' }, 'Nothing processed yet.'));
      return;
    }
    body.replaceChildren(el('p', { class: 'last' },
      el('span', { class: 'name', title: f.folder }, f.name), ' ',
      el('span', { class: 'muted' },
        `via ${f.pipeline || '—'} · ${fmtBytes(f.size)} → ${fmtBytes(f.bytes_out)} · ${took(f)} · at ${clock(f.finished)}`),
      ' ', ...resultLinks(f)));
  }

  function renderQueue() {
    setRows('queue-rows', state.queue.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f), td(fmtBytes(f.size), 'num'),
      td(fmtDur(now() - Date.parse(f.queued)), 'num', { 'data-queued': f.queued }))), 3, 'Empty.');
    renderCounts();
  }

  function renderProcessing() {
    const files = [...state.processing.values()].sort((a, b) => a.id - b.id);
    $('n-processing').textContent = files.length;
    setRows('processing-rows', files.map((f) => {
      const pct = f.size > 0 ? Math.min(100, Math.floor((f.bytes_done * 100) / f.size)) : 0;
      return el('tr', { 'data-id': f.id },
        nameCell(f), td(f.pipeline),
        el('td', { class: 'wide' }, el('progress', { max: Math.max(f.size, 1), value: f.bytes_done }), ' ',
          el('span', { class: 'muted' }, `${pct}% · ${fmtBytes(f.bytes_done)} of ${fmtBytes(f.size)}`)),
        td(fmtDur(now() - Date.parse(f.started)), 'num', { 'data-started': f.started }));
    }), 4, 'Idle.');
  }

  function renderRecent() {
    setRows('recent-rows', state.recent.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f), td(f.pipeline), td(fmtBytes(f.size), 'num'), td(fmtBytes(f.bytes_out), 'num'),
      td(took(f), 'num'),
      el('td', { class: 'num' }, el('time', { datetime: f.finished }, clock(f.finished))),
      el('td', { class: 'links' }, ...resultLinks(f)))), 7, 'No file processed yet.');
  }

  function retryCell(f) {
    if (f.retried || state.retried.has(f.id)) return el('td', { class: 'muted' }, 'sent back');
    return el('td', {}, el('form', { class: 'retry', method: 'post', action: `/api/files/${encodeURIComponent(f.id)}/retry` },
      el('input', { type: 'hidden', name: 'csrf', value: csrf }),
      el('button', { type: 'submit' }, 'Retry')));
  }

  function renderFailed() {
    setRows('failed-rows', state.failed.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f),
      el('td', { class: 'error' }, f.plugin ? el('span', { class: 'tag' }, f.plugin) : null, f.plugin ? ' ' : null, f.error || ''),
      td(f.attempts, 'num'),
      el('td', { class: 'num' }, el('time', { datetime: f.finished }, clock(f.finished))),
      retryCell(f))), 5, 'No failures.');
  }

  function renderPlugins() {
    setRows('plugin-rows', state.plugins.map((p) => el('tr', {},
      td(p.name, 'name'), td(p.files, 'num'), td(fmtBytes(p.bytes_in), 'num'), td(fmtBytes(p.bytes_out), 'num'),
      td(p.errors, p.errors ? 'num bad' : 'num'), td(fmtDur(ns(p.p50_ns)), 'num'), td(fmtDur(ns(p.p95_ns)), 'num'),
      td(p.loaded ? `${p.instances_live - p.instances_idle} busy · ${p.instances_idle} idle` : '—', 'num'))),
    8, 'No plugins.');
    $('loaded-rows').replaceChildren(...state.plugins.filter((p) => p.loaded).map((p) => el('tr', {},
      el('td', { class: 'name', title: p.path + (p.meta && p.meta.description ? ': ' + p.meta.description : '') },
        p.name, p.meta && p.meta.version ? ' ' : null, p.meta && p.meta.version ? el('span', { class: 'muted' }, p.meta.version) : null),
      el('td', {}, el('code', { title: p.sha256 }, (p.sha256 || '').slice(0, 12))),
      td(fmtDur(ns(p.load_time_ns)), 'num'))));
  }

  // takes says which files a pipeline takes: by name, content kind and
  // MIME type (the same words as the page's server-side rendering).
  function takes(p) {
    const parts = [];
    if (p.match.length) parts.push(el('code', {}, p.match.join(' ')));
    if (p.content && p.content !== 'any') parts.push(`${p.content} files`);
    if (p.mime && p.mime.length) parts.push(el('code', {}, p.mime.join(' ')));
    if (!parts.length) return [el('span', { class: 'muted' }, 'every file')];
    return parts.flatMap((x, i) => (i ? [' · ', x] : [x]));
  }

  function renderPipelines() {
    setRows('pipeline-rows', state.pipelines.map((p) => el('tr', {},
      td(p.name, 'name'),
      el('td', {}, ...takes(p)),
      el('td', {}, p.plugins.join(' → '), p.output ? el('span', { class: 'muted' }, ` (as ${p.output})`) : null))), 3, 'No pipelines.');
  }

  // ---- the throughput chart ----

  const W = 900;
  const H = 100;

  function niceMax(v) {
    const m = Math.max(0, ...v);
    if (m <= 1) return 1;
    const p = 10 ** Math.floor(Math.log10(m));
    for (const f of [1, 2, 5, 10]) if (m <= f * p) return f * p;
    return 10 * p;
  }

  function area(v, top) {
    if (!v.length) return '';
    const off = W - v.length;
    const parts = [`M${off} ${H}`];
    v.forEach((x, i) => parts.push(`L${off + i} ${(H - (x / top) * H).toFixed(1)}`));
    parts.push(`L${off + v.length - 1} ${H}Z`);
    return parts.join('');
  }

  function recentMean(v) {
    if (v.length < 2) return 0;
    const w = v.slice(Math.max(0, v.length - 11), v.length - 1);
    return w.reduce((a, b) => a + b, 0) / w.length;
  }

  function renderChart() {
    const files = state.tp.files;
    const mb = state.tp.bytes.map((b) => b / 1e6);
    const fmax = niceMax(files);
    const bmax = niceMax(mb);
    $('area-files').setAttribute('d', area(files, fmax));
    $('area-bytes').setAttribute('d', area(mb, bmax));
    $('max-files').textContent = fmtRate(fmax, 'files/s');
    $('max-bytes').textContent = fmtRate(bmax, 'MB/s');
    $('rate-files').textContent = fmtRate(recentMean(files), 'files/s');
    $('rate-bytes').textContent = fmtRate(recentMean(mb), 'MB/s');
  }

  // mergePoints lays the last few seconds from a tick over the 15-minute
  // window, sliding it forward.
  function mergePoints(p) {
    const tp = state.tp;
    if (!tp.files.length) return;
    for (let i = 0; i < p.files.length; i++) {
      let idx = p.start + i - tp.start;
      if (idx >= tp.files.length) {
        const shift = idx - tp.files.length + 1;
        if (shift >= tp.files.length) {
          tp.files.fill(0);
          tp.bytes.fill(0);
        } else {
          tp.files.splice(0, shift);
          tp.bytes.splice(0, shift);
          for (let k = 0; k < shift; k++) { tp.files.push(0); tp.bytes.push(0); }
        }
        tp.start += shift;
        idx = tp.files.length - 1;
      }
      if (idx >= 0) {
        tp.files[idx] = p.files[i];
        tp.bytes[idx] = p.bytes[i];
      }
    }
  }

  // ---- state from the server ----

  function setReady(ready, why) {
    const r = $('ready');
    r.className = `pill ${ready ? 'ok' : 'bad'}`;
    r.textContent = ready ? 'ready' : `not ready: ${why || ''}`;
    r.title = why || '';
  }

  function setConn(kind, text) {
    const c = $('conn');
    c.className = `pill ${kind}`;
    c.textContent = text;
    c.title = '';
  }

  function applyDashboard(d) {
    offset = Date.parse(d.now) - Date.now();
    started = Date.parse(d.started);
    csrf = d.csrf;
    for (const input of document.querySelectorAll('input[name="csrf"]')) input.value = csrf;
    $('version').textContent = d.version;
    setReady(d.ready, d.not_ready);
    state.totals = d.totals;
    state.last = d.last;
    state.queue = d.queue;
    state.processing = new Map(d.processing.map((f) => [f.id, f]));
    state.recent = d.recent;
    state.failed = d.failed;
    state.failedKept = d.failed_kept;
    state.plugins = d.plugins;
    state.pipelines = d.pipelines;
    state.tp = { start: d.throughput.start, files: d.throughput.files, bytes: d.throughput.bytes };
    state.retried = new Set();
    mark('counts', 'last', 'queue', 'processing', 'recent', 'failed', 'plugins', 'pipelines', 'chart');
  }

  function applyTick(t) {
    offset = Date.parse(t.now) - Date.now();
    setReady(t.ready, t.not_ready);
    state.totals = t.totals;
    state.last = t.last;
    state.queue = t.queue;
    state.plugins = t.plugins;
    mergePoints(t.points);
    mark('counts', 'last', 'queue', 'plugins', 'chart');
  }

  function applyFile(ev) {
    const f = ev.file;
    const inQueue = state.queue.findIndex((q) => q.id === f.id);
    if (inQueue >= 0 && (ev.removed || f.state !== 'queued')) {
      state.queue.splice(inQueue, 1);
      mark('queue');
    }
    if (ev.removed) {
      if (state.processing.delete(f.id)) mark('processing');
      return;
    }
    switch (f.state) {
      case 'queued':
        if (inQueue < 0 && state.queue.length < LIMITS.queue) {
          state.queue.push(f);
          state.queue.sort((a, b) => a.id - b.id);
          mark('queue');
        }
        break;
      case 'processing':
        state.processing.set(f.id, f);
        mark('processing');
        break;
      case 'processed':
        if (state.processing.delete(f.id)) mark('processing');
        state.recent = [f, ...state.recent.filter((r) => r.id !== f.id)].slice(0, LIMITS.recent);
        state.last = f;
        mark('recent', 'last');
        break;
      case 'failed':
        if (state.processing.delete(f.id)) mark('processing');
        state.failed = [f, ...state.failed.filter((r) => r.id !== f.id)].slice(0, LIMITS.failed);
        mark('failed');
        break;
      default:
        break;
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) {
      const err = new Error(`${url}: ${r.status}`);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  // ---- the event stream ----

  let source = null;
  let backoff = 1000;

  // connect opens the stream. Each "hello" (first connection, and every
  // reconnection after a restart) reloads the whole snapshot; events that
  // arrive meanwhile are held and replayed on top, so none is lost.
  function connect() {
    const es = new EventSource('/api/events');
    source = es;
    let held = null;

    const resync = () => {
      held = [];
      getJSON('/api/dashboard').then((d) => {
        applyDashboard(d);
        const replay = held;
        held = null;
        replay.forEach(applyFile);
        backoff = 1000;
        setConn('live', 'live');
      }).catch((err) => {
        held = null;
        setConn('bad', err.status === 401 ? 'token needed: reload with ?token=' : 'cannot load snapshot');
      });
    };

    es.addEventListener('hello', (e) => {
      const h = JSON.parse(e.data);
      if (h.build !== build) {
        location.reload(); // New code on the server: take its page and script.
        return;
      }
      resync();
    });
    es.addEventListener('resync', resync);
    es.addEventListener('files', (e) => {
      const evs = JSON.parse(e.data);
      if (held) held.push(...evs);
      else evs.forEach(applyFile);
    });
    es.addEventListener('status', (e) => applyTick(JSON.parse(e.data)));
    es.onerror = () => {
      setConn('warn', 'reconnecting…');
      if (es.readyState === EventSource.CLOSED) {
        // The server answered with an error (say 401, or a proxy's 502):
        // EventSource gives up, so we try again ourselves.
        es.close();
        getJSON('/api/status').catch((err) => {
          if (err.status === 401) setConn('bad', 'token needed: reload with ?token=');
        });
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 30000);
      }
    };
  }

  // ---- actions ----

  function retry(form) {
    const row = form.closest('tr');
    const id = Number(row && row.dataset.id);
    const button = form.querySelector('button');
    button.disabled = true;
    fetch(form.action, {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
      credentials: 'same-origin',
    }).then(async (r) => {
      if (r.ok) {
        state.retried.add(id);
        mark('failed');
        return;
      }
      const body = await r.json().catch(() => ({ error: r.statusText }));
      button.disabled = false;
      form.append(el('span', { class: 'bad small' }, ` ${body.error}`));
    }).catch(() => { button.disabled = false; });
  }

  function upload(form) {
    const status = $('upload-status');
    const bar = $('upload-progress');
    const data = new FormData(form);
    data.set('csrf', csrf);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        bar.hidden = false;
        bar.max = e.total;
        bar.value = e.loaded;
      }
    };
    xhr.onload = () => {
      bar.hidden = true;
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { body = { error: xhr.statusText }; }
      if (xhr.status === 201) {
        const names = body.files.map((f) => `${f.name} (${fmtBytes(f.size)})`).join(', ');
        status.className = 'ok';
        status.textContent = `Uploaded ${names}: it will show in the queue once the watcher takes it.`;
        form.reset();
      } else {
        status.className = 'bad';
        status.textContent = `Upload refused: ${body.error || xhr.status}`;
      }
    };
    xhr.onerror = () => {
      bar.hidden = true;
      status.className = 'bad';
      status.textContent = 'Upload failed: the connection dropped.';
    };
    status.className = 'muted';
    status.textContent = 'Uploading…';
    xhr.send(data);
  }

  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (form.id === 'upload-form') {
      e.preventDefault();
      upload(form);
    } else if (form.classList.contains('retry')) {
      e.preventDefault();
      retry(form);
    }
  });

  // Elapsed times and uptime tick along between events.
  setInterval(() => {
    const t = now();
    $('uptime').textContent = fmtDur(t - started);
    for (const cell of document.querySelectorAll('[data-started]')) {
      cell.textContent = fmtDur(t - Date.parse(cell.dataset.started));
    }
    for (const cell of document.querySelectorAll('[data-queued]')) {
      cell.textContent = fmtDur(t - Date.parse(cell.dataset.queued));
    }
    $('asof').textContent = new Date(t).toLocaleTimeString([], { hour12: false });
  }, 1000);

  setConn('warn', 'connecting…');
  connect();
  window.__dashboard = { state, get source() { return source; } };
})();
