// The dashboard: plain ES module, no build. Talks to the same API as any client: the key is kept in
// sessionStorage (this tab only) and sent as a Bearer token with the chosen namespace.
const $ = (sel) => document.querySelector(sel);
const store = window.sessionStorage;
const REFRESH_MS = 2000;

function settings() {
  return {
    key: store.getItem('bs.key'),
    ns: store.getItem('bs.ns') || 'default',
    temporal: store.getItem('bs.temporal') || 'http://localhost:8233',
  };
}

async function api(method, path, body) {
  const { key, ns } = settings();
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      'x-namespace': ns,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message ?? `${method} ${path}: ${res.status}`);
  return data;
}

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
};
const svgEl = (tag, attrs = {}, ...children) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
};

function fmtBytes(n) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function showError(err) {
  const p = $('#error');
  p.hidden = !err;
  p.textContent = err ? String(err.message ?? err) : '';
}

/** Files (bars) and duration (line) of the newest runs, oldest on the left. */
function runChart(runs) {
  const w = 320,
    h = 70,
    pad = 14;
  const list = runs.slice(0, 20).reverse();
  const svg = svgEl('svg', {
    width: w,
    height: h + pad,
    class: 'chart',
    role: 'img',
    'aria-label': 'run history',
  });
  if (list.length === 0) {
    svg.append(svgEl('text', { x: 4, y: 20 }, 'no runs yet'));
    return svg;
  }
  const files = list.map((r) => r.files_listed ?? r.files_discovered);
  const maxF = Math.max(1, ...files);
  const maxD = Math.max(0.001, ...list.map((r) => r.duration_seconds));
  const bw = (w - pad) / list.length;
  list.forEach((r, i) => {
    const bh = (files[i] / maxF) * (h - pad);
    svg.append(
      svgEl(
        'rect',
        {
          x: pad + i * bw + 1,
          y: h - bh,
          width: Math.max(1, bw - 2),
          height: bh,
          fill: r.status === 'FAILED' ? '#ef4444' : '#93c5fd',
          class: 'run-bar',
        },
        svgEl('title', {}, `${r.started_at}: ${files[i]} files, ${r.duration_seconds}s, ${r.status}`),
      ),
    );
  });
  const pts = list
    .map((r, i) => `${pad + i * bw + bw / 2},${h - (r.duration_seconds / maxD) * (h - pad)}`)
    .join(' ');
  svg.append(svgEl('polyline', { points: pts, fill: 'none', stroke: '#1d2330', 'stroke-width': 1.5 }));
  svg.append(svgEl('text', { x: 0, y: 10 }, `files ≤ ${maxF} · duration ≤ ${maxD}s`));
  return svg;
}

function progressBar(sync) {
  const p = sync.sync_progress;
  const inPass = p && p.phase && p.started_at;
  if (!inPass)
    return el(
      'span',
      { class: 'muted' },
      sync.last_sync_at ? `idle; last sync ${new Date(sync.last_sync_at).toLocaleString()}` : 'no pass yet',
    );
  const known = typeof p.percent === 'number';
  const bar = el(
    'div',
    {
      class: `bar${known ? '' : ' indeterminate'}`,
      role: 'progressbar',
      'aria-valuenow': known ? p.percent : undefined,
    },
    el('span', known ? { style: `width:${p.percent}%` } : {}),
  );
  const text =
    `${p.phase}: ${p.files_listed} listed · ${p.files_created} new · ${p.files_updated} updated · ${p.files_unchanged} unchanged · ${p.files_dlq} DLQ · ${fmtBytes(p.bytes_synced)} · ${p.files_per_second} files/s` +
    (known ? ` · ${p.percent}% · ETA ${p.eta_seconds}s` : '');
  return [bar, el('span', { class: 'progress-text' }, text)];
}

