// Jobs the signed-in client may trigger: type, schedule, allowed overrides, recent outcomes
// as a sparkline, and the trigger form.
import { h, svg, clear, heading, status, time, alertBox, empty, fields, isTerminal, fill, add } from '../dom.js';
import { api, jobs, qs } from '../api.js';
import { triggerForm } from '../trigger.js';

const RECENT = 20;

function sparkline(list) {
  const done = list.filter((e) => isTerminal(e.job_status));
  const ok = done.filter((e) => e.job_status === 'SUCCESS').length;
  const text = done.length
    ? `Last ${done.length} finished: ${ok} succeeded (${Math.round((100 * ok) / done.length)} %)`
    : 'No finished executions yet';
  const w = 8;
  // Oldest on the left, newest on the right; bar height by outcome.
  const bars = [...list].reverse().map((e, i) => {
    const good = e.job_status === 'SUCCESS';
    const hgt = good ? 20 : isTerminal(e.job_status) ? 10 : 5;
    return svg('rect', { x: i * (w + 2), y: 24 - hgt, width: w, height: hgt, class: `bar`, 'data-status': e.job_status });
  });
  return h('div', { class: 'spark' },
    svg('svg', { 'data-test': 'sparkline', role: 'img', 'aria-label': text, viewBox: `0 0 ${Math.max(1, list.length) * (w + 2)} 24`, width: Math.max(1, list.length) * (w + 2), height: 24 },
      svg('title', {}, text), bars),
    h('span', { class: 'muted' }, text));
}

let seq = 0;
function jobSection(job, ctx, open) {
  const hid = `job-h-${++seq}`;
  const recent = h('div', {}, h('p', { class: 'muted' }, 'Loading recent executions…'));
  const formBox = h('div', {});
  const btn = h('button', { type: 'button', class: 'primary', 'data-test': 'open-trigger', 'aria-expanded': 'false' }, 'Run…');
  const toggle = () => {
    if (formBox.firstChild) { clear(formBox); btn.setAttribute('aria-expanded', 'false'); return; }
    const form = triggerForm(job, {}, ctx);
    add(formBox, form);
    btn.setAttribute('aria-expanded', 'true');
    form.querySelector('input, button').focus();
  };
  btn.addEventListener('click', toggle);
  const overrides = job.allow_env_override || [];
  const sec = h('section', { 'data-job': job.name, class: 'card job', 'aria-labelledby': hid },
    h('div', { class: 'job-head' },
      h('h2', { id: hid }, h('a', { href: `#/executions?job_name=${encodeURIComponent(job.name)}` }, job.name)),
      btn),
    fields([
      ['Type', (job.job_type || '').toLowerCase()],
      ['Schedule', job.schedule || 'none'],
      job.repo ? ['Repository', job.repo] : null,
      (job.branches || []).length ? ['Branches', job.branches.join(', ')] : null,
      (job.skip_branches || []).length ? ['Skipped branches', job.skip_branches.join(', ')] : null,
      (job.tags || []).length ? ['Tags', job.tags.join(', ')] : null,
      ['Allowed overrides', overrides.length ? overrides.join(', ') : 'none'],
      job.timeout ? ['Timeout', job.timeout] : null,
      job.max_attempts ? ['Attempts', String(job.max_attempts)] : null,
    ]),
    h('h3', {}, 'Recent executions'), recent, formBox);
  const load = () => api(`/v1/executions${qs({ job_name: job.name, page_size: RECENT })}`, { signal: ctx.signal }).then((r) => {
    const list = r.job_execution || [];
    fill(recent, sparkline(list));
    if (list.length) {
      add(recent, h('ul', { class: 'recent' }, list.slice(0, 5).map((e) =>
        h('li', {}, status(e.job_status), ' ', h('a', { href: `#/executions/${encodeURIComponent(e.id)}` }, time(e.create_time))))));
    }
  }).catch((e) => { if (e.name !== 'AbortError') fill(recent, alertBox(e.message)); });
  // A job's recent executions are asked for once its section is near the screen: a client with
  // hundreds of jobs does not send hundreds of calls when the page opens.
  const seen = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    seen.disconnect();
    load();
  }, { rootMargin: '400px' });
  seen.observe(sec);
  ctx.signal.addEventListener('abort', () => seen.disconnect());
  if (open) queueMicrotask(toggle);
  return sec;
}

export function render(main, args, query, ctx) {
  add(main, heading('Jobs'));
  const out = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  add(main, out);
  jobs().then((r) => {
    clear(out);
    const list = r.jobs || [];
    if (!list.length) { add(out, empty('This client may trigger no jobs.')); return; }
    add(out, h('p', { class: 'muted' }, `${list.length} job(s) ${r.client ? `${r.client} ` : ''}may trigger.`),
      ...list.map((j) => jobSection(j, ctx, j.name === args.job)));
    if (args.job) out.querySelector(`section[data-job="${CSS.escape(args.job)}"]`)?.scrollIntoView();
  }).catch((e) => fill(out, alertBox(e.message)));
}
