// The dashboard's live updates. The page arrives rendered by the server;
// this script subscribes to /api/events and redraws from then on.
//
// Every panel is drawn from the last "view" event: the state of the
// tracker at one moment, so the panels always agree with each other.
//
// Safety rule: data (file names, errors, plugin names) only ever reaches
// the page through textContent or setAttribute, never innerHTML.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;

  const build = meta('build');
  let csrf = meta('csrf');
  let started = Date.parse(meta('started'));
  let offset = 0; // server clock minus ours, in ms
  let live = false; // connected and current: only then do clocks tick

  const state = {
    view: null,
    tp: { start: 0, files: [], bytes: [] }, // the last hour, a point per second
    range: Number(localStorage.getItem('filehost.range')) || rangeFromPage(),
    retried: new Set(),
    browse: null, // the files browser's last query, once the script ran one
  };

  function rangeFromPage() {
    const cur = document.querySelector('#ranges a[aria-current]');
    return cur ? Number(cur.dataset.range) : 900;
  }

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

  // progressText: as page.go's. A small file is read at once; 100% would
  // say nothing while the chain still works on it.
  function progressText(f) {
    if (f.size > 0 && f.bytes_done >= f.size) return `all ${fmtBytes(f.size)} read · finishing`;
    const pct = f.size > 0 ? Math.min(100, Math.floor((f.bytes_done * 100) / f.size)) : 0;
    return `${pct}% · ${fmtBytes(f.bytes_done)} of ${fmtBytes(f.size)} read`;
  }

  const rangeName = (n) => (n === 60 ? '1 min' : n === 3600 ? '1 h' : `${n / 60} min`);

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

  // label names a figure where the table's header is hidden (phones).
  const label = (name) => ({ 'data-label': name });
  const td = (text, cls, attrs) => el('td', Object.assign({ class: cls }, attrs), text);
  const nameCell = (f) => el('td', { class: 'name', title: f.folder }, f.name);
  const emptyRow = (cols, text) => el('tr', { class: 'empty' }, el('td', { colspan: cols }, text));
  const timeCell = (iso, cls) => el('td', { class: cls }, el('time', { datetime: iso }, clock(iso)));

  function setRows(id, rows, cols, empty) {
    $(id).replaceChildren(...(rows.length ? rows : [emptyRow(cols, empty)]));
  }

  const fileURL = (f, what) => `/api/files/${encodeURIComponent(f.id)}/${what}`;

  function resultLinks(f) {
    return [el('a', { href: `${fileURL(f, 'result')}?view=1`, target: '_blank', rel: 'noopener' }, 'view'), ' ',
      el('a', { href: fileURL(f, 'result') }, 'download')];
  }

  function failedActions(f) {
    if (f.retried || state.retried.has(f.id)) return [el('span', { class: 'muted' }, 'sent back')];
    return [
      el('a', { href: `${fileURL(f, 'report')}?view=1`, target: '_blank', rel: 'noopener', class: 'report' }, 'report'), ' ',
      el('a', { href: fileURL(f, 'original'), class: 'original' }, 'original'), ' ',
      el('form', { class: 'retry', method: 'post', action: fileURL(f, 'retry') },
        el('input', { type: 'hidden', name: 'csrf', value: csrf }),
        el('button', { type: 'submit' }, 'Retry')), ' ',
      el('a', { href: `/files/${encodeURIComponent(f.id)}/delete`, class: 'delete' }, 'delete'),
    ];
  }

  // ---- rendering, all from one view ----

  let frame = 0;
  function redraw() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
  }

  function render() {
    const v = state.view;
    if (!v) return;
    renderCounts(v);
    renderLast(v.last);
    renderProcessing(v);
    renderQueue(v);
    renderFailed(v);
    renderRecent(v.recent);
    renderConfig(v.config);
    renderPipelines(v.pipelines);
    renderPlugins(v.plugins);
    renderIgnored(v);
    renderChart();
  }

  function renderConfig(c) {
    if (!c) return;
    $('config-gen').textContent = c.generation;
    const loaded = $('config-loaded');
    loaded.dateTime = c.loaded_at;
    loaded.textContent = clock(c.loaded_at);
    $('config-last').textContent = c.last_reload_at ? `${clock(c.last_reload_at)} ${c.last_reload_ok ? 'ok' : 'failed'}` : 'none yet';
    $('config-failed').textContent = c.failed_reloads;
    $('config-reloads').textContent = c.reloads;
    $('config-error').hidden = !c.last_reload_error;
    $('config-error-text').textContent = c.last_reload_error || '';
    const restart = c.needs_restart || [];
    $('config-restart').hidden = !restart.length;
    $('config-restart-keys').textContent = restart.join(', ');
  }

  function renderCounts(v) {
    const t = v.totals;
    $('count-queued').textContent = t.queued;
    $('count-processing').textContent = t.processing;
    $('count-processed').textContent = t.processed;
    $('count-failed').textContent = t.in_failed;
    $('count-failed-since').textContent = t.failed;
    $('count-retried').textContent = t.retried;
    $('count-bytes').textContent = `${fmtBytes(t.bytes_in)} → ${fmtBytes(t.bytes_out)}`;
    $('n-queue').textContent = t.queued;
    $('n-processing').textContent = t.processing;
    $('n-failed').textContent = t.in_failed;
    $('rate-files').textContent = fmtRate(v.rate.files_per_s, 'files/s');
    $('rate-bytes').textContent = fmtRate(v.rate.bytes_per_s / 1e6, 'MB/s');
  }

  function renderLast(f) {
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

  function renderQueue(v) {
    setRows('queue-rows', v.queue.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f), td(fmtBytes(f.size), 'num'),
      td(fmtDur(now() - Date.parse(f.queued)), 'num', { 'data-queued': f.queued }))), 3, 'Empty.');
    const more = $('queue-more');
    more.replaceChildren();
    if (v.totals.queued > v.queue.length) {
      more.append(`the oldest ${v.queue.length} of ${v.totals.queued} · `, el('a', { href: '/?state=queued#files', 'data-state': 'queued' }, 'all'));
    }
  }

  function renderProcessing(v) {
    setRows('processing-rows', v.processing.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f), td(f.pipeline, 'opt'),
      el('td', { class: 'progress' }, el('progress', { max: Math.max(f.size, 1), value: f.bytes_done }), ' ',
        el('span', { class: 'muted' }, progressText(f))),
      td(fmtDur(now() - Date.parse(f.started)), 'num', { 'data-started': f.started }))), 4, 'Idle.');
    $('processing-more').textContent = v.totals.processing > v.processing.length
      ? `the first ${v.processing.length} of ${v.totals.processing}` : '';
  }

  function renderRecent(files) {
    setRows('recent-rows', files.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f), td(f.pipeline, 'opt'), td(fmtBytes(f.size), 'num opt'), td(fmtBytes(f.bytes_out), 'num opt'),
      td(took(f), 'num', label('took')), timeCell(f.finished, 'num opt'),
      el('td', { class: 'actions' }, ...resultLinks(f)))), 7, 'No file processed yet.');
  }

  function errorCell(f) {
    return el('td', { class: 'error' }, f.plugin ? el('span', { class: 'tag' }, f.plugin) : null, f.plugin ? ' ' : null, f.error || '');
  }

  function renderFailed(v) {
    setRows('failed-rows', v.failed.map((f) => el('tr', { 'data-id': f.id },
      nameCell(f), errorCell(f), td(f.attempts, 'num opt'), timeCell(f.finished, 'num opt'),
      el('td', { class: 'actions' }, ...failedActions(f)))), 5, 'No failures.');
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

  function renderPipelines(rows) {
    setRows('pipeline-rows', rows.map((p) => el('tr', {},
      td(p.name, 'name'),
      el('td', { class: 'opt' }, ...takes(p)),
      el('td', { class: 'opt' }, p.plugins.join(' → '), p.output ? el('span', { class: 'muted' }, ` (as ${p.output})`) : null), td(p.files, 'num', label('files')), td(p.failed, p.failed ? 'num bad' : 'num', label('failed')),
      td(fmtBytes(p.bytes_in), 'num opt'), td(fmtBytes(p.bytes_out), 'num opt'),
      td(fmtDur(ns(p.p50_ns)), 'num', label('p50')), td(fmtDur(ns(p.p95_ns)), 'num', label('p95')))), 9, 'No pipelines.');
  }

  function renderPlugins(rows) {
    setRows('plugin-rows', rows.map((p) => el('tr', {},
      el('td', { class: 'name', title: p.path + (p.meta && p.meta.description ? ': ' + p.meta.description : '') },
        p.name, p.meta && p.meta.version ? ' ' : null, p.meta && p.meta.version ? el('span', { class: 'muted' }, p.meta.version) : null),
      td(p.files, 'num', label('files')), td(fmtBytes(p.bytes_in), 'num opt'),
      td(fmtBytes(p.bytes_out), 'num opt'), td(p.errors, p.errors ? 'num bad' : 'num', label('errors')),
      td(fmtDur(ns(p.p50_ns)), 'num', label('p50')), td(fmtDur(ns(p.p95_ns)), 'num opt'),
      td(p.loaded ? `${p.instances_live - p.instances_idle} busy · ${p.instances_idle} idle` : '—', 'num opt'),
      el('td', { class: 'opt' }, el('code', { title: p.sha256 }, (p.sha256 || '').slice(0, 12))),
      td(p.loaded ? fmtDur(ns(p.load_time_ns)) + (p.compiling ? ' · compiling' : '') : '—', 'num opt'))), 10, 'No plugins.');
  }

  function renderIgnored(v) {
    $('n-ignored').textContent = v.ignored_total;
    setRows('ignored-rows', v.ignored.map((i) => el('tr', {},
      td(i.name, 'name'), td(i.why), td(i.folder, 'opt'), timeCell(i.since, 'num opt'))), 4, 'Nothing ignored.');
    const more = $('ignored-more');
    more.replaceChildren();
    if (v.ignored_total > v.ignored.length) {
      more.append(`the first ${v.ignored.length} of ${v.ignored_total} · `, el('a', { href: '/api/ignored' }, 'all as JSON'));
    }
  }

  // ---- the throughput chart: as page.go's newChart ----

  const W = 900;
  const H = 100;

  function niceMax(v) {
    const m = Math.max(0, ...v);
    if (m <= 1) return 1;
    const p = 10 ** Math.floor(Math.log10(m));
    for (const f of [1, 2, 5, 10]) if (m <= f * p) return f * p;
    return 10 * p;
  }

  function series(v, n, unit) {
    const last = v.slice(Math.max(0, v.length - n));
    const group = Math.max(1, Math.ceil(last.length / W));
    const out = [];
    for (let i = 0; i < last.length; i += group) {
      const chunk = last.slice(i, i + group);
      out.push(chunk.reduce((a, b) => a + b, 0) / chunk.length / unit);
    }
    return out;
  }

  function area(v, top) {
    if (!v.length) return '';
    const step = W / v.length;
    const parts = [`M0 ${H}`];
    v.forEach((x, i) => {
      const y = (H - (x / top) * H).toFixed(1);
      parts.push(`L${(i * step).toFixed(1)} ${y}L${((i + 1) * step).toFixed(1)} ${y}`);
    });
    parts.push(`L${W} ${H}Z`);
    return parts.join('');
  }

  function renderChart() {
    const n = state.range;
    const files = series(state.tp.files, n, 1);
    const mb = series(state.tp.bytes, n, 1e6);
    const fmax = niceMax(files);
    const bmax = niceMax(mb);
    $('area-files').setAttribute('d', area(files, fmax));
    $('area-bytes').setAttribute('d', area(mb, bmax));
    $('max-files').textContent = fmtRate(fmax, 'files/s');
    $('max-bytes').textContent = fmtRate(bmax, 'MB/s');
    for (const a of document.querySelectorAll('#ranges a')) {
      if (Number(a.dataset.range) === n) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    }
    for (const s of document.querySelectorAll('.axis-start')) s.textContent = `−${rangeName(n)}`;
  }

  // mergePoints lays the last few seconds from a view over the hour kept,
  // sliding it forward.
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

  // unknown says the page cannot tell how the host is: it is not
  // connected. Nothing stays green, and the clocks stop.
  function unknown(text) {
    live = false;
    const r = $('ready');
    r.className = 'pill idle';
    r.textContent = 'status unknown';
    r.title = 'not connected to the host';
    setConn('warn', text);
    $('asof').classList.add('stale');
  }

  function setConn(kind, text) {
    const c = $('conn');
    c.className = `pill ${kind}`;
    c.textContent = text;
    c.title = '';
  }

  function applyView(v) {
    offset = Date.parse(v.now) - Date.now();
    setReady(v.ready, v.not_ready);
    state.view = v;
    mergePoints(v.points);
    live = true;
    $('asof').classList.remove('stale');
    setConn('live', 'live');
    redraw();
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

  // loadStatic takes what views do not carry: the hour of throughput,
  // the CSRF token and the version of the server the page now talks to.
  function loadStatic() {
    return getJSON('/api/dashboard').then((d) => {
      started = Date.parse(d.started);
      csrf = d.csrf;
      for (const input of document.querySelectorAll('input[name="csrf"]')) input.value = csrf;
      $('version').textContent = d.version;
      state.tp = { start: d.throughput.start, files: d.throughput.files, bytes: d.throughput.bytes };
      state.retried = new Set();
      applyView(d);
    });
  }

  // ---- the event stream ----

  let source = null;
  let backoff = 1000;

  // connect opens the stream. Each "hello" (first connection, and every
  // reconnection after a restart) reloads what views do not carry; every
  // "view" is the whole state of the panels.
  function connect() {
    const es = new EventSource('/api/events');
    source = es;
    let ready = false;
    let pending = null;

    es.addEventListener('hello', (e) => {
      const h = JSON.parse(e.data);
      if (h.build !== build) {
        location.reload(); // New code on the server: take its page and script.
        return;
      }
      ready = false;
      loadStatic().then(() => {
        ready = true;
        backoff = 1000;
        if (pending) applyView(pending);
        pending = null;
      }).catch((err) => {
        unknown(err.status === 401 ? 'token needed: reload with ?token=' : 'cannot load snapshot');
      });
    });
    es.addEventListener('view', (e) => {
      const v = JSON.parse(e.data);
      if (ready) applyView(v);
      else pending = v;
    });
    es.onerror = () => {
      unknown('reconnecting…');
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

  async function post(url) {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (r.ok) return null;
    const body = await r.json().catch(() => ({ error: r.statusText }));
    return body.error || String(r.status);
  }

  function showError(node, msg) {
    const cell = node.closest('td') || node.parentNode;
    cell.querySelector('.action-error')?.remove();
    cell.append(el('span', { class: 'bad small action-error' }, msg));
  }

  function retry(form) {
    const row = form.closest('tr');
    const id = Number(row && row.dataset.id);
    const button = form.querySelector('button');
    button.disabled = true;
    post(form.action).then((err) => {
      if (!err) {
        state.retried.add(id);
        redraw();
        refreshBrowse();
        return;
      }
      button.disabled = false;
      showError(form, err);
    }).catch(() => { button.disabled = false; });
  }

  // reload asks the host to reload its configuration; the outcome shows in
  // the Configuration panel with the next view, and an error at once.
  function reload(form) {
    const button = form.querySelector('button');
    button.disabled = true;
    button.textContent = 'Reloading…';
    post(form.action).then((err) => {
      form.querySelector('.action-error')?.remove();
      if (err) form.append(el('span', { class: 'bad small action-error' }, ` ${err}`));
    }).finally(() => {
      button.disabled = false;
      button.textContent = 'Reload';
    });
  }

  function del(link) {
    const row = link.closest('tr');
    const name = row.querySelector('td.name')?.textContent || 'this file';
    if (!window.confirm(`Delete ${name} and its error report from failed/? This cannot be undone.`)) return;
    const id = link.getAttribute('href').split('/')[2];
    post(`/api/files/${id}/delete`).then((err) => {
      if (err) {
        showError(link, err);
        return;
      }
      for (const r of document.querySelectorAll(`tr[data-id="${CSS.escape(id)}"]`)) r.remove();
      refreshBrowse();
    }).catch((e) => showError(link, String(e)));
  }

  function sendFiles(files, folder) {
    const status = $('upload-status');
    const bar = $('upload-progress');
    const data = new FormData();
    data.set('csrf', csrf);
    if (folder) data.set('folder', folder); // before the files: the server reads in order
    for (const f of files) data.append('file', f);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
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
        $('upload-file').value = ''; // keep the folder chosen
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

  const chosenFolder = () => ($('upload-folder') ? $('upload-folder').value : '');

  // ---- the files browser ----

  function browseQuery(form, offsetN) {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    q.set('limit', '25');
    if (offsetN > 0) q.set('offset', String(offsetN));
    return q;
  }

  function runBrowse(q) {
    state.browse = q;
    getJSON(`/api/files?${q}`).then((list) => {
      $('files-error').textContent = '';
      setRows('files-rows', list.files.map((f) => el('tr', { 'data-id': f.id },
        nameCell(f),
        el('td', {}, el('span', { class: `state ${f.state}` }, f.state), f.retried ? el('span', { class: 'muted' }, ' sent back') : null),
        td(f.pipeline, 'opt'), td(fmtBytes(f.size), 'num opt'),
        timeCell(f.finished || f.queued, 'num opt'),
        el('td', { class: 'actions' }, ...(f.state === 'processed' ? resultLinks(f) : f.state === 'failed' ? failedActions(f) : [])))),
      6, 'No file matches.');
      const pager = $('files-pager');
      const first = list.total ? list.offset + 1 : 0;
      const parts = [el('span', { id: 'files-count' }, list.total ? `${first}–${list.offset + list.files.length} of ${list.total}` : '0 files')];
      if (list.offset > 0) parts.push(el('a', { href: '#files', id: 'files-prev', 'data-offset': Math.max(0, list.offset - list.limit) }, '← newer'));
      if (list.offset + list.limit < list.total) parts.push(el('a', { href: '#files', id: 'files-next', 'data-offset': list.offset + list.limit }, 'older →'));
      pager.replaceChildren(...parts);
    }).catch((err) => { $('files-error').textContent = `Search failed: ${err.message}`; });
  }

  function refreshBrowse() {
    if (state.browse) runBrowse(state.browse);
  }

  // ---- wiring ----

  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (form.id === 'upload-form') {
      e.preventDefault();
      sendFiles($('upload-file').files, chosenFolder());
    } else if (form.classList.contains('retry')) {
      e.preventDefault();
      retry(form);
    } else if (form.id === 'reload-form') {
      e.preventDefault();
      reload(form);
    } else if (form.id === 'search') {
      e.preventDefault();
      runBrowse(browseQuery(form, 0));
    }
  });

  document.addEventListener('click', (e) => {
    const a = e.target.closest('a');
    if (!a) return;
    if (a.classList.contains('delete')) {
      e.preventDefault();
      del(a);
    } else if (a.closest('#ranges')) {
      e.preventDefault();
      state.range = Number(a.dataset.range);
      localStorage.setItem('filehost.range', String(state.range));
      renderChart();
    } else if (a.id === 'files-prev' || a.id === 'files-next') {
      e.preventDefault();
      runBrowse(browseQuery($('search'), Number(a.dataset.offset || new URL(a.href).searchParams.get('offset') || 0)));
    } else if (a.dataset.state) {
      e.preventDefault();
      $('search-state').value = a.dataset.state;
      runBrowse(browseQuery($('search'), 0));
      $('files').scrollIntoView();
    }
  });

  // Drag and drop anywhere on the page uploads to the folder chosen in
  // the header.
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    $('drop').hidden = false;
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) $('drop').hidden = true;
  });
  document.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  document.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    $('drop').hidden = true;
    if (e.dataTransfer.files.length) sendFiles(e.dataTransfer.files, chosenFolder());
  });

  // Elapsed times, uptime and "as of" tick along between views, while
  // connected; disconnected, they stop where the last view left them.
  setInterval(() => {
    if (!live) return;
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
  window.__dashboard = { state, get source() { return source; }, sendFiles };
})();
