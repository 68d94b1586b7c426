// The dashboard's one way to the server: the same /api/v1 the CLI uses (docs/api.md).
// api(method, path, body): JSON in and out; writes carry the session's CSRF value; a 401
// sends the reader to the sign-in view; any other error is thrown as an ApiError with
// the server's own message (shown as it is: it says what was wrong and what to do).

let csrf = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || ('the server answered ' + status));
    this.status = status;
    this.kind = body && body.kind;
    this.body = body;
  }
}

export function setCsrf(value) { csrf = value || null; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// body: an object (sent as JSON), or a File/Blob/FormData sent as it is (uploads).
export async function api(method, path, body) {
  const headers = {Accept: 'application/json'};
  const opts = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined && body !== null) {
    if (body instanceof Blob || body instanceof FormData) opts.body = body;
    else {
      headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch('/api/v1' + path, opts);
  } catch (e) {
    throw new ApiError(0, {error: 'the server cannot be reached (' + e.message +
      '): is updraft serve running?', kind: 'network'});
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = {error: text.trim()}; }
  }
  if (res.status === 401 && path !== '/session') {
    onUnauthorized(data && data.error);
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Query string from an object, leaving out empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}
