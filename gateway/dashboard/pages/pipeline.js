// A pipeline laid out by stages as GitLab's graph: each job with its status; play (with
// variables) on manual jobs, retry on finished ones, cancel; refreshed while it runs.
import { h, clear, heading, status, time, duration, alertBox, confirm, fill, add } from '../dom.js';
import { api, blob } from '../api.js';
import { kvRows } from '../trigger.js';

const FINISHED = new Set(['success', 'failed', 'canceled', 'skipped']);
const ACTIVE = new Set(['created', 'pending', 'running', 'preparing', 'waiting_for_resource', 'scheduled']);

export function render(main, args, query, ctx) {
  const base = `/api/v4/projects/${encodeURIComponent(args.project)}`;
  const badge = h('span', {});
  add(main, heading(`Pipeline #${args.pipeline} `, badge));
  const info = h('div', {});
  const msg = h('div', {});
  const graph = h('div', { class: 'stages' });
  const panel = h('div', {});
  const logBox = h('div', {});
  const toolbar = h('div', { class: 'actions toolbar' });
  add(main, h('p', {}, h('a', { href: '#/pipelines' }, '← All pipelines')), info, toolbar, msg, panel, graph, logBox);
  let timer = 0;
  let pipe = null;
  let lastKey = '';

  function openForm(job, kind) {
    const rows = kvRows('var', 'add-var', 'Add variable', [], null);
    const err = h('div', {});
    const label = kind === 'play' ? `Run ${job.name}` : `Retry ${job.name}`;
    const form = h('form', { 'data-test': 'variables-form', class: 'card' },
      h('h2', {}, label),
      h('fieldset', {}, h('legend', {}, 'Variables'), h('p', { class: 'muted' },
        kind === 'play' ? 'These win over the trigger\'s and the project\'s variables.' : 'With none, the retried run reuses the variables of the last run.'), rows.el),
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', 'data-test': 'run-job' }, kind === 'play' ? 'Run job' : 'Retry job'),
        h('button', { type: 'button', onclick: () => { clear(panel); } }, 'Close')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear(err);
      const vars = rows.pairs().map(([key, value]) => ({ key, value }));
      const btn = form.querySelector('[data-test=run-job]');
      btn.disabled = true;
      try {
        await api(`${base}/jobs/${encodeURIComponent(job.id)}/${kind}`, { method: 'POST', body: vars.length ? { job_variables_attributes: vars } : {} });
        clear(panel);
        fill(msg, h('p', { class: 'note', role: 'status' }, `${kind === 'play' ? 'Started' : 'Retried'} ${job.name}.`));
        poll(true);
      } catch (ex) {
        add(err, alertBox(ex.message, 'form-error'));
        btn.disabled = false;
      }
    });
    fill(panel, form);
    form.querySelector('button').focus();
  }

  async function cancelJob(job) {
    if (!await confirm(`Cancel job ${job.name}?`, 'Cancel job')) return;
    act(`${base}/jobs/${encodeURIComponent(job.id)}/cancel`, `Canceled ${job.name}.`);
  }

  async function act(path, done) {
    clear(msg);
    try {
      await api(path, { method: 'POST' });
      add(msg, h('p', { class: 'note', role: 'status' }, done));
      poll(true);
    } catch (e) {
      add(msg, alertBox(e.message));
    }
  }

  async function showLog(job) {
    fill(logBox, h('h2', { id: 'h-joblog' }, `Log of ${job.name}`), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const text = await (await blob(`${base}/jobs/${encodeURIComponent(job.id)}/trace`)).text();
      logBox.lastChild.replaceWith(h('pre', { class: 'log', tabindex: '0', 'aria-labelledby': 'h-joblog', 'data-test': 'job-log' }, text));
      logBox.querySelector('pre').focus();
    } catch (e) {
      logBox.lastChild.replaceWith(alertBox(e.message));
    }
  }

  // Stages in pipeline order: GitLab's job list has no stage index, but jobs are made stage by
  // stage, so a stage comes where its first job id does (retried jobs, when the gateway lists
  // them with include_retried, keep the original ids). Only the latest run of a job is shown.
  function drawJobs(all) {
    const sorted = [...all].sort((a, b) => a.id - b.id);
    const latest = new Map();
    for (const j of sorted) latest.set(`${j.stage}\n${j.name}`, j);
    const jobs = [...latest.values()];
    const stages = new Map();
    for (const j of sorted) if (!stages.has(j.stage)) stages.set(j.stage, []);
    for (const j of jobs) stages.get(j.stage).push(j);
    const key = JSON.stringify(jobs.map((j) => [j.id, j.status]));
    if (key === lastKey) return;
    lastKey = key;
    if (!jobs.length) { fill(graph, h('p', { class: 'empty' }, 'No jobs in this pipeline yet.')); return; }
    fill(graph, ...[...stages].map(([stage, list], i) => h('section', { 'data-stage': stage, class: 'stage', 'aria-labelledby': `stage-${i}` },
      h('h2', { id: `stage-${i}` }, stage),
      h('ul', { class: 'plain' }, list.map((j) => h('li', { 'data-job': j.name, class: 'job-card' },
        h('div', {}, status(j.status), ' ', h('strong', {}, j.name)),
        h('small', { class: 'muted' }, j.started_at ? `${duration(j.started_at, j.finished_at)}` : j.when === 'manual' ? 'manual' : ''),
        h('div', { class: 'actions' },
          j.status === 'manual' ? h('button', { type: 'button', class: 'primary', 'data-test': 'play', 'aria-label': `Play ${j.name}`, onclick: () => openForm(j, 'play') }, 'Play') : null,
          FINISHED.has(j.status) ? h('button', { type: 'button', 'data-test': 'retry', 'aria-label': `Retry ${j.name}`, onclick: () => openForm(j, 'retry') }, 'Retry') : null,
          ACTIVE.has(j.status) ? h('button', { type: 'button', 'data-test': 'cancel-job', 'aria-label': `Cancel ${j.name}`, onclick: () => cancelJob(j) }, 'Cancel') : null,
          j.started_at ? h('button', { type: 'button', class: 'link', 'aria-label': `Log of ${j.name}`, onclick: () => showLog(j) }, 'Log') : null,
          j.started_at ? h('a', { href: `#/executions/${encodeURIComponent(j.id)}`, 'aria-label': `Execution of ${j.name}` }, 'Execution') : null)))))));
  }

  let gen = 0;
  async function poll(soon) {
    clearTimeout(timer);
    const mine = ++gen;
    try {
      const [p, jobs] = await Promise.all([
        api(`${base}/pipelines/${encodeURIComponent(args.pipeline)}`, { signal: ctx.signal }),
        api(`${base}/pipelines/${encodeURIComponent(args.pipeline)}/jobs?per_page=100&include_retried=true`, { signal: ctx.signal })]);
      if (mine !== gen) return; // a newer poll is under way
      pipe = p;
      fill(badge, status(p.status));
      document.title = `Pipeline #${p.id} ${p.status} · Sluice`;
      fill(info, h('p', {}, 'Ref ', h('code', {}, p.ref || ''), ` · ${p.source || ''} · created `, time(p.created_at),
        p.user?.username ? ` by ${p.user.username}` : '', p.finished_at ? [' · finished ', time(p.finished_at)] : ''));
      const current = jobs.filter((j) => !j.retried);
      const active = !FINISHED.has(p.status) && (ACTIVE.has(p.status) || current.some((j) => ACTIVE.has(j.status)));
      const failed = current.some((j) => j.status === 'failed' || j.status === 'canceled');
      const tkey = `${active} ${failed}`;
      if (toolbar.dataset.key !== tkey) {
        toolbar.dataset.key = tkey;
        fill(toolbar, 
          active ? h('button', { type: 'button', class: 'danger', 'data-test': 'cancel-pipeline', onclick: async () => {
          if (await confirm(`Cancel pipeline #${p.id}? Its running and waiting jobs are canceled.`, 'Cancel pipeline')) act(`${base}/pipelines/${encodeURIComponent(p.id)}/cancel`, 'Pipeline canceled.');
        } }, 'Cancel pipeline') : null,
        failed ? h('button', { type: 'button', 'data-test': 'retry-pipeline', onclick: () => act(`${base}/pipelines/${encodeURIComponent(p.id)}/retry`, 'Pipeline retried.') }, 'Retry failed jobs') : null);
      }
      drawJobs(jobs);
      if (ctx.signal.aborted) return;
      timer = setTimeout(poll, soon || active ? 2000 : 10000);
    } catch (e) {
      if (e.name === 'AbortError') return;
      fill(msg, alertBox(e.status === 404 ? 'No such pipeline, or you may not see it.' : e.message));
      if (pipe) timer = setTimeout(poll, 5000);
    }
  }
  poll();
  return () => clearTimeout(timer);
}
