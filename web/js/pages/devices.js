// Devices (docs/dashboard.md "The pages"): the device table, filtered on the server with
// the target filter syntax (docs/filters.md), searched by a part of a MAC or a tag, sorted
// (also by version, in updraft's version order), in pages that follow the server's cursor;
// and one device's page (#/devices/<MAC>): its facts, what it runs, its timeline, and
// (operator, admin) pin/unpin, channel, tags, retry. GET /api/v1/devices[/<mac>],
// /api/v1/events?mac= and the device routes of docs/api.md.
import {ago, append, fmtBytes, fmtTime, h, message, table} from '../dom.js';

const PAGE_SIZES = [25, 50, 100, 200];
export const SORTS = [
  {value: '', label: 'Last seen, newest first'},
  {value: 'last_seen', label: 'Last seen, oldest first'},
  {value: 'mac', label: 'MAC'},
  {value: '-mac', label: 'MAC, descending'},
  {value: '-first_seen', label: 'First seen, newest first'},
  {value: 'first_seen', label: 'First seen, oldest first'},
  {value: '-version', label: 'Version, newest first'},
  {value: 'version', label: 'Version, oldest first'},
];
const SHOW = [
  {value: '', label: 'All devices'},
  {value: 'none', label: 'Real devices only'},
  {value: 'any', label: 'Simulated and test devices only'},
];
const MAC_RE = /^([0-9a-fA-F]{2}([:-]?)){5}[0-9a-fA-F]{2}$/;
// a part of a MAC: hex digits, one ':' or '-' between them; with a digit or a separator
// (a word of hex letters only, "beef", is searched as a tag)
const MAC_PART_RE = /^[0-9a-fA-F]+([:-][0-9a-fA-F]+)*$/;
const TAG_PART_RE = /^[a-z0-9._-]{1,24}$/;

// The search box's words as a filter term, searched on the server (docs/filters.md):
// a whole MAC (mac=), a part of one (mac~0a1b, mac~0A:1B), else a part of a tag (tag~).
export function searchTerm(q) {
  q = q.trim();
  if (!q) return {term: ''};
  if (MAC_RE.test(q)) return {term: 'mac=' + q};
  if (MAC_PART_RE.test(q) && q.length <= 17 && /[0-9:-]/.test(q)) return {term: 'mac~' + q};
  if (TAG_PART_RE.test(q.toLowerCase())) return {term: 'tag~' + q.toLowerCase()};
  return {error: `"${q}" is neither a part of a MAC (0A:1B, 0a1b) nor of a tag ` +
    '(letters, digits, ".", "_", "-")'};
}

function statusBadges(d) {
  const out = [];
  if (d.attention) out.push(h('span', {class: 'badge bad', title: d.attention}, 'needs retry'));
  else if (d.held) out.push(h('span', {class: 'badge warn'}, 'release held back'));
  if (d.pinned_release) out.push(h('span', {class: 'badge'}, 'pinned to ' + d.pinned_release));
  if (d.offered_release) out.push(h('span', {class: 'badge'}, 'offered ' + d.offered_release));
  if (d.tool) out.push(h('span', {class: 'badge', title: 'made by updraft ' + d.tool}, d.tool));
  return out;
}

function tagList(tags) {
  return (tags || []).map((t) => h('span', {class: 'tag'}, t));
}

