// Rollouts (docs/dashboard.md "Rollouts"): the list; a new rollout from a release with a
// live count of the devices its target filter matches (POST /api/v1/rollouts/plan, asked
// 300 ms after the last keystroke); one rollout with its waves, the sentence of its last
// change (why it paused), the failure reasons per wave, and pause, resume, abort, roll
// back. Refusals are the server's own sentences.
import {ago, fmtTime, h, message, table} from '../dom.js';

const ACTIVE = ['scheduled', 'running', 'paused'];

// "1 h 40 min", "59 min", "45 s", "2 d 3 h": a span of ms, to the minute past an hour.
export function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' s';
  const m = Math.round(s / 60), d = Math.floor(m / 1440), hr = Math.floor((m % 1440) / 60), mn = m % 60;
  if (d) return d + ' d' + (hr ? ' ' + hr + ' h' : '');
  return hr ? hr + ' h' + (mn ? ' ' + mn + ' min' : '') : mn + ' min';
}

// The wall clock time of ISO time t in zone tz ("Mon 02:00 Europe/Berlin"), as the
// rollout's window counts it; the ISO time when the browser does not know the zone.
function zoned(t, tz) {
  try {
    return new Intl.DateTimeFormat('en-GB', {timeZone: tz, weekday: 'short', hour: '2-digit',
      minute: '2-digit', hourCycle: 'h23'}).format(new Date(t)) + ' ' + tz;
  } catch (e) {
    return t;
  }
}

// What the rollout waits for, from the server's next_kind / next_at (ronext.h), as a
// countdown: "wave 2 opens in 1 h 40 min (soak 2 h)"; the server's sentence otherwise.
export function nextText(r, now = Date.now()) {
  const left = r.next_at ? Date.parse(r.next_at) - now : 0;
  const wave = r.next_wave ? 'wave ' + r.next_wave : 'the last wave';
  switch (r.next_kind) {
    case 'soak':
      return r.next_wave
        ? 'wave ' + r.next_wave + ' opens in ' + span(left) + ' (soak ' + span(r.soak_s * 1000) + ')'
        : 'the last wave soaks for ' + span(left) + ' more (soak ' + span(r.soak_s * 1000) + ')';
    case 'start':
      return 'wave 1 opens in ' + span(left) + ' (' + fmtTime(r.next_at) + ')';
    case 'window':
      return wave + ' is due; outside the delivery window ' + r.window + ' (' + r.tz + ')' +
        (r.next_at ? ', which opens ' + zoned(r.next_at, r.tz) + ', in ' + span(left) : '');
    case 'paused':
      return 'nothing opens while the rollout is paused: Resume goes on';
    default:
      return r.next || '—';
  }
}

function stateBadge(st) {
  const cls = st === 'running' || st === 'completed' ? 'good' : st === 'paused' ? 'warn'
    : st === 'aborted' ? 'bad' : '';
  return h('span', {class: 'badge ' + cls}, st);
}

export async function render(root, params, ctx) {
  if (params.id) return rolloutPage(root, params.id, ctx);
  ctx.setTitle('Rollouts');
  root.appendChild(h('h1', null, 'Rollouts'));
  const listBox = h('div');
  let releases = [];
  try {
    releases = (await ctx.api('GET', '/releases')).releases || [];
  } catch (e) {
    root.appendChild(message('error', e.message));
  }
  if (!ctx.current()) return;
  if (ctx.canWrite) root.appendChild(createPanel(ctx, releases, params.query.get('release')));
  root.append(h('h2', null, 'All rollouts'), listBox);
  try {
    const data = await ctx.api('GET', '/rollouts');
    if (!ctx.current()) return;
    const rows = (data.rollouts || []).slice().reverse();
    listBox.replaceChildren(rows.length ? table([
      {title: 'ID', cell: (r) => h('a', {href: '#/rollouts/' + r.id}, String(r.id))},
      {title: 'Release', cell: (r) => h('a', {href: '#/releases/' + r.release}, r.version || String(r.release))},
      {title: 'Target', cell: (r) => r.rollback_of ? 'rollback of ' + r.rollback_of : h('code', null, r.target)},
      {title: 'State', cell: (r) => stateBadge(r.state)},
      {title: 'Wave', class: 'num', cell: (r) => r.wave + ' of ' + r.waves.split(',').length},
      {title: 'Why', cell: (r) => r.reason},
      {title: 'Created', cell: (r) => ago(r.created)},
    ], rows, {class: 'data rollouts'}) : message('note', 'No rollout yet.'));
  } catch (e) {
    listBox.replaceChildren(message('error', e.message));
  }
}

