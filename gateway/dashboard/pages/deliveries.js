// Webhook deliveries: what each push matched and why, the deliveries this gateway refused,
// and (admins) a dry run of a pasted payload.
import { h, clear, heading, time, alertBox, empty, fill, add } from '../dom.js';
import { api, qs, jobs } from '../api.js';

const EVENTS = {
  github: [['X-GitHub-Event', 'push'], ['X-GitHub-Event', 'ping']],
  gitlab: [['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Event', 'Tag Push Hook']],
  gitea: [['X-Gitea-Event', 'push']],
};

export function outcome(d) {
  return h('span', { class: 'outcome', 'data-outcome': d.outcome }, d.outcome);
}

// Per job: matched or not, and why.
export function matches(list) {
  if (!list || !list.length) return h('p', { class: 'muted' }, 'No job of yours is started by pushes (no postsubmit you may trigger).');
  return h('ul', { class: 'matches plain' }, list.map((m) => h('li', { 'data-test': 'match', 'data-job': m.job, class: m.matched ? 'yes' : 'no' },
    h('strong', {}, m.job), ': ', h('span', { class: 'verdict' }, m.matched ? 'matched' : 'not matched'), ' — ', m.reason,
    m.execution_id ? [' → ', h('a', { href: `#/executions/${encodeURIComponent(m.execution_id)}` }, 'execution')] : null)));
}

const deliveryHref = (d) => `#/deliveries/${encodeURIComponent(d.host)}/${encodeURIComponent(d.delivery_id)}`;

function dryRun(ctx) {
  const result = h('div', { 'data-test': 'dry-run-result', 'aria-live': 'polite' });
  const host = h('select', { id: 'dr-host', name: 'host' }, Object.keys(EVENTS).map((x) => h('option', { value: x }, x)));
  const event = h('select', { id: 'dr-event', name: 'event' });
  const events = () => fill(event, ...EVENTS[host.value].map(([, v]) => h('option', { value: v }, v)));
  host.addEventListener('change', events);
  events();
  const payload = h('textarea', { id: 'dr-payload', name: 'payload', rows: '8', spellcheck: 'false', required: true, placeholder: '{"ref": "refs/heads/main", "repository": {"full_name": "org/repo"}, ...}' });
  const form = h('form', { 'data-test': 'dry-run', class: 'card' },
    h('h2', {}, 'Dry run'),
    h('p', { class: 'muted' }, 'Paste a push event as the host sends it and see which jobs it would start. Nothing is stored or started.'),
    h('div', { class: 'grid' },
      h('div', { class: 'field' }, h('label', { for: 'dr-host' }, 'Host'), host),
      h('div', { class: 'field' }, h('label', { for: 'dr-event' }, 'Event'), event)),
    h('div', { class: 'field' }, h('label', { for: 'dr-payload' }, 'Payload (JSON)'), payload),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Dry run')),
    result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(result);
    const name = EVENTS[host.value].find(([, v]) => v === event.value)[0];
    try {
      const r = await api(`/hooks/${host.value}?dry_run=true`, { method: 'POST', body: payload.value, headers: { [name]: event.value, 'Content-Type': 'application/json' }, signal: ctx.signal, keepSession: true });
      const d = r.delivery || r;
      add(result, h('p', {}, h('strong', {}, 'Outcome: '), outcome(d), ` — ${d.message || ''}`),
        h('p', { class: 'muted' }, `Signature: ${r.signature || 'not checked'}. ${r.note || ''}`), matches(d.matches));
    } catch (ex) {
      if (ex.name !== 'AbortError') add(result, alertBox(ex.message, 'form-error'));
    }
  });
  return form;
}

export function render(main, args, query, ctx) {
  const f = { repo: query.get('repo') || '', host: query.get('host') || '', since: query.get('since') || '' };
  add(main, heading('Deliveries'));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter deliveries' },
    h('div', { class: 'field' }, h('label', { for: 'd-repo' }, 'Repository'), h('input', { id: 'd-repo', name: 'repo', value: f.repo, placeholder: 'org/repo', autocomplete: 'off' })),
    h('div', { class: 'field' }, h('label', { for: 'd-host' }, 'Host'), h('select', { id: 'd-host', name: 'host' },
      ['', 'github', 'gitlab', 'gitea'].map((x) => h('option', { value: x, selected: x === f.host }, x || 'any')))),
    h('div', { class: 'field' }, h('label', { for: 'd-since' }, 'Since'), h('input', { id: 'd-since', name: 'since', value: f.since, placeholder: '24h', autocomplete: 'off' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'), h('button', { type: 'button', onclick: () => load() }, 'Refresh')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.go(`#/deliveries${qs({ repo: form.elements.repo.value.trim(), host: form.elements.host.value, since: form.elements.since.value.trim() })}`);
  });
  const out = h('div', {});
  add(main, form, out);
  jobs().then((j) => { if (j.admin && !ctx.signal.aborted) add(main, dryRun(ctx)); }).catch(() => {});

  async function load() {
    try {
      const r = await api(`/v1/events${qs({ ...f, limit: 100 })}`, { signal: ctx.signal });
      const events = r.events || [];
      const refused = r.refused_by_this_gateway || [];
      fill(out, 
        h('div', { class: 'table-wrap' }, h('table', { 'data-test': 'deliveries' },
          h('caption', { class: 'sr-only' }, 'Webhook deliveries, newest first'),
          h('thead', {}, h('tr', {}, ['Received', 'Delivery', 'Repository and ref', 'Pusher', 'Outcome', 'Jobs'].map((c, i) => h('th', { scope: 'col', class: i === 3 || i === 5 ? 'hide-narrow' : null }, c)))),
          h('tbody', {}, events.map((d) => h('tr', { 'data-delivery': d.delivery_id, 'data-replay': d.replay || null },
            h('td', {}, time(d.received_at)),
            h('td', {}, h('a', { href: deliveryHref(d) }, `${d.host} ${d.delivery_id}`), d.replay ? h('small', { class: 'muted' }, ` replay ${d.replay}`) : '', h('br'), h('small', { class: 'muted' }, d.kind || d.event || '')),
            h('td', {}, d.repo || '—', h('br'), h('code', {}, d.ref || '')),
            h('td', { class: 'hide-narrow' }, d.pusher || '—'),
            h('td', {}, outcome(d)),
            h('td', { class: 'hide-narrow' }, (d.matches || []).filter((m) => m.matched).map((m) => h('div', {}, m.execution_id ? h('a', { href: `#/executions/${encodeURIComponent(m.execution_id)}` }, m.job) : m.job)),
              (d.matches || []).some((m) => !m.matched) ? h('small', { class: 'muted' }, `${d.matches.filter((m) => !m.matched).length} not matched`) : null)))))),
        events.length ? null : empty('No deliveries received yet (or none match these filters).'),
        h('h2', {}, 'Refused by this gateway'),
        h('div', { class: 'table-wrap' }, h('table', { 'data-test': 'refused' },
          h('caption', { class: 'sr-only' }, 'Deliveries this gateway refused'),
          h('thead', {}, h('tr', {}, ['Received', 'Host', 'Delivery', 'Repository', 'Reason'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, refused.map((d) => h('tr', {},
            h('td', {}, time(d.received_at)), h('td', {}, d.host), h('td', {}, d.delivery_id || '—'), h('td', {}, d.repo || '—'), h('td', {}, d.reason)))))),
        refused.length ? null : empty('None: every delivery this gateway received was signed correctly.'));
    } catch (e) {
      if (e.name !== 'AbortError') fill(out, alertBox(e.message));
    }
  }
  load();
}