async function renderList(root, params, ctx) {
  const q = params.query;
  const filter = q.get('filter') || '';
  const search = q.get('q') || '';
  const show = q.get('tool') || '';
  const sort = q.get('sort') || '';
  const size = PAGE_SIZES.includes(Number(q.get('size'))) ? Number(q.get('size')) : 50;
  const page = Math.max(1, Number(q.get('page')) || 1);
  // the pages after the first follow the server's cursor (after=: the page before's next),
  // which costs the same on page 1000 as on page 1; a link with only page= uses offset
  const after = q.get('after') || '';
  root.appendChild(h('h1', null, 'Devices'));

  const fIn = h('input', {id: 'dev-filter', name: 'filter', type: 'text', value: filter,
    spellcheck: 'false', autocomplete: 'off',
    placeholder: 'platform=esp8266 tag=lab version<2.0.0 seen<24h', 'aria-describedby': 'dev-filter-help'});
  const sIn = h('input', {id: 'dev-search', name: 'q', type: 'search', value: search,
    spellcheck: 'false', autocomplete: 'off', placeholder: 'part of a MAC or a tag'});
  const showSel = h('select', {id: 'dev-show', name: 'tool'},
    SHOW.map((o) => h('option', {value: o.value, selected: o.value === show}, o.label)));
  const sortSel = h('select', {id: 'dev-sort', name: 'sort'},
    SORTS.map((o) => h('option', {value: o.value, selected: o.value === sort}, o.label)));
  const sizeSel = h('select', {id: 'dev-size', name: 'size'},
    PAGE_SIZES.map((n) => h('option', {value: String(n), selected: n === size}, String(n))));
  const formErr = h('p', {class: 'msg error', role: 'alert', hidden: true});
  const form = h('form', {role: 'search', class: 'toolbar', 'aria-label': 'Select devices'}, [
    h('div', {class: 'grow'}, h('label', {for: 'dev-filter'}, 'Filter'), fIn),
    h('div', null, h('label', {for: 'dev-search'}, 'Search'), sIn),
    h('div', null, h('label', {for: 'dev-show'}, 'Show'), showSel),
    h('div', null, h('label', {for: 'dev-sort'}, 'Sort'), sortSel),
    h('div', null, h('label', {for: 'dev-size'}, 'Per page'), sizeSel),
    h('div', null, h('button', {type: 'submit', class: 'primary'}, 'Apply')),
  ]);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const s = searchTerm(sIn.value);
    if (s.error) {
      formErr.textContent = s.error;
      formErr.hidden = false;
      sIn.focus();
      return;
    }
    ctx.navigate('#/devices' + ctx.qs({filter: fIn.value.trim(), q: sIn.value.trim(),
      tool: showSel.value, sort: sortSel.value, size: sizeSel.value === '50' ? '' : sizeSel.value}));
  });
  root.appendChild(form);
  root.appendChild(h('p', {class: 'help', id: 'dev-filter-help'},
    'Terms separated by spaces, all must hold: platform, chip, channel, tag, version, seen, mac, ' +
    'pinned, attention, tool (docs/filters.md). Search: a part of a MAC (0A:1B, 0a1b) or of a tag.'));
  root.appendChild(formErr);

  const s = searchTerm(search);
  if (s.error) {
    formErr.textContent = s.error;
    formErr.hidden = false;
    return;
  }
  const full = [filter, s.term].filter(Boolean).join(' ');
  const results = h('div', {id: 'dev-results', 'aria-live': 'polite'});
  root.appendChild(results);
  let res;
  try {
    res = await ctx.api('GET', '/devices' + ctx.qs(after ? {filter: full, tool: show, sort,
      limit: size, after} : {filter: full, tool: show, sort, limit: size, offset: (page - 1) * size}));
  } catch (e) {
    if (!ctx.current()) return;
    formErr.textContent = e.message;
    formErr.hidden = false;
    return;
  }
  if (!ctx.current()) return;
  const first = res.total ? (page - 1) * size + 1 : 0;
  const last = (page - 1) * size + res.devices.length;
  append(results, [h('p', {class: 'muted', id: 'dev-count'},
    res.total === 1 ? '1 device' : `${res.total.toLocaleString()} devices`,
    res.filter ? [' match ', h('code', null, res.filter)] : '',
    res.total > res.devices.length ? `; ${first.toLocaleString()}–${last.toLocaleString()} shown` : '',
    res.tool_devices_hidden ? `; ${res.tool_devices_hidden} devices of updraft's tools left out` : '',
    '.')]);
  if (!res.devices.length) {
    results.appendChild(message('note', full || show ? 'No device matches.' :
      'No device has checked in yet: point devices at ' + location.origin + '/update.'));
  } else {
    results.appendChild(table([
      {title: 'MAC', cell: (d) => h('a', {href: '#/devices/' + d.mac, class: 'mono'}, d.mac)},
      {title: 'Platform', cell: (d) => d.platform || '—'},
      {title: 'Version', cell: (d) => d.version || '—'},
      {title: 'Channel', cell: (d) => d.effective_channel},
      {title: 'Tags', cell: (d) => tagList(d.tags)},
      {title: 'Last seen', cell: (d) => ago(d.last_seen)},
      {title: 'Status', cell: (d) => statusBadges(d)},
    ], res.devices, {class: 'data devices'}));
  }
  const pages = Math.max(1, Math.ceil(res.total / size));
  const goPage = (p, cursor) => {
    const n = new URLSearchParams(q);
    n.set('page', String(p));
    if (cursor) n.set('after', cursor); else n.delete('after');
    if (p <= 1) n.delete('page');
    ctx.navigate('#/devices?' + n.toString());
  };
  results.appendChild(h('nav', {class: 'pager', 'aria-label': 'Pages of devices'}, [
    h('button', {type: 'button', disabled: page <= 1, onclick: () => goPage(page - 1)}, '← Previous'),
    h('span', null, `Page ${page} of ${pages}`),
    h('button', {type: 'button', disabled: !res.next, onclick: () => goPage(page + 1, res.next)}, 'Next →'),
  ]));
}

// ---- one device ------------------------------------------------------------------------

function fact(dt, dd) {
  return [h('dt', null, dt), h('dd', null, dd === null || dd === undefined || dd === '' ? '—' : dd)];
}

