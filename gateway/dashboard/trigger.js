// The trigger form of the Jobs page and of "run again": env overrides as key/value rows, refs
// for postsubmits and presubmits. The gateway validates; its message is shown in place.
import { h, clear, alertBox, add } from './dom.js';
import { api } from './api.js';

const TYPE_NUMBER = { PERIODIC: '1', POSTSUBMIT: '2', PRESUBMIT: '3' };
let formSeq = 0;

// Key/value rows with an "add" button; names are the contract's (env-key/env-value, var-key/var-value).
export function kvRows(prefix, addTest, addLabel, initial, keyList) {
  const n = ++formSeq;
  const body = h('div', { class: 'kv-rows' });
  const addRow = (k = '', v = '', focus = false) => {
    const i = body.children.length + 1;
    const key = h('input', { name: `${prefix}-key`, id: `${prefix}-key-${n}-${i}`, value: k, autocomplete: 'off', spellcheck: 'false', list: keyList || null });
    const val = h('input', { name: `${prefix}-value`, id: `${prefix}-value-${n}-${i}`, value: v, autocomplete: 'off', spellcheck: 'false' });
    const row = h('div', { class: 'kv' },
      h('label', { for: key.id }, 'Name'), key,
      h('label', { for: val.id }, 'Value'), val,
      h('button', { type: 'button', class: 'link', 'aria-label': `Remove row ${i}`, onclick: () => { row.remove(); addBtn.focus(); } }, 'Remove'));
    add(body, row);
    if (focus) key.focus();
  };
  const addBtn = h('button', { type: 'button', 'data-test': addTest, onclick: () => addRow('', '', true) }, addLabel);
  for (const [k, v] of initial) addRow(k, v);
  const pairs = () => [...body.querySelectorAll('.kv')].map((r) => [r.querySelector(`[name=${prefix}-key]`).value.trim(), r.querySelector(`[name=${prefix}-value]`).value]).filter(([k]) => k);
  return { el: h('div', {}, body, addBtn), pairs };
}

function input(name, label, value, hint) {
  const id = `${name}-${formSeq}`;
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('input', { id, name, value: value || '', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': hint ? `${id}-hint` : null }),
    hint ? h('small', { id: `${id}-hint`, class: 'muted' }, hint) : null);
}

// job: an entry of GET /v1/jobs (or {name, job_type} when unknown); prefill: {envs, refs}.
export function triggerForm(job, prefill = {}, ctx) {
  const type = job.job_type || 'PERIODIC';
  const listId = `allowed-${++formSeq}`;
  const allowed = job.allow_env_override || [];
  const defaults = job.env || {};
  const rows = kvRows('env', 'add-env', 'Add variable', Object.entries(prefill.envs || {}), allowed.length ? listId : null);
  const err = h('div', {});
  const refs = prefill.refs || {};
  const pull = (refs.pulls && refs.pulls[0]) || {};
  const [org, repo] = (job.repo || '').split('/');
  const withRefs = type === 'POSTSUBMIT' || type === 'PRESUBMIT';
  const form = h('form', { 'data-test': 'trigger-form', class: 'card', novalidate: true },
    h('h2', {}, `Run ${job.name}`),
    h('fieldset', {}, h('legend', {}, 'Environment overrides'),
      allowed.length
        ? h('p', { class: 'muted' }, 'Allowed: ', allowed.join(', '), '. Others are refused.')
        : h('p', { class: 'muted' }, 'This job allows no overrides.'),
      Object.keys(defaults).length ? h('ul', { class: 'defaults' }, Object.entries(defaults).map(([k, v]) => h('li', {}, h('code', {}, k), ' defaults to ', h('code', {}, v === '' ? '(empty)' : v)))) : null,
      allowed.length ? h('datalist', { id: listId }, allowed.filter((a) => !a.endsWith('*')).map((a) => h('option', { value: a }))) : null,
      rows.el),
    withRefs ? h('fieldset', {}, h('legend', {}, 'Refs'),
      h('div', { class: 'grid' },
        input('org', 'Organization', refs.org || org),
        input('repo', 'Repository', refs.repo || repo),
        input('base_ref', 'Base ref', refs.base_ref, 'branch or tag, e.g. main'),
        input('base_sha', 'Base SHA', refs.base_sha, '40 hex digits'),
        input('pull_number', type === 'PRESUBMIT' ? 'Pull request number' : 'Pull request number (optional)', pull.number ? String(pull.number) : ''),
        input('pull_sha', 'Pull request head SHA', pull.sha),
        input('pull_author', 'Pull request author', pull.author))) : null,
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'trigger' }, 'Run')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    const body = { job_name: job.name, job_execution_type: TYPE_NUMBER[type] || '1' };
    const envs = Object.fromEntries(rows.pairs());
    if (Object.keys(envs).length) body.pod_spec_options = { envs };
    if (withRefs) {
      const v = (n) => form.elements[n].value.trim();
      const r = {};
      for (const n of ['org', 'repo', 'base_ref', 'base_sha']) if (v(n)) r[n] = v(n);
      for (const k of ['repo_link', 'base_link', 'clone_uri']) if (refs[k]) r[k] = refs[k];
      if (v('pull_number') || v('pull_sha') || v('pull_author')) {
        r.pulls = [{ number: Number(v('pull_number')) || 0, sha: v('pull_sha'), author: v('pull_author') }];
      }
      body.refs = r;
    }
    const button = form.querySelector('[data-test=trigger]');
    button.disabled = true;
    try {
      const ex = await api('/v1/executions', { method: 'POST', body, headers: { 'Idempotency-Key': crypto.randomUUID ? crypto.randomUUID() : String(Math.random()) } });
      ctx.go(`#/executions/${encodeURIComponent(ex.id)}`);
    } catch (ex) {
      add(err, alertBox(ex.message, 'form-error'));
      button.disabled = false;
    }
  });
  return form;
}
