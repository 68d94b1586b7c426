// Overview: the fleet at a glance (docs/dashboard.md "The pages"): how many devices, how
// many were seen in the last 24 hours and how many went silent, which versions run on
// each platform now and how that changed over time, the rollouts under way and the
// problems. GET /api/v1/overview and /api/v1/adoption (docs/api.md "Fleet").
import {ago, fmtTime, h, message, table} from '../dom.js';
import {colour, makeChart} from '../chart.js';
import {fleetFigures} from '../fleetwait.js';

const TOOLS = [
  {value: '', label: 'All devices'},
  {value: 'none', label: 'Real devices only'},
  {value: 'any', label: 'Simulated and test devices only'},
];

function card(label, num, href, cls) {
  const body = [h('span', {class: 'num'}, String(num)), h('span', {class: 'label'}, label)];
  return h('div', {class: ['card', cls]}, href ? h('a', {href}, body) : body);
}

// The filter of the Devices page for a tool choice plus more terms.
function devicesLink(tool, terms) {
  const f = [terms, tool === 'none' ? 'tool=none' : tool === 'any' ? 'tool!=none' : '']
    .filter(Boolean).join(' ');
  return '#/devices' + (f ? '?filter=' + encodeURIComponent(f) : '');
}

function rolloutRow(r) {
  const waves = r.waves_detail || [];
  const t = r.total || {};
  return {
    id: r.id, state: r.state, release: r.release, version: r.version, reason: r.reason,
    wave: waves.length ? `${r.wave} of ${waves.length}` : String(r.wave),
    updated: t.updated ?? null, eligible: t.eligible ?? null,
    failed: t.failed === undefined ? null : t.failed + (t.rolled_back || 0),
  };
}

