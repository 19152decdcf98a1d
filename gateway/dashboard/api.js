// The API client: every request carries the token from sessionStorage as a Bearer header
// (never in a URL or a cookie). Errors become ApiError with the server's message as text.

const KEY = 'sluice.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra, given) {
  const h = new Headers(extra || {});
  const t = given || token.get();
  if (t) h.set('Authorization', `Bearer ${t}`);
  return h;
}

// The message of an error body: Sluice's {"code","message"}, GitLab's {"message": string or
// object} or {"error"}; else the status line.
async function errorOf(res, quiet) {
  let text = '';
  try { text = await res.text(); } catch { /* the body is optional */ }
  let msg = '';
  try {
    const j = JSON.parse(text);
    const m = j.message ?? j.error;
    msg = typeof m === 'string' ? m : m ? JSON.stringify(m) : '';
  } catch { msg = text.trim().slice(0, 500); }
  if (!msg) msg = `${res.status} ${res.statusText || 'error'}`;
  if (res.status === 401 && !quiet) window.dispatchEvent(new CustomEvent('sluice:unauthorized', { detail: msg }));
  return new ApiError(res.status, msg);
}

async function send(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: headers(opts.headers, opts.token), signal: opts.signal, cache: 'no-store' };
  if (opts.body !== undefined) {
    init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    if (!init.headers.has('Content-Type')) init.headers.set('Content-Type', 'application/json');
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The gateway cannot be reached (${e.message}).`);
  }
  if (!res.ok) throw await errorOf(res, !!opts.token || opts.keepSession);
  return res;
}

// JSON answer; rejects with ApiError. A 401 signs out, unless opts.token (the sign-in check) or
// opts.keepSession (a webhook dry run: its 401 is about the payload's signature, not the token).
export async function api(path, opts) {
  const res = await send(path, opts);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export async function blob(path, opts) {
  return (await send(path, opts)).blob();
}

// The last `bytes` of a log: {text, start, size} (start: the offset of text's first byte, size:
// the log's length then). An empty log is {text: '', start: 0, size: 0}.
export async function logTail(path, bytes, signal) {
  let res;
  try {
    res = await send(path, { signal, headers: { Range: `bytes=-${bytes}` } });
  } catch (e) {
    if (e.status === 416) return { text: '', start: 0, size: 0 };  // nothing written yet
    throw e;
  }
  const text = await res.text();
  const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('Content-Range') || '');
  if (res.status === 206 && range) return { text, start: Number(range[1]), size: Number(range[3]) };
  const size = new TextEncoder().encode(text).length;
  return { text, start: 0, size };
}

// Text of a chunked answer as it arrives: onText(string) per chunk. Resolves when it ends.
export async function streamText(path, onText, signal) {
  const res = await send(path, { signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onText(value);
  }
}

// Server-Sent Events over fetch (EventSource cannot send Authorization): onEvent({event, id, data})
// per event. Resolves when the server ends the stream.
export async function sse(path, onEvent, signal) {
  let buf = '';
  let ev = { event: 'message', id: '', data: [] };
  await streamText(path, (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (ev.data.length) onEvent({ event: ev.event, id: ev.id, data: ev.data.join('\n') });
        ev = { event: 'message', id: ev.id, data: [] };
      } else if (!line.startsWith(':')) {
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') ev.event = value;
        else if (field === 'id') ev.id = value;
        else if (field === 'data') ev.data.push(value);
      }
    }
  }, signal);
}

// Query string from an object, leaving out empty values.
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Jobs the client may trigger, with its name and admin flag; fetched once per sign-in.
let jobsPromise = null;
export function jobs() {
  if (!jobsPromise) jobsPromise = api('/v1/jobs').catch((e) => { jobsPromise = null; throw e; });
  return jobsPromise;
}
export function forgetJobs() { jobsPromise = null; }
