// The dashboard shell: sign-in, header and navigation, and the hash router.
import { h, clear, heading, alertBox, fill, add } from './dom.js';
import { api, token, jobs, forgetJobs } from './api.js';

const PAGES = {
  executions: () => import('./pages/executions.js'),
  execution: () => import('./pages/execution.js'),
  jobs: () => import('./pages/jobs.js'),
  pipelines: () => import('./pages/pipelines.js'),
  pipeline: () => import('./pages/pipeline.js'),
  deliveries: () => import('./pages/deliveries.js'),
  delivery: () => import('./pages/delivery.js'),
  health: () => import('./pages/health.js'),
};

const NAV = [['executions', 'Executions'], ['jobs', 'Jobs'], ['pipelines', 'Pipelines'], ['deliveries', 'Deliveries'], ['health', 'Health']];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const me = { client: '', admin: false };
let leave = null; // the current page's clean-up (closes its streams and timers)
let signInNote = '';

// "#/executions/abc?status=X" -> {page, args, query}
function parse(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const [a, b, c, d] = path;
  if (!a || a === 'executions') return b ? { page: 'execution', args: { id: b }, query, nav: 'executions' } : { page: 'executions', args: {}, query, nav: 'executions' };
  if (a === 'jobs') return { page: 'jobs', args: { job: b || '' }, query, nav: 'jobs' };
  if (a === 'pipelines') return { page: 'pipelines', args: {}, query, nav: 'pipelines' };
  if (a === 'projects' && b && c === 'pipelines' && d) return { page: 'pipeline', args: { project: b, pipeline: d }, query, nav: 'pipelines' };
  if (a === 'deliveries') return b && c ? { page: 'delivery', args: { host: b, id: path.slice(2).join('/') }, query, nav: 'deliveries' } : { page: 'deliveries', args: {}, query, nav: 'deliveries' };
  if (a === 'health') return { page: 'health', args: {}, query, nav: 'health' };
  return { page: null, args: {}, query, nav: '' };
}

let currentNav = '';
function renderHeader(current) {
  currentNav = current;
  clear(nav);
  if (!token.get()) { clear(who); return; }
  add(nav, h('ul', {}, NAV.map(([id, label]) =>
    h('li', {}, h('a', { href: `#/${id}`, 'aria-current': id === current ? 'page' : null }, label)))));
  fill(who, 
    me.client ? h('span', { class: 'client', title: me.admin ? 'admin client' : 'client' }, me.client, me.admin ? ' (admin)' : '') : '',
    h('button', { type: 'button', class: 'link', 'data-test': 'sign-out', onclick: signOut }, 'Sign out'));
}

async function loadMe() {
  try {
    const j = await jobs();
    me.client = j.client || '';
    me.admin = !!j.admin;
  } catch { /* older gateways have no /v1/jobs: the name is just not shown */ }
}

function signOut() {
  token.clear();
  forgetJobs();
  me.client = '';
  me.admin = false;
  route();
}

function signIn() {
  document.title = 'Sign in · Sluice';
  const err = h('div', {});
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h('form', { 'data-test': 'sign-in', class: 'card narrow' },
    h('h1', { tabindex: '-1' }, 'Sign in to Sluice'),
    h('p', {}, 'Use your client token (the one you send as "Authorization: Bearer"). It is kept in this browser tab only, until you sign out or close it.'),
    h('label', { for: 'token' }, 'Token'), input, err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  if (signInNote) add(err, alertBox(signInNote, 'form-error'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    const t = input.value.trim();
    if (!t) return;
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await api('/v1/executions?page_size=1', { token: t });
      token.set(t);
      signInNote = '';
      forgetJobs();
      await loadMe();
      route();
    } catch (ex) {
      add(err, alertBox(ex.message, 'form-error'));
      button.disabled = false;
      input.focus();
    }
  });
  add(main, form);
  input.focus();
}

let seq = 0;
async function route() {
  const mine = ++seq;
  if (leave) { try { leave(); } catch { /* already closed */ } leave = null; }
  clear(main);
  const r = parse(location.hash);
  if (!token.get()) { renderHeader(''); signIn(); return; }
  renderHeader(r.nav);
  if (!r.page) {
    add(main, heading('Not found'), alertBox('There is no such page. Use the links above.'));
    main.querySelector('h1').focus();
    return;
  }
  let mod;
  try {
    mod = await PAGES[r.page]();
  } catch (e) {
    add(main, heading('Error'), alertBox(`This page could not be loaded: ${e.message}`));
    return;
  }
  if (mine !== seq) return;
  const ctrl = new AbortController();
  const extra = mod.render(main, r.args, r.query, { signal: ctrl.signal, go });
  leave = () => { ctrl.abort(); if (typeof extra === 'function') extra(); };
  const h1 = main.querySelector('h1');
  if (h1) h1.focus({ preventScroll: false });
}

// Navigate to a hash route (from code: after a trigger, a filter change).
export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

window.addEventListener('hashchange', route);

// A browser opens at most six connections to the gateway (HTTP/1.1), and every live list, event
// stream and followed log holds one: a tab nobody has looked at for a minute closes its streams,
// so that a few tabs left open do not stall the one in use, and draws its page afresh when it is
// shown again. A tab with a form being filled in keeps its page.
const HIDDEN_PAUSE_MS = 60 * 1000;
let hiddenTimer = 0;
let paused = false;
const FORMS = 'form[data-test=trigger-form], form[data-test=variables-form], form[data-test=dry-run]';
const editing = () => [...main.querySelectorAll(FORMS)].some((f) =>
  [...f.elements].some((e) => (e.tagName === 'SELECT'
    ? [...e.options].some((o) => o.selected !== o.defaultSelected)
    : e.value !== undefined && e.type !== 'submit' && e.type !== 'button' && e.value !== e.defaultValue)));
document.addEventListener('visibilitychange', () => {
  clearTimeout(hiddenTimer);
  if (document.hidden) {
    hiddenTimer = setTimeout(() => {
      if (!leave || editing()) return;
      leave();
      leave = null;
      paused = true;
    }, HIDDEN_PAUSE_MS);
  } else if (paused) {
    paused = false;
    route();
  }
});
window.addEventListener('sluice:unauthorized', (e) => {
  if (!token.get()) return;
  token.clear();
  forgetJobs();
  signInNote = `Signed out: ${e.detail}`;
  route();
});
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  const target = main.querySelector('h1') || main;
  target.focus();
});

// The page does not wait for the client's name: the header shows it when it comes.
route();
if (token.get()) loadMe().then(() => renderHeader(currentNav));
