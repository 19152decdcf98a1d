// Health: Kafka reachable, the status view's lag, and the workers seen with what they run.
import { h, heading, time, alertBox, empty, fill, add } from '../dom.js';
import { api } from '../api.js';

const ok = (good, yes, no) => h('span', { class: 'status', 'data-status': good ? 'SUCCESS' : 'FAILURE' }, good ? yes : no);

export function render(main, args, query, ctx) {
  add(main, heading('Health'));
  const out = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const updated = h('p', { class: 'muted' });
  add(main, out, updated);
  let timer = 0;
  let last = '';

  function draw(r) {
    const v = r.status_view || {};
    const workers = r.workers || [];
    fill(out, 
      h('div', { class: 'cards' },
        h('section', { class: 'card', 'aria-labelledby': 'h-gw' }, h('h2', { id: 'h-gw' }, 'Gateway'), h('p', {}, r.gateway || '—'),
          r.ready === undefined ? null : h('p', { 'data-test': 'ready' }, ok(r.ready, 'Ready', 'Not ready'))),
        h('section', { class: 'card', 'aria-labelledby': 'h-kafka' }, h('h2', { id: 'h-kafka' }, 'Kafka'),
          h('p', { 'data-test': 'kafka' }, ok(r.kafka?.reachable, 'Reachable', 'Unreachable'))),
        h('section', { class: 'card', 'aria-labelledby': 'h-view' }, h('h2', { id: 'h-view' }, 'Status view'),
          h('p', { 'data-test': 'view-lag' }, ok(v.caught_up, 'Caught up', 'Catching up'), ` ${v.lag_records ?? '?'} record(s) behind`),
          h('p', { class: 'muted' }, `${v.executions ?? '?'} execution(s) known`))),
      h('h2', {}, 'Workers'),
      h('div', { class: 'table-wrap' }, h('table', { 'data-test': 'workers' },
        h('caption', { class: 'sr-only' }, 'Workers seen in the last 10 minutes'),
        h('thead', {}, h('tr', {}, ['Worker', 'Last seen', 'Running'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, workers.map((w) => h('tr', {},
          h('td', {}, w.worker), h('td', {}, time(w.last_seen)),
          h('td', {}, (w.running || []).length ? h('ul', { class: 'plain' }, w.running.map((x) => h('li', {},
            h('a', { href: `#/executions/${encodeURIComponent(x.id)}` }, x.job_name || x.id),
            x.attempt ? ` attempt ${x.attempt}` : '', x.start_time ? [', since ', time(x.start_time)] : ''))) : h('span', { class: 'muted' }, 'idle'))))))),
      workers.length ? null : empty('No worker seen in the last 10 minutes.'));
  }

  async function load() {
    try {
      const r = await api('/v1/health', { signal: ctx.signal });
      // Redrawn only when something changed, so that keyboard focus in the page stays put.
      const now = JSON.stringify(r);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every 5 s.`;
      if (now !== last) {
        last = now;
        draw(r);
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      last = '';
      fill(out, alertBox(e.message));
    }
    if (!ctx.signal.aborted) timer = setTimeout(load, 5000);
  }
  load();
  return () => clearTimeout(timer);
}
