// Small DOM helpers. Every value is put in the page as text (text nodes and attributes),
// never parsed as HTML: job logs, payloads and names come from outside.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('a', {href: '#/x', class: 'y'}, 'text', child, [more])
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const TERMINAL = new Set(['SUCCESS', 'FAILURE', 'ABORTED', 'ERROR']);
export const isTerminal = (s) => TERMINAL.has(s);

// <span class="status" data-status="SUCCESS">Success</span>; GitLab's statuses stay as they come.
export function status(s) {
  const v = String(s || 'unknown');
  const text = /^[A-Z_]+$/.test(v) ? v.charAt(0) + v.slice(1).toLowerCase().replace(/_/g, ' ') : v.replace(/_/g, ' ');
  return h('span', { class: 'status', 'data-status': v }, text);
}

const pad = (n) => String(n).padStart(2, '0');

// <time datetime="UTC" title="exact UTC">local time</time>
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(iso));
  const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h('time', { datetime: d.toISOString(), title: d.toISOString().replace('T', ' ').replace('Z', ' UTC') }, local);
}

export function duration(from, to) {
  if (!from) return '—';
  const ms = (to ? new Date(to) : new Date()) - new Date(from);
  if (!(ms >= 0)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return ms < 1000 ? `${ms} ms` : `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// An error shown in place, announced to screen readers.
export function alertBox(message, test) {
  return h('p', { class: 'error', role: 'alert', 'data-test': test }, String(message));
}

export const empty = (text) => h('p', { class: 'empty' }, text);

// Page heading: focused after navigation (tabindex -1 so it takes focus without being a tab stop).
export function heading(text, ...rest) {
  document.title = `${text} · Sluice`;
  return h('h1', { tabindex: '-1' }, text, ...rest);
}

// Key/value list: <dl> with one <div> per pair (valid HTML, easier to lay out).
export function fields(pairs, attrs = {}) {
  return h('dl', { class: 'fields', ...attrs },
    pairs.filter(Boolean).map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}

// Ask before doing something that cannot be undone. Resolves true on confirm.
export function confirm(question, confirmLabel) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const dlg = h('dialog', { 'data-test': 'confirm-dialog', 'aria-labelledby': 'confirm-q' },
      h('form', { method: 'dialog' },
        h('p', { id: 'confirm-q' }, question),
        h('div', { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel', 'data-test': 'cancel' }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: 'danger', 'data-test': 'confirm' }, confirmLabel))));
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (back && back.focus) back.focus();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('[data-test=cancel]').focus();
  });
}

// Append children (strings, nodes, nested arrays; null and false are skipped).
export const add = (el, ...children) => append(el, children);
// Replace an element's children.
export const fill = (el, ...children) => append(clear(el), children);
