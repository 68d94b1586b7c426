// Element builders: every value goes into the page as text (textContent, attributes set
// one by one), never as HTML, so whatever a device or a token name holds is shown, not
// run. No innerHTML anywhere in the dashboard.

// h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, [more]) -> element.
// attrs: 'class', 'text', on<event> (a function), 'dataset' (an object), booleans
// (true sets the attribute, false/null leaves it out), anything else by setAttribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new Error('h: ' + k + ' must be a function');
      el.addEventListener(k.slice(2), v);
    } else if (k === 'style' || k === 'innerHTML' || k === 'outerHTML') {
      throw new Error('h: ' + k + ' is not allowed (CSP, escaping): use a class');
    } else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// Append children: strings and numbers as text nodes, nodes as they are, arrays
// flattened, null/undefined/false skipped.
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A time from the API (ISO 8601 UTC or null) as the reader's local time.
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

// "3 min ago", "2 h ago", "5 d ago" (and the exact time as the element's title).
export function ago(iso) {
  if (!iso) return h('span', {class: 'muted'}, 'never');
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  let t;
  if (s < 0) t = 'just now';
  else if (s < 60) t = Math.floor(s) + ' s ago';
  else if (s < 3600) t = Math.floor(s / 60) + ' min ago';
  else if (s < 86400) t = Math.floor(s / 3600) + ' h ago';
  else t = Math.floor(s / 86400) + ' d ago';
  return h('time', {datetime: iso, title: fmtTime(iso)}, t);
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KiB';
  return (n / 1048576).toFixed(1) + ' MiB';
}

// A table: columns [{title, cell: row => node|string, class?, sort?: key}], rows.
// opts.sort {key, dir} and opts.onSort(key) make the sortable headers buttons.
export function table(columns, rows, opts = {}) {
  const head = h('tr', null, columns.map((c) => {
    if (!c.sort || !opts.onSort) return h('th', {scope: 'col', class: c.class}, c.title);
    const on = opts.sort && opts.sort.key === c.sort;
    const dir = on ? opts.sort.dir : null;
    return h('th', {scope: 'col', class: c.class,
      'aria-sort': on ? (dir === 'desc' ? 'descending' : 'ascending') : 'none'},
    h('button', {type: 'button', class: 'sort', onclick: () => opts.onSort(c.sort)},
      c.title, on ? (dir === 'desc' ? ' ▼' : ' ▲') : ''));
  }));
  const body = h('tbody', null, rows.map((r) =>
    h('tr', null, columns.map((c) => h('td', {class: c.class, 'data-label': c.title}, c.cell(r))))));
  return h('div', {class: 'table-wrap'}, h('table', {class: opts.class || 'data'},
    h('thead', null, head), body));
}

// A message box: kind 'error' | 'note' | 'ok'.
export function message(kind, ...text) {
  return h('p', {class: 'msg ' + kind, role: kind === 'error' ? 'alert' : 'status'}, ...text);
}