async function syncCard(bucket, sync, expanded) {
  const base = `/v1/buckets/${bucket.bucket_id}/syncs/${sync.sync_config_id}`;
  const act = (label, method, path, body) =>
    el(
      'button',
      {
        type: 'button',
        'data-action': label,
        onclick: () => api(method, path, body).then(refresh, showError),
      },
      label,
    );
  const { temporal } = settings();
  const wfUrl = `${temporal.replace(/\/$/, '')}/namespaces/default/workflows/sync-${sync.sync_config_id}`;
  const card = el(
    'section',
    { class: 'sync', 'data-sync': sync.sync_config_id },
    el(
      'div',
      { class: 'row' },
      el('strong', {}, sync.sync_config_id),
      el('span', { class: `status ${sync.status}`, 'data-status': sync.status }, sync.status),
      el(
        'span',
        { class: 'muted' },
        `${sync.source_type} ${sync.source_path} · ${sync.total_files_synced} files · ${fmtBytes(sync.total_bytes_synced)}`,
      ),
      el('a', { href: wfUrl, target: '_blank', rel: 'noopener' }, 'workflow in Temporal'),
    ),
    el('div', { class: 'row' }, progressBar(sync)),
    el(
      'div',
      { class: 'row' },
      sync.paused ? act('resume', 'POST', `${base}/resume`, {}) : act('pause', 'POST', `${base}/pause`, {}),
      act('trigger', 'POST', `${base}/trigger`),
      act('full sync', 'POST', `${base}/trigger?full_sync=true`),
      el(
        'button',
        {
          type: 'button',
          onclick: () => {
            if (expanded.has(sync.sync_config_id)) expanded.delete(sync.sync_config_id);
            else expanded.add(sync.sync_config_id);
            refresh();
          },
        },
        expanded.has(sync.sync_config_id) ? 'hide runs & DLQ' : 'runs & DLQ',
      ),
      sync.pause_reason ? el('span', { class: 'muted' }, sync.pause_reason) : null,
    ),
  );
  if (expanded.has(sync.sync_config_id)) {
    const [runs, dlq] = await Promise.all([
      api('GET', `${base}/runs?limit=20`),
      api('GET', `${base}/dlq?limit=50`),
    ]);
    card.append(el('div', { class: 'row' }, runChart(runs.results)));
    const rows = dlq.results.map((d) =>
      el(
        'tr',
        {},
        el('td', {}, d.path),
        el('td', {}, d.status),
        el('td', {}, d.attempts),
        el('td', {}, d.last_error),
      ),
    );
    card.append(
      el(
        'div',
        {},
        el(
          'div',
          { class: 'row' },
          el('strong', {}, `DLQ (${dlq.results.length})`),
          dlq.results.length ? act('retry DLQ', 'POST', `${base}/dlq/retry`, {}) : null,
        ),
        rows.length
          ? el(
              'table',
              {},
              el(
                'tr',
                {},
                el('th', {}, 'path'),
                el('th', {}, 'status'),
                el('th', {}, 'attempts'),
                el('th', {}, 'error'),
              ),
              rows,
            )
          : null,
      ),
    );
  }
  return card;
}

const expanded = new Set(JSON.parse(store.getItem('bs.expanded') || '[]'));
let timer = null;
let busy = false;

async function refresh() {
  clearTimeout(timer);
  if (!settings().key || busy) return;
  busy = true;
  try {
    const buckets = (await api('GET', '/v1/buckets?limit=100')).results;
    const parts = [];
    for (const b of buckets) {
      const syncs = (await api('GET', `/v1/buckets/${b.bucket_id}/syncs?limit=100`)).results;
      if (syncs.length === 0) continue;
      const full = await Promise.all(
        syncs.map((s) => api('GET', `/v1/buckets/${b.bucket_id}/syncs/${s.sync_config_id}`)),
      );
      parts.push(
        el(
          'div',
          { class: 'bucket' },
          el('h2', {}, `${b.bucket_name} `, el('span', { class: 'muted' }, b.bucket_id)),
          ...(await Promise.all(full.map((s) => syncCard(b, s, expanded)))),
        ),
      );
    }
    $('#syncs').replaceChildren(
      ...(parts.length ? parts : [el('p', { class: 'muted' }, 'No syncs in this namespace.')]),
    );
    store.setItem('bs.expanded', JSON.stringify([...expanded]));
    showError(null);
  } catch (err) {
    showError(err);
  } finally {
    busy = false;
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

$('#login').addEventListener('submit', (e) => {
  e.preventDefault();
  store.setItem('bs.key', $('#key').value.trim());
  store.setItem('bs.ns', $('#ns').value.trim());
  store.setItem('bs.temporal', $('#temporal').value.trim());
  $('#key').value = '';
  start();
});
$('#logout').addEventListener('click', () => {
  store.removeItem('bs.key');
  $('#syncs').replaceChildren();
  start();
});

function start() {
  const s = settings();
  $('#ns').value = s.ns;
  $('#temporal').value = s.temporal;
  $('#key').hidden = !!s.key;
  $('#logout').hidden = !s.key;
  $('#key').required = !s.key;
  void refresh();
}
start();
