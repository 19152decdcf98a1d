// One webhook delivery: its summary, per job matched or not and why, its replays; admins may replay it.
import { h, clear, heading, time, alertBox, fields, confirm, fill, add } from '../dom.js';
import { api, jobs } from '../api.js';
import { outcome, matches } from './deliveries.js';

function trace(d) {
  return [
    fields([
      ['Host', d.host], ['Delivery', h('code', {}, d.delivery_id)], ['Received', time(d.received_at)],
      ['Event', `${d.event || ''}${d.kind ? ` (${d.kind})` : ''}`], ['Repository', d.repo || '—'],
      ['Ref', h('code', {}, d.ref || '—')], ['Commit', h('code', {}, d.sha || '—')], ['Pusher', d.pusher || '—'],
      d.requested_by ? ['Replayed by', d.requested_by] : null,
      ['Outcome', outcome(d)], ['Message', d.message || ''],
    ]),
    h('h3', {}, 'Jobs'), matches(d.matches),
    d.payload !== undefined ? [h('h3', {}, 'Payload'), h('pre', { 'data-test': 'payload', class: 'log', tabindex: '0' },
      typeof d.payload === 'string' ? d.payload : JSON.stringify(d.payload, null, 2))] : null,
  ];
}

export function render(main, args, query, ctx) {
  const path = `/v1/events/${encodeURIComponent(args.host)}/${encodeURIComponent(args.id)}`;
  add(main, heading(`Delivery ${args.id}`), h('p', {}, h('a', { href: '#/deliveries' }, '← All deliveries')));
  const out = h('div', {});
  const msg = h('div', {});
  add(main, msg, out);

  async function replay() {
    if (!await confirm(`Replay ${args.host} delivery ${args.id}? It is matched against today's jobs and starts what matches.`, 'Replay')) return;
    clear(msg);
    try {
      const r = await api(`${path}/replay`, { method: 'POST' });
      add(msg, h('div', { class: 'note', role: 'status' }, h('p', {}, `Replayed: ${r.outcome} — ${r.message || ''}`),
        h('ul', { class: 'plain' }, (r.executions || []).map((x) => h('li', {}, x.job, ' → ', h('a', { href: `#/executions/${encodeURIComponent(x.id)}` }, x.id))))));
      load();
    } catch (e) {
      add(msg, alertBox(e.message));
    }
  }

  async function load() {
    try {
      const r = await api(path, { signal: ctx.signal });
      const admin = await jobs().then((j) => j.admin, () => false);
      const d = r.delivery;
      fill(out,
        admin ? h('div', { class: 'actions toolbar' }, h('button', { type: 'button', 'data-test': 'replay', onclick: replay }, 'Replay')) : null,
        h('section', { class: 'card', 'aria-labelledby': 'h-summary' }, h('h2', { id: 'h-summary' }, 'Summary'), trace(d)),
        (r.replays || []).length ? [h('h2', {}, 'Replays'), ...r.replays.map((x) => h('section', { class: 'card' }, h('h3', {}, `Replay ${x.replay || ''}`), trace(x)))] : null);
    } catch (e) {
      if (e.name !== 'AbortError') fill(out, alertBox(e.status === 404 ? 'No such delivery, or it is older than the retention.' : e.message));
    }
  }
  load();
}