function releaseLink(id) {
  return id ? h('a', {href: '#/releases/' + id}, 'release ' + id) : null;
}

// An action form's result line: errors in the server's words.
function resultLine() {
  return h('p', {class: 'msg', role: 'status', hidden: true});
}

function show(line, kind, text) {
  line.className = 'msg ' + kind;
  line.textContent = text;
  line.hidden = false;
}

async function renderDevice(root, mac, ctx) {
  const d = await ctx.api('GET', '/devices/' + encodeURIComponent(mac) + '?limit=1');
  if (!ctx.current()) return;
  ctx.setTitle(d.mac);
  root.appendChild(h('p', null, h('a', {href: '#/devices'}, '← Devices')));
  root.appendChild(h('h1', {class: 'mono'}, d.mac));
  root.appendChild(h('p', null, statusBadges(d)));
  if (d.attention) root.appendChild(message('error', d.attention));
  const running = d.version ? [d.version, d.running_release ? [' (', releaseLink(d.running_release), ')'] : ''] : null;
  root.appendChild(h('div', {class: 'grid2'}, [
    h('section', {class: 'panel', 'aria-labelledby': 'h-runs'}, [
      h('h2', {id: 'h-runs'}, 'What it runs'),
      h('dl', {class: 'facts'}, [
        fact('Version', running),
        fact('Platform', d.platform),
        fact('Channel', [d.effective_channel, d.channel ? ' (assigned)' : d.url_channel ?
          ' (from its update URL)' : ' (the default)']),
        fact('Pinned to', releaseLink(d.pinned_release)),
        fact('Offered', d.offered_release ? [releaseLink(d.offered_release),
          `, downloaded ${d.offer_downloads} time${d.offer_downloads === 1 ? '' : 's'}`] : null),
        fact('Held back', d.held ? [releaseLink(d.held.release), ` failed ${d.held.failures} ` +
          `time${d.held.failures === 1 ? '' : 's'}`, d.held.until ? ['; offered again ',
          ago(d.held.until)] : '; no longer offered'] : null),
        fact('Last decision', d.last_result),
        fact('Sketch', d.sketch_size === null ? null : [fmtBytes(d.sketch_size), d.sketch_md5 ?
          [' · MD5 ', h('code', null, d.sketch_md5)] : '']),
      ]),
    ]),
    h('section', {class: 'panel', 'aria-labelledby': 'h-facts'}, [
      h('h2', {id: 'h-facts'}, 'Facts'),
      h('dl', {class: 'facts'}, [
        fact('Tags', d.tags && d.tags.length ? tagList(d.tags) : null),
        fact('First seen', fmtTime(d.first_seen)),
        fact('Last seen', d.last_seen ? [fmtTime(d.last_seen), ' (', ago(d.last_seen), ')'] : null),
        fact('Address', d.ip),
        fact('Chip ID', d.chip_id),
        fact('Flash', d.chip_size === null ? null : fmtBytes(d.chip_size)),
        fact('Free space', d.free_space === null ? null : fmtBytes(d.free_space)),
        fact('SDK', d.sdk),
        fact('Mode', d.mode),
        fact('AP MAC', d.ap_mac),
        fact('Client', d.user_agent),
        fact('Made by', d.tool ? 'updraft ' + d.tool : null),
      ]),
    ]),
  ]));
  if (ctx.canWrite) root.appendChild(await actions(d, ctx));
  else root.appendChild(message('note', `Your token's role (${ctx.session.role}) shows devices ` +
    'but does not change them: pinning, channels, tags and retries need an operator or admin token.'));
  root.appendChild(timeline(d.mac, ctx));
}

