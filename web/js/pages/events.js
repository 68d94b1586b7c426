// Events: the live tail of what devices and admins did, newest on top (GET
// /api/v1/events, then ?after=<last id> every few seconds; docs/api.md "Events").
import {h, message, fmtTime} from '../dom.js';

const POLL_MS = 2000;
const KEEP = 500; // rows kept on the page
const KINDS = ['check', 'offered', 'declined', 'download-started', 'download-completed',
  'download-aborted', 'updated', 'failed', 'held', 'not-held', 'retry', 'report-installed',
  'report-failed', 'report-rolled-back', 'device-deleted', 'release-added',
  'release-retired', 'release-unretired', 'release-deleted', 'channel-set', 'channel-chip',
  'channel-signing', 'pinned', 'unpinned', 'channel-assigned', 'rollout-created',
  'rollout-wave', 'rollout-paused', 'rollout-resumed', 'rollout-aborted',
  'rollout-completed', 'audit'];

function row(e) {
  return h('tr', {dataset: {id: String(e.id), kind: e.kind}},
    h('td', {'data-label': 'Time'}, h('time', {datetime: e.at}, fmtTime(e.at))),
    h('td', {'data-label': 'Device'}, e.mac ? h('a', {href: '#/devices/' + e.mac}, e.mac) : '—'),
    h('td', {'data-label': 'Kind'}, h('code', null, e.kind)),
    h('td', {'data-label': 'Release'},
      e.release ? h('a', {href: '#/releases/' + e.release}, String(e.release)) : '—'),
    h('td', {'data-label': 'Detail'}, e.actor ? [h('strong', null, e.actor),
      e.source ? ' from ' + e.source : '', ': '] : '', e.detail));
}

export async function render(root, params, ctx) {
  ctx.setTitle('Events');
  const mac = params.query.get('mac') || '';
  const kind = params.query.get('kind') || '';
  root.appendChild(h('h1', null, 'Events'));
  const macIn = h('input', {id: 'events-mac', name: 'mac', value: mac, size: 17,
    placeholder: '5C:CF:7F:0A:1B:2C', autocomplete: 'off'});
  const kindIn = h('select', {id: 'events-kind', name: 'kind'},
    h('option', {value: ''}, 'any kind'),
    KINDS.map((k) => h('option', {value: k, selected: k === kind}, k)));
  const form = h('form', {class: 'toolbar', onsubmit: (ev) => {
    ev.preventDefault();
    ctx.navigate('#/events' + ctx.qs({mac: macIn.value.trim(), kind: kindIn.value}));
  }},
  h('label', {for: 'events-mac'}, 'Device '), macIn, ' ',
  h('label', {for: 'events-kind'}, 'Kind '), kindIn, ' ',
  h('button', {type: 'submit'}, 'Filter'));
  let paused = false;
  const pause = h('button', {type: 'button', 'aria-pressed': 'false', onclick: () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    show();
    if (!paused) poll();
  }}, 'Pause');
  form.appendChild(h('span', null, ' ', pause));
  const status = h('p', {class: 'muted', 'aria-live': 'polite', id: 'events-status'});
  const err = h('div');
  const body = h('tbody');
  root.append(form, status, err, h('div', {class: 'table-wrap'}, h('table', {class: 'data'},
    h('thead', null, h('tr', null, ['Time', 'Device', 'Kind', 'Release', 'Detail'].map((t) =>
      h('th', {scope: 'col'}, t)))), body)));
  let last = 0;
  let timer = null;
  let gone = false;
  const show = () => status.replaceChildren(paused ? 'Paused.' : 'Live: new events appear ' +
    'at the top (checked every ' + POLL_MS / 1000 + ' s).');
  const filter = {mac, kind};
  try {
    const first = await ctx.api('GET', '/events' + ctx.qs({...filter, limit: 50}));
    if (!ctx.current()) return undefined;
    for (const e of first.events) {
      body.appendChild(row(e));
      if (e.id > last) last = e.id;
    }
    if (!first.events.length) {
      // nothing matches yet: start after the newest event of any kind
      const any = await ctx.api('GET', '/events?limit=1');
      if (any.events.length) last = any.events[0].id;
    }
  } catch (e) {
    err.replaceChildren(message('error', e.message));
  }
  async function poll() {
    clearTimeout(timer);
    timer = null;
    if (gone || paused || !ctx.current()) return;
    let more = false;
    try {
      const t = await ctx.api('GET', '/events' + ctx.qs({...filter, after: last, limit: 200}));
      if (gone || !ctx.current()) return;
      for (const e of t.events) body.insertBefore(row(e), body.firstChild);
      last = t.last_id;
      more = t.more;
      while (body.children.length > KEEP) body.removeChild(body.lastChild);
      err.replaceChildren();
    } catch (e) {
      if (gone || !ctx.current()) return;
      err.replaceChildren(message('error', e.message));
    }
    if (!gone && !paused) timer = setTimeout(poll, more ? 0 : POLL_MS);
  }
  show();
  timer = setTimeout(poll, POLL_MS);
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}
