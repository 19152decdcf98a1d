// Executions: newest first, filters in the hash, server-side paging, live updates from the
// watch stream merged into the first page.
import { h, clear, heading, status, time, duration, alertBox, empty, isTerminal, fill, add } from '../dom.js';
import { api, sse, qs, jobs } from '../api.js';

const STATUSES = ['', 'TRIGGERED', 'PENDING', 'SUCCESS', 'FAILURE', 'ABORTED', 'ERROR'];
const SOURCES = ['', 'api', 'webhook', 'pipeline']; // the gateway's (no schedules yet)
const PAGE_SIZE = 25;

// The gateway tells a pipeline job's execution by its decimal id (GitLab's job id).
export const sourceOf = (e) => e.source || (e.pod_spec_options?.annotations || {})['sluice.io/source'] || (/^[0-9]+$/.test(e.id) ? 'pipeline' : '');

export function row(e) {
  const ann = e.pod_spec_options?.annotations || {};
  return h('tr', { 'data-id': e.id },
    h('td', {}, status(e.job_status)),
    h('td', {}, h('a', { href: `#/executions/${encodeURIComponent(e.id)}` }, e.job_name), h('br'), h('small', { class: 'muted mono' }, e.id)),
    h('td', { class: 'hide-narrow' }, (e.job_type || '').toLowerCase()),
    h('td', { class: 'hide-narrow' }, sourceOf(e) || '—', e.client || ann['sluice.io/user'] ? h('small', { class: 'muted' }, ` by ${e.client || ann['sluice.io/user']}`) : ''),
    h('td', {}, time(e.create_time)),
    h('td', { class: 'hide-narrow' }, isTerminal(e.job_status) && !e.completion_time ? '—' : duration(e.start_time, e.completion_time)));
}

export function executionsTable(list, caption) {
  return h('table', { 'data-test': 'executions' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, ['Status', 'Job', 'Type', 'Source', 'Created', 'Duration'].map((c, i) =>
      h('th', { scope: 'col', class: i === 2 || i === 3 || i === 5 ? 'hide-narrow' : null }, c)))),
    h('tbody', {}, list.map(row)));
}

function select(name, label, options, value) {
  return h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label),
    h('select', { id: `f-${name}`, name }, options.map((o) => h('option', { value: o, selected: o === value }, o === '' ? 'any' : o.toLowerCase()))));
}

export function render(main, args, query, ctx) {
  const f = Object.fromEntries(['job_name', 'status', 'client', 'source'].map((k) => [k, query.get(k) || '']));
  const live = h('span', { class: 'live muted', 'aria-live': 'polite' });
  add(main, heading('Executions'), live);
  const jobList = h('datalist', { id: 'job-names' });
  const form = h('form', { 'data-test': 'filters', class: 'filters', role: 'search', 'aria-label': 'Filter executions' },
    h('div', { class: 'field' }, h('label', { for: 'f-job_name' }, 'Job'),
      h('input', { id: 'f-job_name', name: 'job_name', value: f.job_name, list: 'job-names', autocomplete: 'off', spellcheck: 'false' }), jobList),
    select('status', 'Status', STATUSES, f.status),
    h('div', { class: 'field' }, h('label', { for: 'f-client' }, 'Client'),
      h('input', { id: 'f-client', name: 'client', value: f.client, autocomplete: 'off', spellcheck: 'false' })),
    select('source', 'Source', SOURCES, f.source),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('a', { href: '#/executions', class: 'button' }, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = {};
    for (const k of Object.keys(f)) p[k] = form.elements[k].value.trim();
    ctx.go(`#/executions${qs(p)}`);
  });
  jobs().then((j) => add(jobList, ...j.jobs.map((x) => h('option', { value: x.name })))).catch(() => {});
  const out = h('div', { class: 'table-wrap' });
  const pager = h('div', { class: 'pager' });
  add(main, form, out, pager);

  const tokens = []; // page tokens of the pages before this one
  let current = '';
  let tbody = null;
  const pending = []; // watch events that came before the first page
  const filtered = !!(f.job_name || f.status || f.client || f.source);

  const apply = (e) => {
    if (!tbody) { pending.push(e); return; }
    const old = tbody.querySelector(`tr[data-id="${CSS.escape(e.id)}"]`);
    if (old) {
      if (f.status && e.job_status !== f.status) { old.classList.add('stale'); }
      old.replaceWith(row(e));
    } else if (tokens.length === 0 && (!f.status || e.job_status === f.status)) {
      tbody.prepend(row(e));
      out.querySelector('.empty')?.remove();
      while (tbody.children.length > PAGE_SIZE) tbody.lastChild.remove();
    }
  };

  async function load(pageToken) {
    fill(out, h('p', { class: 'muted' }, 'Loading…'));
    clear(pager);
    try {
      const r = await api(`/v1/executions${qs({ ...f, page_size: PAGE_SIZE, page_token: pageToken })}`, { signal: ctx.signal });
      current = pageToken;
      const list = r.job_execution || [];
      const table = executionsTable(list, 'Executions, newest first');
      tbody = table.tBodies[0];
      fill(out, table);
      if (!list.length) {
        add(out, empty(filtered ? 'No executions match these filters.' : 'No executions yet. Run one from the Jobs page.'));
      }
      if (tokens.length) add(pager, h('button', { type: 'button', 'data-test': 'prev-page', onclick: () => load(tokens.pop()) }, '← Newer'));
      if (r.next_page_token) add(pager, h('button', { type: 'button', 'data-test': 'next-page', onclick: () => { tokens.push(current); load(r.next_page_token); } }, 'Older →'));
      while (pending.length && tokens.length === 0) apply(pending.shift());
      pending.length = 0;
    } catch (e) {
      if (e.name !== 'AbortError') fill(out, alertBox(e.message));
    }
  }

  // Live: open the watch stream first, then load the first page (events in between are kept).
  const watch = async (again) => {
    live.textContent = 'Live updates on';
    try {
      const stream = sse(`/v1/executions${qs({ watch: 'true', job_name: f.job_name, client: f.client, source: f.source })}`, (ev) => {
        if (ev.event !== 'status') return;
        try { apply(JSON.parse(ev.data)); } catch { /* not an execution */ }
      }, ctx.signal);
      if (again && tokens.length === 0) load('');
      await stream;
      if (ctx.signal.aborted) return;
      live.textContent = 'Live updates interrupted; reconnecting…';
    } catch (e) {
      if (e.name === 'AbortError' || ctx.signal.aborted) return;
      live.textContent = `Live updates unavailable: ${e.message}`;
      if (e.status >= 400 && e.status < 500) return;
    }
    setTimeout(() => { if (!ctx.signal.aborted) watch(true); }, 5000);
  };
  watch(false);
  load('');
}
