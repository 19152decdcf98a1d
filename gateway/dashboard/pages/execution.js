// One execution: its fields, a timeline of status changes, the log (live while it runs),
// abort with confirmation, run again with the same or edited overrides.
import { h, clear, heading, status, time, duration, alertBox, fields, confirm, isTerminal, fill, add } from '../dom.js';
import { api, blob, logTail, sse, streamText, jobs } from '../api.js';

const LOG_TAIL = 256 * 1024; // read first: the end of the log, where a failure shows
const LOG_KEPT = 2 * 1024 * 1024; // held in the page at most while following
import { triggerForm } from '../trigger.js';


function map(obj) {
  const e = Object.entries(obj || {});
  if (!e.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'plain' }, e.map(([k, v]) => h('li', {}, h('code', {}, k), ' = ', h('code', {}, v))));
}

function refsView(r) {
  if (!r) return null;
  const pulls = (r.pulls || []).map((p) => h('li', {}, `#${p.number ?? '?'} by ${p.author || '?'} at `, h('code', {}, p.sha || '?')));
  return h('div', {}, fields(Object.entries(r).filter(([k]) => k !== 'pulls').map(([k, v]) => [k, h('code', {}, typeof v === 'string' ? v : JSON.stringify(v))])),
    pulls.length ? h('ul', { class: 'plain' }, pulls) : null);
}

const KNOWN = ['id', 'job_name', 'job_type', 'job_status', 'message', 'create_time', 'start_time', 'completion_time', 'refs', 'pod_spec_options', 'gcs_path', 'job_url', 'client', 'source', 'worker', 'attempt', 'heartbeat_time'];

function fieldList(e) {
  const p = e.pod_spec_options || {};
  const rest = Object.entries(e).filter(([k]) => !KNOWN.includes(k));
  return fields([
    ['ID', h('code', {}, e.id)],
    ['Job', h('a', { href: `#/executions?job_name=${encodeURIComponent(e.job_name)}` }, e.job_name)],
    ['Type', (e.job_type || '').toLowerCase()],
    ['Status', status(e.job_status)],
    e.message ? ['Message', e.message] : null,
    ['Triggered by', e.client || '—'],
    ['Source', e.source || '—'],
    ['Worker', e.worker ? `${e.worker} (attempt ${e.attempt || 1})` : '—'],
    e.heartbeat_time ? ['Last heartbeat', time(e.heartbeat_time)] : null,
    ['Created', time(e.create_time)],
    ['Started', time(e.start_time)],
    ['Finished', time(e.completion_time)],
    ['Duration', e.start_time ? duration(e.start_time, e.completion_time) : '—'],
    p.annotations?.['sluice.io/delivery'] ? ['Webhook delivery', h('a', { href: `#/deliveries/${p.annotations['sluice.io/delivery'].split('/').map(encodeURIComponent).join('/')}` }, p.annotations['sluice.io/delivery'])] : null,
    ['Environment overrides', map(p.envs)],
    ['Labels', map(p.labels)],
    ['Annotations', map(p.annotations)],
    e.refs ? ['Refs', refsView(e.refs)] : null,
    ['Artifacts', h('code', {}, e.gcs_path || '—')],
    ['API URL', h('code', {}, e.job_url || '—')],
    ...rest.map(([k, v]) => [k, typeof v === 'object' ? h('code', {}, JSON.stringify(v)) : String(v)]),
  ], { 'data-test': 'fields' });
}

