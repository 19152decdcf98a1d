// GitLab-style projects and their pipelines (ref, status), refreshed every few seconds.
import { h, clear, heading, status, time, alertBox, empty, fill, add } from '../dom.js';
import { api } from '../api.js';

export function render(main, args, query, ctx) {
  add(main, heading('Pipelines'));
  const out = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  add(main, out);
  const boxes = new Map();
  let timer = 0;

  async function project(p) {
    let box = boxes.get(p.id);
    if (!box) {
      box = h('div', { class: 'table-wrap' });
      boxes.set(p.id, box);
      const hid = `proj-${boxes.size}`;
      add(out, h('section', { 'aria-labelledby': hid, 'data-project': p.id },
        h('h2', { id: hid }, p.path_with_namespace || p.name || String(p.id)), box));
    }
    try {
      const list = await api(`/api/v4/projects/${encodeURIComponent(p.id)}/pipelines?per_page=20`, { signal: ctx.signal });
      const key = JSON.stringify(list.map((x) => [x.id, x.status]));
      if (box.dataset.key === key) return; // unchanged: keep the DOM (and the focus in it)
      box.dataset.key = key;
      const table = h('table', { 'data-test': 'pipelines' },
        h('caption', { class: 'sr-only' }, `Pipelines of ${p.path_with_namespace || p.id}, newest first`),
        h('thead', {}, h('tr', {}, ['Pipeline', 'Status', 'Ref', 'Source', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, list.map((x) => h('tr', { 'data-pipeline': x.id },
          h('td', {}, h('a', { href: `#/projects/${encodeURIComponent(p.id)}/pipelines/${encodeURIComponent(x.id)}` }, `#${x.id}`)),
          h('td', {}, status(x.status)),
          h('td', {}, h('code', {}, x.ref || '')),
          h('td', {}, x.source || ''),
          h('td', {}, time(x.created_at))))));
      fill(box, table);
      if (!list.length) add(box, empty('No pipelines yet. Trigger one with a trigger token or a webhook.'));
    } catch (e) {
      if (e.name !== 'AbortError') fill(box, alertBox(e.message));
      box.dataset.key = '';
    }
  }

  async function refresh() {
    try {
      const projects = await api('/api/v4/projects?per_page=100', { signal: ctx.signal });
      if (out.querySelector('p.muted')) clear(out);
      if (!projects.length) { fill(out, empty('This client is a member of no project.')); return; }
      await Promise.all(projects.map(project));
    } catch (e) {
      if (e.name === 'AbortError') return;
      fill(out, alertBox(e.message));
      boxes.clear();
    }
    if (!ctx.signal.aborted) timer = setTimeout(refresh, 5000);
  }
  refresh();
  return () => clearTimeout(timer);
}
