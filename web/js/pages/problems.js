// Problems: the devices that need attention, grouped by what is wrong, each group with
// the server's own sentence (what is wrong and what to do) and links to its devices
// (GET /api/v1/problems; docs/api.md "Problems").
import {h, message, ago} from '../dom.js';
import {fleetFigures} from '../fleetwait.js';

const KINDS = {
  'declined': 'Not offered: it would fail on them',
  'failed': 'Failed, held back',
  'rolled-back': 'Rolled back, held back',
  'update-loop': 'Update loop',
  'silent-after-update': 'Silent since the update',
};

const TOOLS = [
  ['', 'every device'],
  ['none', 'real devices only'],
  ['any', "updraft's tools' devices"],
  ['sim', 'simulated (updraft sim)'],
  ['doctor', 'updraft doctor'],
];

function group(g) {
  const more = g.devices - g.sample.length;
  const title = h('h2', null,
    h('span', {class: 'badge'}, String(g.devices)), ' ',
    KINDS[g.kind] || g.kind, ': ', h('code', null, g.reason));
  const rel = g.release ? h('p', {class: 'muted'}, 'Release ',
    h('a', {href: '#/releases/' + g.release}, String(g.release)),
    g.version ? ' (version ' + g.version + ')' : '') : null;
  return h('section', {class: 'panel problem', dataset: {kind: g.kind, reason: g.reason}},
    title, rel,
    h('p', {class: 'sentence'}, g.sentence),
    h('p', null, g.devices === 1 ? 'Device: ' : 'Devices: ',
      g.sample.map((mac, i) => [i ? ', ' : '', h('a', {href: '#/devices/' + mac}, mac)]),
      more > 0 ? ' and ' + more + ' more' : ''));
}

export async function render(root, params, ctx) {
  ctx.setTitle('Problems');
  const tool = params.query.get('tool') || '';
  root.appendChild(h('h1', null, 'Problems'));
  const select = h('select', {id: 'problems-tool', onchange: () =>
    ctx.navigate('#/problems' + ctx.qs({tool: select.value}))},
  TOOLS.map(([v, label]) => h('option', {value: v, selected: v === tool}, label)));
  const status = h('p', {class: 'muted', 'aria-live': 'polite'});
  const list = h('div', {class: 'problems'});
  async function load(fresh) {
    let p;
    try {
      p = await fleetFigures(ctx, '/problems' + ctx.qs({tool, fresh: fresh ? 1 : ''}), list);
    } catch (e) {
      if (!ctx.current()) return;
      list.replaceChildren(message('error', e.message));
      return;
    }
    if (!p || !ctx.current()) return;
    status.replaceChildren(p.devices === 1 ? '1 device needs' : p.devices + ' devices need',
      ' attention, as of ', ago(p.as_of), '.');
    list.replaceChildren(...(p.groups.length ? p.groups.map(group)
      : [message('ok', 'No problems: every device checks in and runs what it should.')]));
  }
  root.appendChild(h('div', {class: 'toolbar'},
    h('label', {for: 'problems-tool'}, 'Devices: '), select, ' ',
    h('button', {type: 'button', onclick: () => load(true)}, 'Check again now')));
  root.appendChild(status);
  root.appendChild(list);
  await load(false);
}