// ---- a new rollout ------------------------------------------------------------------------

function createPanel(ctx, releases, preselect) {
  const usable = releases.filter((r) => !r.retired && r.mode === 'sketch');
  const sel = h('select', {id: 'ro-release'}, usable.map((r) => h('option', {value: String(r.id),
    selected: String(r.id) === preselect}, r.id + ': ' + r.version + ' (' + (r.chip || r.platform) + ')')));
  const field = (id, value, help) => h('input', {type: 'text', id, value, placeholder: help, autocomplete: 'off'});
  const target = field('ro-target', 'all', 'all, or a filter: tag=lab version<2.0');
  const waves = field('ro-waves', '1%,10%,50%,100%', '1%,10%,100% or counts 10,100');
  const maxf = field('ro-maxfail', '5%', '5%, 3 or 5%,3');
  const sample = field('ro-sample', '10', 'devices with a result before judging');
  const soak = field('ro-soak', '1h', '2h, 90s');
  const count = h('p', {id: 'ro-count', class: 'help', 'aria-live': 'polite'});
  const result = h('div', {id: 'ro-result'});
  const create = h('button', {type: 'button', class: 'primary'}, 'Create rollout');
  let seq = 0;
  let timer = null;
  const body = () => {
    const b = {release: Number(sel.value), target: target.value.trim() || 'all',
      waves: waves.value.trim(), max_failures: maxf.value.trim(), soak: soak.value.trim()};
    const n = Number(sample.value.trim());
    if (sample.value.trim() !== '' && Number.isInteger(n)) b.min_sample = n;
    return b;
  };
  const plan = async () => {
    if (!sel.value) {
      count.textContent = 'No active release to roll out: add one on the Releases page.';
      return;
    }
    const mine = ++seq;
    try {
      const p = await ctx.api('POST', '/rollouts/plan', body());
      if (mine !== seq || !ctx.current()) return;
      const n = p.total.eligible;
      const sizes = (p.waves_detail || []).map((w) => w.eligible).join(', ');
      count.className = 'help';
      count.textContent = n + (n === 1 ? ' device matches' : ' devices match') +
        ' (' + p.platform + '); waves of ' + sizes + ' now.';
      create.disabled = false;
    } catch (e) {
      if (mine !== seq) return;
      count.className = 'msg error';
      count.textContent = e.message;
      create.disabled = true;
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(plan, 300);
  };
  for (const el of [target, waves, maxf, sample, soak]) el.addEventListener('input', later);
  sel.addEventListener('change', plan);
  create.addEventListener('click', async () => {
    create.disabled = true;
    try {
      const ro = await ctx.api('POST', '/rollouts', body());
      ctx.navigate('#/rollouts/' + ro.id);
    } catch (e) {
      result.replaceChildren(h('p', {class: 'msg error', role: 'alert', id: 'refusal'}, e.message));
      create.disabled = false;
    }
  });
  plan();
  const lab = (text, el) => h('label', null, text, ' ', el);
  return h('section', {class: 'panel', 'aria-labelledby': 'ro-title'},
    h('h2', {id: 'ro-title'}, 'New rollout'),
    h('div', {class: 'toolbar'}, lab('Release', sel), h('span', {class: 'grow'}, lab('Target', target))),
    count,
    h('div', {class: 'toolbar'}, lab('Waves', waves), lab('Max failures', maxf),
      lab('Min sample', sample), lab('Soak', soak)),
    result, h('div', {class: 'actions'}, create));
}

// ---- one rollout --------------------------------------------------------------------------

async function rolloutPage(root, id, ctx) {
  ctx.setTitle('Rollout ' + id);
  const body = h('div');
  const status = h('div', {id: 'ro-status', 'aria-live': 'polite'});
  root.append(h('p', null, h('a', {href: '#/rollouts'}, '← Rollouts')), body, status);
  const show = (r) => {
    const fact = (k, v) => [h('dt', null, k), h('dd', null, v)];
    const waves = table([
      {title: 'Wave', class: 'num', cell: (w) => String(w.wave)},
      {title: 'Size', class: 'num', cell: (w) => w.size},
      {title: 'Open', cell: (w) => w.open ? 'yes' : 'no'},
      {title: 'Devices', class: 'num', cell: (w) => String(w.eligible)},
      {title: 'Offered', class: 'num', cell: (w) => String(w.offered)},
      {title: 'Downloading', class: 'num', cell: (w) => String(w.downloading)},
      {title: 'Updated', class: 'num', cell: (w) => String(w.updated)},
      {title: 'Failed', class: 'num', cell: (w) => String(w.failed)},
      {title: 'Rolled back', class: 'num', cell: (w) => String(w.rolled_back)},
      {title: 'Silent', class: 'num', cell: (w) => String(w.silent)},
      {title: 'Pending', class: 'num', cell: (w) => String(w.pending)},
    ], r.waves_detail || [], {class: 'data waves'});
    const failures = [];
    for (const w of r.waves_detail || []) {
      for (const f of w.failures || []) failures.push({wave: w.wave, ...f});
    }
    const reasons = failures.length ? table([
      {title: 'Wave', class: 'num', cell: (f) => String(f.wave)},
      {title: 'Devices', class: 'num', cell: (f) => String(f.count)},
      {title: 'State', cell: (f) => f.state},
      {title: 'Why', cell: (f) => f.reason},
      {title: 'For example', cell: (f) => f.macs.map((m) =>
        h('a', {href: '#/devices/' + encodeURIComponent(m), class: 'mono'}, m, ' '))},
    ], failures, {class: 'data failures'}) : h('p', {class: 'muted'}, 'No device failed.');
    body.replaceChildren(
      h('h1', null, 'Rollout ' + r.id + ': release ' + r.release + ' (' + r.version + ') ', stateBadge(r.state)),
      h('p', {class: 'msg ' + (r.state === 'paused' || r.state === 'aborted' ? 'error' : 'note'), id: 'ro-reason'}, r.reason),
      h('dl', {class: 'facts'},
        fact('Target', r.rollback_of ? 'the devices of rollout ' + r.rollback_of : r.target),
        fact('Platform', r.platform),
        fact('Waves', r.waves + ' (opened ' + r.wave + ')'),
        fact('Health', r.health || '—'),
        fact('Next', h('span', {id: 'ro-next', title: r.next || ''}, nextText(r))),
        fact('Thresholds', 'at most ' + r.max_failures + ' failures, judged after ' + r.min_sample +
          ' results; soak ' + r.soak_s + ' s'),
        fact(r.start_at ? 'Starts at' : 'Created', fmtTime(r.start_at || r.created)),
        fact('Created by', r.created_by || '—')),
      h('h2', null, 'Waves'), waves,
      h('h2', null, 'Why devices failed'), reasons,
      ctx.canWrite ? actions(r) : null);
  };
  const act = async (what, path, b) => {
    status.replaceChildren(h('p', {class: 'loading'}, what, '…'));
    try {
      const r = await ctx.api('POST', '/rollouts/' + id + path, b || {});
      if (path === '/rollback') {
        ctx.navigate('#/rollouts/' + r.id);
        return;
      }
      show(r);
      status.replaceChildren(message('ok', what + ': done.'));
    } catch (e) {
      status.replaceChildren(h('p', {class: 'msg error', role: 'alert', id: 'refusal'}, e.message));
    }
  };
  const actions = (r) => {
    const active = ACTIVE.includes(r.state);
    return h('div', {class: 'actions'},
      r.state === 'paused'
        ? h('button', {type: 'button', onclick: () => act('Resuming', '/resume')}, 'Resume')
        : h('button', {type: 'button', disabled: !active, onclick: () => act('Pausing', '/pause')}, 'Pause'),
      h('button', {type: 'button', disabled: !active, onclick: () => act('Aborting', '/abort')}, 'Abort'),
      h('button', {type: 'button', class: 'danger', onclick: () => act('Rolling back', '/rollback')},
        'Roll back'));
  };
  const load = async () => {
    try {
      const r = await ctx.api('GET', '/rollouts/' + encodeURIComponent(id));
      if (ctx.current()) show(r);
      return r;
    } catch (e) {
      body.replaceChildren(h('h1', null, 'Rollout ' + id), message('error', e.message));
      return null;
    }
  };
  await load();
  // an active rollout moves: read it again every 5 s while the page is open
  const timer = setInterval(() => { if (ctx.current()) load(); }, 5000);
  return () => clearInterval(timer);
}