async function actions(d, ctx) {
  const reload = () => ctx.navigate('#/devices/' + d.mac, true);
  const box = h('section', {class: 'panel', 'aria-labelledby': 'h-act'}, h('h2', {id: 'h-act'}, 'Change'));
  const [rels, chans] = await Promise.all([ctx.api('GET', '/releases'), ctx.api('GET', '/channels')]);
  // pin / unpin
  const pinLine = resultLine();
  const fits = rels.releases.filter((r) => !r.retired && (!d.platform || r.platform === d.platform ||
    r.platform === 'any'));
  const relSel = h('select', {id: 'pin-release'}, fits.map((r) =>
    h('option', {value: String(r.id), selected: r.id === d.pinned_release},
      `${r.version} (release ${r.id}${r.channel ? ', ' + r.channel : ''})`)));
  const pin = async (force) => {
    try {
      await ctx.api('POST', `/devices/${d.mac}/pin`, {release: Number(relSel.value), force: !!force});
      reload();
    } catch (e) {
      show(pinLine, 'error', e.message);
      if (e.kind === 'wont-fit' && !force) {
        pinLine.appendChild(h('button', {type: 'button', class: 'danger', onclick: () => pin(true)},
          ' Pin anyway'));
      }
    }
  };
  const pinForm = h('form', {'aria-label': 'Pin'}, [
    h('div', null, h('label', {for: 'pin-release'}, 'Pin to a release'), relSel),
    h('button', {type: 'submit', disabled: !fits.length}, 'Pin'),
    d.pinned_release ? h('button', {type: 'button', onclick: async () => {
      try { await ctx.api('DELETE', `/devices/${d.mac}/pin`); reload(); } catch (e) { show(pinLine, 'error', e.message); }
    }}, 'Unpin') : null,
  ]);
  pinForm.addEventListener('submit', (ev) => { ev.preventDefault(); pin(false); });
  // channel
  const chLine = resultLine();
  const names = [...new Set(chans.channels.map((c) => c.name))].sort();
  const chIn = h('input', {id: 'dev-channel', list: 'dev-channels', value: d.channel || '',
    placeholder: d.effective_channel, autocomplete: 'off', spellcheck: 'false'});
  const chForm = h('form', {'aria-label': 'Channel'}, [
    h('div', null, h('label', {for: 'dev-channel'}, 'Assign a channel'), chIn,
      h('datalist', {id: 'dev-channels'}, names.map((n) => h('option', {value: n})))),
    h('button', {type: 'submit'}, 'Assign'),
    d.channel ? h('button', {type: 'button', onclick: async () => {
      try { await ctx.api('DELETE', `/devices/${d.mac}/channel`); reload(); } catch (e) { show(chLine, 'error', e.message); }
    }}, 'Clear') : null,
  ]);
  chForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await ctx.api('PUT', `/devices/${d.mac}/channel`, {channel: chIn.value.trim() || null});
      reload();
    } catch (e) { show(chLine, 'error', e.message); }
  });
  // tags
  const tagLine = resultLine();
  const tagIn = h('input', {id: 'dev-tag', autocomplete: 'off', spellcheck: 'false', placeholder: 'lab'});
  const tagForm = h('form', {'aria-label': 'Tags'}, [
    h('div', null, h('label', {for: 'dev-tag'}, 'Add a tag'), tagIn),
    h('button', {type: 'submit'}, 'Add'),
  ]);
  const tagEdit = async (body) => {
    try { await ctx.api('POST', `/devices/${d.mac}/tags`, body); reload(); } catch (e) { show(tagLine, 'error', e.message); }
  };
  tagForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (tagIn.value.trim()) tagEdit({add: [tagIn.value.trim()]});
  });
  const removeTags = h('div', {class: 'actions'}, (d.tags || []).map((t) =>
    h('button', {type: 'button', class: 'quiet', 'aria-label': 'Remove the tag ' + t,
      onclick: () => tagEdit({remove: [t]})}, t, ' ✕')));
  // retry
  const retryLine = resultLine();
  const retry = d.held ? h('div', null, h('button', {type: 'button', onclick: async () => {
    try { await ctx.api('POST', `/devices/${d.mac}/retry`); reload(); } catch (e) { show(retryLine, 'error', e.message); }
  }}, `Retry release ${d.held.release}`), h('p', {class: 'help'},
    'Lifts the hold: its next check is offered what its pin or channel says.'), retryLine) : null;
  append(box, [h('div', {class: 'actions'}, pinForm), pinLine,
    h('div', {class: 'actions'}, chForm), chLine,
    h('div', {class: 'actions'}, tagForm), removeTags, tagLine, retry]);
  return box;
}

// The device's events, newest first, 50 at a time.
function timeline(mac, ctx) {
  const list = h('ol', {class: 'timeline', id: 'timeline'});
  const more = h('button', {type: 'button', hidden: true}, 'Older events');
  const box = h('section', {class: 'panel', 'aria-labelledby': 'h-tl'},
    h('h2', {id: 'h-tl'}, 'Timeline'), list, more);
  let before = 0;
  const load = async () => {
    more.disabled = true;
    try {
      const r = await ctx.api('GET', '/events' + ctx.qs({mac, limit: 50, before: before || null}));
      if (!ctx.current()) return;
      for (const e of r.events) {
        list.appendChild(h('li', null, [
          h('span', {class: 'kind'}, e.kind), ' ', ago(e.at),
          e.release ? [' · ', releaseLink(e.release)] : '',
          e.actor ? [' · by ', e.actor] : '',
          h('div', null, e.detail),
        ]));
        before = e.id;
      }
      if (!list.firstChild) list.appendChild(h('li', {class: 'muted'}, 'No events.'));
      more.hidden = r.events.length < 50;
    } catch (e) {
      box.appendChild(message('error', e.message));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  load();
  return box;
}

export async function render(root, params, ctx) {
  if (params.id) return renderDevice(root, params.id, ctx);
  return renderList(root, params, ctx);
}