export function render(main, args, query, ctx) {
  const id = args.id;
  const badge = h('span', { 'data-test': 'execution-status' });
  add(main, heading('Execution ', badge), h('p', { class: 'muted mono' }, id));
  const body = h('div', {});
  add(main, body);
  let ex = null;
  const seen = []; // [{status, at}] status changes seen live
  let logDone = false;
  let logLen = 0; // bytes of the log read so far, from its start (what a resumed follow skips)
  const tailNote = h('p', { class: 'muted', 'data-test': 'log-cut' });

  const actions = h('div', { class: 'actions toolbar' });
  const msg = h('div', {});
  const fieldsBox = h('div', {});
  const timeline = h('ol', { 'data-test': 'timeline', class: 'timeline' });
  const log = h('pre', { 'data-test': 'log', class: 'log', tabindex: '0', 'aria-label': 'Log' });
  const logNote = h('p', { class: 'muted', 'aria-live': 'polite' });
  const follow = h('button', { type: 'button', 'data-test': 'follow', 'aria-pressed': 'true' }, 'Follow');
  const again = h('div', {});
  // Made once and kept: a status change must not replace the buttons under the user's pointer.
  const abortBtn = h('button', { type: 'button', class: 'danger', 'data-test': 'abort', onclick: () => abort() }, 'Abort');
  const againBtn = h('button', { type: 'button', 'data-test': 'run-again', 'aria-expanded': 'false', onclick: () => runAgain() }, 'Run again');
  add(actions, againBtn);
  let following = true;

  const atEnd = () => { log.scrollTop = log.scrollHeight; };
  follow.addEventListener('click', () => {
    following = !following;
    follow.setAttribute('aria-pressed', String(following));
    if (following) atEnd();
  });
  log.addEventListener('wheel', (e) => { if (e.deltaY < 0 && following) follow.click(); }, { passive: true });

  function drawTimeline() {
    const items = [];
    if (ex.create_time) items.push({ s: 'TRIGGERED', at: ex.create_time });
    if (ex.start_time) items.push({ s: 'PENDING', at: ex.start_time });
    for (const { status: s, at } of seen) if (!items.some((i) => i.s === s)) items.push({ s, at });
    if (isTerminal(ex.job_status) && !items.some((i) => i.s === ex.job_status)) items.push({ s: ex.job_status, at: ex.completion_time });
    // Who runs it comes from the record, never from the log: a job may print anything.
    const w = ex.worker ? `attempt ${ex.attempt || 1} on ${ex.worker}` : '';
    const beat = ex.job_status === 'PENDING' && ex.heartbeat_time
      ? h('span', { class: 'muted' }, ', last heartbeat ', time(ex.heartbeat_time)) : null;
    fill(timeline, ...items.map((i) => h('li', { 'data-status': i.s }, status(i.s), ' ', time(i.at),
      i.s === 'PENDING' && w ? [h('span', { class: 'muted' }, ` — ${w}`), beat] : null,
      i.s === 'PENDING' && !w ? h('span', { class: 'muted' }, ' — worker not known yet') : null)));
  }

  function draw() {
    if (badge.firstChild?.dataset.status !== ex.job_status) fill(badge, status(ex.job_status));
    document.title = `${ex.job_name} ${ex.job_status} · Sluice`;
    main.querySelector('h1').firstChild.textContent = `${ex.job_name} `;
    fill(fieldsBox, fieldList(ex));
    drawTimeline();
    if (isTerminal(ex.job_status)) abortBtn.remove();
    else if (!abortBtn.isConnected) actions.prepend(abortBtn);
    againBtn.setAttribute('aria-expanded', again.firstChild ? 'true' : 'false');
  }

  async function abort() {
    if (!await confirm(`Abort ${ex.job_name} (${ex.id})? The job is stopped and ends ABORTED.`, 'Abort')) return;
    clear(msg);
    try {
      ex = await api(`/v1/executions/${encodeURIComponent(id)}/abort`, { method: 'POST' });
      draw();
      add(msg, h('p', { class: 'note', role: 'status' }, 'Abort requested.'));
    } catch (e) {
      add(msg, alertBox(e.message));
    }
  }

  async function runAgain() {
    if (again.firstChild) { clear(again); draw(); return; }
    let job = { name: ex.job_name, job_type: ex.job_type };
    try {
      const j = (await jobs()).jobs.find((x) => x.name === ex.job_name);
      if (!j) {
        add(again, alertBox(/^[0-9]+$/.test(ex.id)
          ? 'This is a pipeline job: retry it from its pipeline on the Pipelines page.'
          : `${ex.job_name} is not among the jobs you may trigger.`));
        draw();
        return;
      }
      job = j;
    } catch { /* no job list: the gateway validates anyway */ }
    const form = triggerForm(job, { envs: ex.pod_spec_options?.envs, refs: ex.refs }, ctx);
    add(again, form);
    draw();
    form.querySelector('input, button').focus();
  }

  // The page holds at most about LOG_KEPT bytes of a log: a job that prints gigabytes must not
  // take the browser down. Download has the whole log.
  let shown = 0;
  let cut = false;
  function addLog(text) {
    const bytes = new TextEncoder().encode(text).length;
    logLen += bytes;
    shown += bytes;
    add(log, document.createTextNode(text));
    while (shown > LOG_KEPT && log.firstChild && log.firstChild !== log.lastChild) {
      shown -= new TextEncoder().encode(log.firstChild.textContent).length;
      log.firstChild.remove();
      cut = true;
    }
    if (cut) tailNote.textContent = 'Earlier output is not shown here: Download has the whole log.';
    if (following) atEnd();
  }

  // The log's last LOG_TAIL bytes first; while the job runs, the rest followed from there (and
  // again from what we have after a broken connection). The gateway ends a followed log when the
  // execution has ended and all of it was sent.
  async function readLog() {
    const path = `/v1/executions/${encodeURIComponent(id)}/log`;
    for (let tries = 0; !logDone && !ctx.signal.aborted && tries < 30; tries++) {
      try {
        if (logLen === 0) {
          const tail = await logTail(path, LOG_TAIL, ctx.signal);
          if (tail.start > 0) {
            cut = true;
            tailNote.textContent = `The last ${LOG_TAIL / 1024} KiB of ${Math.ceil(tail.size / 1024)} KiB are shown: Download has the whole log.`;
          }
          addLog(tail.text);
          logLen = tail.size;
          if (isTerminal(ex.job_status)) { logDone = true; break; }
        }
        if (!isTerminal(ex.job_status)) logNote.textContent = 'The log is live.';
        await streamText(`${path}?follow=true&offset=${logLen}`, addLog, ctx.signal);
        logDone = true;
      } catch (e) {
        if (e.name === 'AbortError' || ctx.signal.aborted) return;
        if (e.status >= 400 && e.status < 500 && e.status !== 404 && e.status !== 416) {
          logNote.textContent = `The log cannot be read: ${e.message}`;
          return;
        }
        logNote.textContent = 'The log connection broke; reconnecting…';
        await new Promise((r) => setTimeout(r, 1500));
      }
    }
    logNote.textContent = logDone ? (logLen ? '' : 'The log is empty.') : 'The log could not be read; reload the page to try again.';
  }

  async function events() {
    for (let tries = 0; tries < 10 && !ctx.signal.aborted && !isTerminal(ex.job_status); tries++) {
      try {
        await sse(`/v1/executions/${encodeURIComponent(id)}/events`, (ev) => {
          if (ev.event !== 'status') return;
          try { ex = JSON.parse(ev.data); } catch { return; }
          if (!seen.some((s) => s.status === ex.job_status)) seen.push({ status: ex.job_status, at: new Date().toISOString() });
          draw();
        }, ctx.signal);
      } catch (e) {
        if (e.name === 'AbortError') return;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  async function download() {
    try {
      const b = await blob(`/v1/executions/${encodeURIComponent(id)}/log`);
      const url = URL.createObjectURL(new Blob([b], { type: 'text/plain' }));
      const a = h('a', { href: url, download: `${ex ? ex.job_name : 'execution'}-${id}.log`, class: 'sr-only' }, 'download');
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      fill(msg, alertBox(`Download failed: ${e.message}`));
    }
  }

  (async () => {
    try {
      ex = await api(`/v1/executions/${encodeURIComponent(id)}`, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      add(body, alertBox(e.status === 404 ? 'No such execution, or you may not see it.' : e.status === 403 ? `You may not see this execution: ${e.message}` : e.message));
      return;
    }
    add(body, actions, msg, again,
      h('div', { class: 'columns' },
        h('section', { 'aria-labelledby': 'h-log', class: 'log-section' },
          h('div', { class: 'log-head' }, h('h2', { id: 'h-log' }, 'Log'),
            h('div', { class: 'actions' }, follow,
              h('button', { type: 'button', 'data-test': 'jump-to-end', onclick: () => { atEnd(); log.focus(); } }, 'Jump to end'),
              h('button', { type: 'button', 'data-test': 'download', onclick: download }, 'Download'))),
          logNote, tailNote, log),
        h('section', { 'aria-labelledby': 'h-timeline' }, h('h2', { id: 'h-timeline' }, 'Timeline'), timeline)),
      h('section', { 'aria-labelledby': 'h-fields' }, h('h2', { id: 'h-fields' }, 'Details'), fieldsBox));
    draw();
    events();
    readLog();
  })();
}