export async function render(root, params, ctx) {
  const tool = params.query.get('tool') || '';
  root.appendChild(h('h1', null, 'Overview'));
  const toolSel = h('select', {id: 'ov-tool', onchange: () =>
    ctx.navigate('#/overview' + (toolSel.value ? '?tool=' + toolSel.value : ''))},
  TOOLS.map((t) => h('option', {value: t.value, selected: t.value === tool}, t.label)));
  root.appendChild(h('div', {class: 'toolbar'},
    h('div', null, h('label', {for: 'ov-tool'}, 'Count'), toolSel)));
  const ov = await fleetFigures(ctx, '/overview' + ctx.qs({tool}), root);
  if (!ov || !ctx.current()) return;
  const d = ov.devices;
  root.appendChild(h('div', {class: 'cards', id: 'ov-cards'}, [
    card('devices', d.total, devicesLink(tool, '')),
    card('seen in the last 24 h', d.seen_24h, devicesLink(tool, 'seen<24h')),
    card('silent for more than 24 h', d.silent, devicesLink(tool, 'seen>24h'),
      d.silent ? 'bad' : null),
    card('devices with problems', ov.problems.devices, '#/problems',
      ov.problems.devices ? 'bad' : null),
  ]));
  const notes = [];
  if (!tool && d.tool_devices)
    notes.push(`${d.tool_devices} of them were made by updraft's tools (updraft sim, doctor). `);
  if (d.never_seen) notes.push(`${d.never_seen} were set up by an operator and never checked in. `);
  notes.push(h('span', {class: 'muted'}, 'As of ', ago(ov.as_of), '.'));
  root.appendChild(h('p', {class: 'help'}, notes));

  // versions now: one stacked bar per platform, the same numbers as a table beside it
  root.appendChild(h('h2', null, 'Versions now'));
  if (!ov.versions.length) {
    root.appendChild(message('note', 'No device has checked in yet: point devices at ' +
      location.origin + '/update (docs/protocol.md).'));
  } else {
    const names = [];
    for (const p of ov.versions) for (const v of p.versions)
      if (!names.includes(v.version)) names.push(v.version);
    const canvas = h('canvas', {id: 'versions-chart', role: 'img',
      'aria-label': 'Devices per version on each platform (the table below has the numbers)'});
    root.appendChild(h('div', {class: 'panel'}, h('div', {class: 'chart-box'}, canvas)));
    const rows = [];
    for (const p of ov.versions) for (const v of p.versions)
      rows.push({platform: p.platform, ...v});
    root.appendChild(table([
      {title: 'Platform', cell: (r) => r.platform},
      {title: 'Version', cell: (r) => h('a', {href: devicesLink(tool, 'platform=' + r.platform +
        (r.version === null ? '' : ' version=' + r.version))}, r.version ?? 'unknown')},
      {title: 'Devices', class: 'num', cell: (r) => String(r.devices)},
      {title: 'Share', class: 'num', cell: (r) => (r.share * 100).toFixed(1) + ' %'},
    ], rows, {class: 'data versions'}));
    await makeChart(canvas, {
      type: 'bar',
      data: {
        labels: ov.versions.map((p) => p.platform),
        datasets: names.map((n, i) => ({
          label: n ?? 'unknown', backgroundColor: colour(i),
          data: ov.versions.map((p) => (p.versions.find((v) => v.version === n) || {}).devices || 0),
        })),
      },
      options: {indexAxis: 'y', scales: {x: {stacked: true, title: {display: true, text: 'devices'}},
        y: {stacked: true}}, plugins: {legend: {position: 'bottom'}}},
    });
  }

  // adoption over time
  root.appendChild(h('h2', null, 'Adoption over time'));
  const platforms = ov.versions.map((p) => p.platform);
  const platform = params.query.get('platform') || platforms[0] || 'esp8266';
  const bucket = params.query.get('bucket') || 'hour';
  const go = (p, b) => ctx.navigate('#/overview' + ctx.qs({tool, platform: p, bucket: b}));
  const pSel = h('select', {id: 'ad-platform', onchange: () => go(pSel.value, bSel.value)},
    (platforms.length ? platforms : ['esp8266', 'esp32']).map((p) =>
      h('option', {value: p, selected: p === platform}, p)));
  const bSel = h('select', {id: 'ad-bucket', onchange: () => go(pSel.value, bSel.value)},
    [['hour', 'per hour (7 days)'], ['day', 'per day (90 days)']].map(([v, l]) =>
      h('option', {value: v, selected: v === bucket}, l)));
  root.appendChild(h('div', {class: 'toolbar'},
    h('div', null, h('label', {for: 'ad-platform'}, 'Platform'), pSel),
    h('div', null, h('label', {for: 'ad-bucket'}, 'Points'), bSel)));
  const adBox = h('div', {class: 'panel', id: 'adoption'});
  root.appendChild(adBox);
  try {
    const ad = await ctx.api('GET', '/adoption' + ctx.qs({platform, bucket, tool}));
    if (!ctx.current()) return;
    if (!ad.buckets.length) {
      adBox.appendChild(message('note', 'No adoption records yet: the server records the ' +
        'versions once at start and then every hour (updraft serve --adoption-every).'));
    } else {
      const canvas = h('canvas', {id: 'adoption-chart', role: 'img',
        'aria-label': `Share of each version on ${platform} over time`});
      adBox.appendChild(h('div', {class: 'chart-box'}, canvas));
      const label = (iso) => {
        const t = new Date(iso);
        return bucket === 'day' ? t.toLocaleDateString() : t.toLocaleString([], {month: 'short',
          day: 'numeric', hour: '2-digit', minute: '2-digit'});
      };
      await makeChart(canvas, {
        type: 'line',
        data: {
          labels: ad.buckets.map(label),
          datasets: ad.series.map((s, i) => ({
            label: s.version ?? 'unknown', data: s.share.map((x) => Math.round(x * 1000) / 10),
            borderColor: colour(i), backgroundColor: colour(i), fill: true, pointRadius: 2,
          })),
        },
        options: {scales: {y: {stacked: true, min: 0, max: 100,
          title: {display: true, text: '% of devices'}}},
        plugins: {legend: {position: 'bottom'}}, interaction: {mode: 'index', intersect: false}},
      });
      adBox.appendChild(h('p', {class: 'help'}, `${ad.buckets.length} points from `,
        fmtTime(ad.buckets[0]), ' to ', fmtTime(ad.buckets[ad.buckets.length - 1]), '.'));
    }
  } catch (e) {
    adBox.appendChild(message('error', e.message));
  }

  // rollouts under way
  root.appendChild(h('h2', null, 'Rollouts under way'));
  if (!ov.rollouts.length) {
    root.appendChild(h('p', {class: 'muted'}, 'No rollout is running, scheduled or paused. ',
      h('a', {href: '#/rollouts'}, 'All rollouts')));
  } else {
    root.appendChild(table([
      {title: 'Rollout', cell: (r) => h('a', {href: '#/rollouts/' + r.id}, '#' + r.id)},
      {title: 'State', cell: (r) => h('span', {class: ['badge', r.state === 'paused' ? 'warn' :
        'good']}, r.state)},
      {title: 'Release', cell: (r) => h('a', {href: '#/releases/' + r.release},
        String(r.version ?? r.release))},
      {title: 'Wave', cell: (r) => r.wave},
      {title: 'Updated', class: 'num', cell: (r) => r.updated === null ? '—' :
        r.updated + (r.eligible ? ' of ' + r.eligible : '')},
      {title: 'Failed', class: 'num', cell: (r) => r.failed === null ? '—' : String(r.failed)},
      {title: 'Why', cell: (r) => r.reason || ''},
    ], ov.rollouts.map(rolloutRow)));
  }
}
