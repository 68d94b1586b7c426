// The Problems and Events pages in a real browser (issue 11; docs/dashboard.md): a fleet
// of `updraft sim` devices (run.mjs makes it: harness.mjs makeFleet), and four more that
// cannot take the release their channel serves.
import {spawnSync} from 'node:child_process';
import path from 'node:path';
import {check, eq, newPage, shot, signIn, TOKEN} from './harness.mjs';

// updraft ARGS...; ok: the exit statuses that are no error (sim: 1 when not every device
// converged, as here on purpose).
function run(srv, args, ok = [0]) {
  const p = spawnSync(srv.bin, args, {encoding: 'utf8', timeout: 120000,
    env: {...process.env, UPDRAFT_URL: srv.url, UPDRAFT_TOKEN: TOKEN}});
  if (!ok.includes(p.status)) throw new Error(`updraft ${args.join(' ')}: ${p.status} ${p.stderr}`);
  return p.stdout;
}

const MKIMAGE = process.argv[3]; // run.mjs UPDRAFT_BINARY MKIMAGE OUT_DIR GROUP

function image(srv, name, code, seed) {
  const f = path.join(srv.tmp, name);
  const p = spawnSync(MKIMAGE, ['esp8266-app', f, String(code), String(seed)],
    {encoding: 'utf8'});
  if (p.status !== 0) throw new Error('mkimage: ' + p.stderr);
  return f;
}

async function clean(page, what) {
  eq(page.problems, [], what + ': no script error, no CSP report');
  eq(await page.cspViolations(), [], what + ': no CSP violation');
}

// Four 1 MB devices on channel big, whose release needs more room than they have.
async function problems(srv, browser, outDir) {
  run(srv, ['release', 'add', image(srv, 'big.bin', 700000, 7), '--version', '2.0.0',
    '--channel', 'big']);
  run(srv, ['sim', '--server', srv.url + '/update/big', '--devices', '4', '--version', '1.0.0',
    '--layout', 'esp8266-1m64', '--mac-start', '200'], [0, 1]);
  const api = (await srv.api('GET', '/problems?fresh=1')).json;
  const g = api.groups.find((x) => x.reason === 'no-space');
  check(g && g.devices === 4, 'the API has the group of the four: ' + JSON.stringify(api.groups));
  const {context, page} = await newPage(browser);
  await signIn(page, srv.url, TOKEN);
  await page.goto(srv.url + '/#/problems');
  await page.locator('section.problem').first().waitFor();
  eq(await page.locator('section.problem').count(), api.groups.length,
    'a card per group, as the API has them');
  const card = page.locator('section.problem[data-reason="no-space"]');
  eq((await card.locator('.badge').textContent()).trim(), '4', 'its count, as the API says');
  eq((await card.locator('p.sentence').textContent()).trim(), g.sentence,
    "the server's sentence, as the API gives it");
  check(/would fail -100/.test(g.sentence), 'the fit rule says why: ' + g.sentence);
  check((await page.locator('main').textContent()).includes(api.devices +
    (api.devices === 1 ? ' device needs' : ' devices need') + ' attention'), 'the total');
  await shot(page, outDir, 'problems');
  // a device of the group opens its page
  const mac = g.sample[0];
  await card.getByRole('link', {name: mac}).click();
  await page.waitForURL((u) => u.hash === '#/devices/' + mac);
  eq(new URL(page.url()).hash, '#/devices/' + mac, 'the MAC links to the device page');
  // real devices only: none of the simulator's problems
  await page.goto(srv.url + '/#/problems');
  await page.locator('#problems-tool').selectOption('none');
  await page.waitForURL((u) => u.hash === '#/problems?tool=none');
  await page.getByText('No problems').waitFor();
  check(true, 'tool=none: no problems');
  await clean(page, 'problems');
  await context.close();
}

// The live tail: new events appear at the top without a reload; filters; pause.
async function events(srv, browser, outDir) {
  const {context, page} = await newPage(browser);
  await signIn(page, srv.url, TOKEN);
  await page.goto(srv.url + '/#/events');
  const rows = page.locator('tbody tr');
  await rows.first().waitFor();
  const newest = (await srv.api('GET', '/events?limit=1')).json.events[0];
  eq(await rows.first().getAttribute('data-id'), String(newest.id), 'the newest event on top');
  // new events arrive while the page is open
  run(srv, ['release', 'add', image(srv, 'b.bin', 250000, 9), '--version', '1.2.0']);
  const tail = (await srv.api('GET', '/events?limit=1')).json.events[0];
  check(tail.id > newest.id, 'the upload made events');
  await page.locator(`tbody tr[data-id="${tail.id}"]`).waitFor({timeout: 15000});
  eq(await rows.first().getAttribute('data-id'), String(tail.id),
    'the tail shows the newest event first, without a reload');
  const ids = (await rows.evaluateAll((rs) => rs.map((r) => Number(r.dataset.id))));
  eq(ids, [...ids].sort((a, b) => b - a), 'newest first, each event once');
  eq(new Set(ids).size, ids.length, 'no event twice');
  await shot(page, outDir, 'events');
  // filter by device
  const mac = (await srv.api('GET', '/events?kind=offered&limit=1')).json.events[0].mac;
  await page.locator('#events-mac').fill(mac);
  await page.getByRole('button', {name: 'Filter'}).click();
  await page.waitForURL((u) => u.hash.startsWith('#/events?mac='));
  await rows.first().waitFor();
  const macs = await page.locator('tbody tr td:nth-child(2)').allTextContents();
  check(macs.length > 0 && macs.every((m) => m === mac), 'only its events: ' + macs.join(' '));
  // pause
  await page.getByRole('button', {name: 'Pause'}).click();
  await page.locator('#events-status').getByText('Paused.').waitFor();
  check(true, 'paused');
  await clean(page, 'events');
  await context.close();
}

export const OPS_TESTS = {problems, events};
