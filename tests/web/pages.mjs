// The pages' own browser tests (run.mjs GROUP): what each page shows is what the API
// says, and what it does happens on the server.
import {check, eq, newPage, shot, signIn, TOKEN} from './harness.mjs';
import {FIRSTVIEW_TESTS} from './firstview.mjs';
import {OPS_TESTS} from './ops_pages.mjs';
import {releases, rollouts} from './releases_rollouts.mjs';

async function signedIn(browser, srv, token = TOKEN, opts = {}) {
  const p = await newPage(browser, opts);
  await signIn(p.page, srv.url, token);
  await p.page.getByRole('navigation', {name: 'Pages'}).waitFor();
  return p;
}

function clean(page, what) {
  page.problems.forEach((p) => check(false, what + ': ' + p));
  page.problems.length = 0;
}

async function overview(srv, browser, outDir) {
  const {context, page} = await signedIn(browser, srv);
  await page.goto(srv.url + '/#/overview');
  await page.locator('#ov-cards').waitFor();
  await page.locator('#versions-chart').waitFor();
  const api = (await srv.api('GET', '/overview')).json;
  const nums = await page.locator('#ov-cards .num').allTextContents();
  eq(nums.map(Number), [api.devices.total, api.devices.seen_24h, api.devices.silent,
    api.problems.devices], 'the cards are the API\'s counts');
  check(api.devices.total >= 38, 'the sim fleet is there: ' + api.devices.total);
  // the versions chart is drawn by Chart.js, the table has the same numbers
  const drawn = await page.evaluate(() => {
    const c = window.Chart && window.Chart.getChart(document.getElementById('versions-chart'));
    return c ? c.data.datasets.map((d) => [d.label, d.data]) : null;
  });
  check(drawn && drawn.length > 0, 'the versions chart is drawn: ' + JSON.stringify(drawn));
  const rows = await page.locator('table.versions tbody tr').count();
  eq(rows, api.versions.reduce((n, p) => n + p.versions.length, 0), 'one table row per version');
  const first = api.versions[0].versions[0];
  const chartSum = drawn ? drawn.find((d) => d[0] === (first.version ?? 'unknown'))[1][0] : -1;
  eq(chartSum, first.devices, 'the chart says what the API says for ' + first.version);
  // adoption over time (the server records every 2 s here)
  await page.waitForTimeout(2500);
  await page.reload();
  await page.locator('#adoption-chart').waitFor();
  const series = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('adoption-chart'));
    return c.data.datasets.map((d) => d.label);
  });
  const ad = (await srv.api('GET', '/adoption?platform=' + api.versions[0].platform)).json;
  eq(series, ad.series.map((s) => s.version ?? 'unknown'), 'the adoption chart has the API\'s series');
  await page.waitForLoadState('networkidle');
  await shot(page, outDir, 'overview');
  // real devices only: the sim fleet is not counted
  await page.selectOption('#ov-tool', 'none');
  await page.waitForFunction(() => location.hash.includes('tool=none'));
  await page.locator('#ov-cards').waitFor();
  const real = (await srv.api('GET', '/overview?tool=none')).json;
  await page.waitForFunction((n) => document.querySelector('#ov-cards .num')?.textContent === String(n),
    real.devices.total);
  // a card leads to the Devices page with the matching filter
  await page.selectOption('#ov-tool', '');
  await page.waitForFunction(() => !location.hash.includes('tool='));
  await page.locator('#ov-cards a').nth(1).click();
  await page.waitForFunction(() => location.hash.startsWith('#/devices'));
  await page.locator('#dev-count').waitFor();
  eq(await page.inputValue('#dev-filter'), 'seen<24h', 'the "seen" card opens its filter');
  clean(page, 'overview');
  const dark = await signedIn(browser, srv, TOKEN, {colorScheme: 'dark'});
  await dark.page.locator('#versions-chart').waitFor();
  await dark.page.waitForLoadState('networkidle');
  await shot(dark.page, outDir, 'overview-dark-charts');
  clean(dark.page, 'overview, dark');
  await dark.context.close();
  await context.close();
}

async function devices(srv, browser, outDir) {
  const {context, page} = await signedIn(browser, srv);
  const count = async () => {
    await page.locator('#dev-count').waitFor();
    return page.locator('#dev-count').textContent();
  };
  await page.goto(srv.url + '/#/devices');
  const all = (await srv.api('GET', '/devices?limit=1')).json.total;
  check((await count()).startsWith(all + ' devices'), 'the count is the API\'s: ' + await count());
  eq(await page.locator('table.devices tbody tr').count(), Math.min(all, 50), 'a page of 50');
  await shot(page, outDir, 'devices');
  // a filter, on the server
  await page.fill('#dev-filter', 'platform=esp32');
  await page.click('button:has-text("Apply")');
  await page.waitForFunction(() => location.hash.includes('filter=platform'));
  const esp32 = (await srv.api('GET', '/devices?filter=platform%3Desp32')).json;
  await page.waitForFunction((n) => document.querySelector('#dev-count')?.textContent.startsWith(n + ' device'),
    esp32.total);
  const macs = await page.locator('table.devices tbody tr td:first-child').allTextContents();
  eq(macs, esp32.devices.map((d) => d.mac), 'the esp32 devices, as the API lists them');
  // a bad filter: the server's sentence
  await page.fill('#dev-filter', 'verison<2.0');
  await page.click('button:has-text("Apply")');
  await page.getByText("unknown key 'verison'").waitFor();
  check(await page.getByText('did you mean version?').isVisible(), 'the server\'s hint is shown');
  // sort and pages
  await page.goto(srv.url + '/#/devices?sort=mac&size=25');
  await page.locator('table.devices').waitFor();
  const byMac = (await srv.api('GET', '/devices?sort=mac&limit=25&offset=25')).json.devices;
  const tableMacs = () => page.locator('table.devices tbody tr td:first-child').allTextContents();
  const firstMac = (m) => page.waitForFunction(
    (x) => document.querySelector('table.devices tbody td a')?.textContent === x, m);
  await page.click('button:has-text("Next")');
  // Next follows the server's cursor (after=), not an offset
  await page.waitForFunction(() => location.hash.includes('page=2') && location.hash.includes('after='));
  await firstMac(byMac[0].mac);
  eq(await tableMacs(), byMac.map((d) => d.mac), 'page 2 sorted by MAC is the API\'s');
  check(all <= 50 || await page.locator('button:has-text("Next")').isEnabled(), 'more pages: Next');
  await page.click('button:has-text("Previous")');
  await page.waitForFunction(() => !location.hash.includes('page=') && !location.hash.includes('after='));
  const firstPage = (await srv.api('GET', '/devices?sort=mac&limit=25')).json.devices;
  await firstMac(firstPage[0].mac);
  eq(await tableMacs(), firstPage.map((d) => d.mac), 'back to page 1');
  // sorted by version, in updraft's version order (the API's sort=version)
  await page.goto(srv.url + '/#/devices?sort=version&size=25');
  const byVersion = (await srv.api('GET', '/devices?sort=version&limit=25')).json.devices;
  await firstMac(byVersion[0].mac);
  eq(await tableMacs(), byVersion.map((d) => d.mac), 'sorted by version as the API sorts');
  eq(await page.locator('#dev-sort').inputValue(), 'version', 'the sort box says version');
  // search by a part of a tag, then by a part of a MAC (without its colons)
  const mac = byMac[0].mac;
  await srv.api('POST', '/devices/' + mac + '/tags', {add: ['kitchen']});
  await page.goto(srv.url + '/#/devices');
  await page.fill('#dev-search', 'KITCH');
  await page.click('button:has-text("Apply")');
  await page.waitForFunction(() => document.querySelector('#dev-count')?.textContent.startsWith('1 device'));
  check((await page.locator('#dev-count').textContent()).includes('tag~kitch'),
    'the count says the search term: ' + await page.locator('#dev-count').textContent());
  const part = mac.slice(9, 14).replace(':', '').toLowerCase(); // "0a1b" of ..:0A:1B:..
  const found = (await srv.api('GET', '/devices?limit=1000&filter=' + encodeURIComponent('mac~' + part))).json;
  await page.fill('#dev-search', part);
  await page.click('button:has-text("Apply")');
  await page.waitForFunction((n) => document.querySelector('#dev-count')?.textContent.startsWith(
    n === 1 ? '1 device' : n + ' devices'), found.total);
  check((await tableMacs()).includes(mac), 'the search finds ' + mac + ' by ' + part);
  eq(await tableMacs(), found.devices.slice(0, 50).map((d) => d.mac), 'the MAC search is the API\'s');
  await page.fill('#dev-search', 'kitch');
  await page.click('button:has-text("Apply")');
  await page.waitForFunction(() => document.querySelector('#dev-count')?.textContent.startsWith('1 device'));
  // the device page
  await page.click('table.devices tbody a');
  await page.waitForFunction((m) => location.hash === '#/devices/' + m, mac);
  await page.locator('h1', {hasText: mac}).waitFor();
  const d = (await srv.api('GET', '/devices/' + mac)).json;
  check(await page.getByText(d.version).first().isVisible(), 'it shows the version it runs');
  await page.locator('#timeline li').first().waitFor();
  const ev = (await srv.api('GET', '/events?mac=' + encodeURIComponent(mac) + '&limit=50')).json.events;
  eq(await page.locator('#timeline li').count(), ev.length, 'the timeline has its events');
  await shot(page, outDir, 'device');
  // pin, unpin, channel, tags: each happens on the server
  await page.selectOption('#pin-release', '1');
  await page.click('button:text-is("Pin")');
  await page.getByRole('button', {name: 'Unpin'}).waitFor();
  eq((await srv.api('GET', '/devices/' + mac)).json.pinned_release, 1, 'pinned on the server');
  await page.click('button:text-is("Unpin")');
  await page.getByRole('button', {name: 'Pin', exact: true}).waitFor();
  await page.waitForFunction(() => !document.querySelector('button') ||
    ![...document.querySelectorAll('button')].some((b) => b.textContent === 'Unpin'));
  eq((await srv.api('GET', '/devices/' + mac)).json.pinned_release, null, 'unpinned');
  await page.fill('#dev-channel', 'beta');
  await page.click('button:text-is("Assign")');
  await page.getByRole('button', {name: 'Clear'}).waitFor();
  eq((await srv.api('GET', '/devices/' + mac)).json.channel, 'beta', 'channel assigned');
  await page.fill('#dev-tag', 'Bad Tag!');
  await page.click('button:text-is("Add")');
  await page.locator('.msg.error').first().waitFor();
  check(/tag/.test(await page.locator('.msg.error').first().textContent()), 'a bad tag: the server says why');
  await page.fill('#dev-tag', 'lab');
  await page.click('button:text-is("Add")');
  await page.getByRole('button', {name: 'Remove the tag lab'}).waitFor();
  eq((await srv.api('GET', '/devices/' + mac)).json.tags, ['kitchen', 'lab'], 'tagged on the server');
  await page.getByRole('button', {name: 'Remove the tag kitchen'}).click();
  await page.waitForFunction(() => !document.querySelector('[aria-label="Remove the tag kitchen"]'));
  eq((await srv.api('GET', '/devices/' + mac)).json.tags, ['lab'], 'untagged on the server');
  await page.waitForLoadState('networkidle');
  await shot(page, outDir, 'device-changed');
  clean(page, 'devices');
  // a viewer sees the device and no write buttons
  const vt = await srv.api('POST', '/tokens', {name: 'pages-viewer', role: 'viewer'});
  const v = await signedIn(browser, srv, vt.json.token);
  await v.page.goto(srv.url + '/#/devices/' + mac);
  await v.page.locator('#timeline li').first().waitFor();
  eq(await v.page.locator('#pin-release, #dev-channel, #dev-tag').count(), 0, 'a viewer gets no write controls');
  check(await v.page.getByText('does not change them').isVisible(), 'and is told why');
  await shot(v.page, outDir, 'device-viewer');
  clean(v.page, 'viewer');
  await v.context.close();
  // a phone
  const ph = await signedIn(browser, srv, TOKEN, {viewport: {width: 390, height: 844}, isMobile: true});
  await ph.page.goto(srv.url + '/#/devices/' + mac);
  await ph.page.locator('#timeline li').first().waitFor();
  const over = await ph.page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  check(over <= 1, 'the device page fits a phone (overflow ' + over + ' px)');
  await shot(ph.page, outDir, 'device-phone');
  await ph.page.goto(srv.url + '/#/devices');
  await ph.page.locator('table.devices').waitFor();
  await shot(ph.page, outDir, 'devices-phone-table');
  clean(ph.page, 'phone');
  await ph.context.close();
  await context.close();
}

export const PAGE_TESTS = {overview, devices, releases, rollouts, ...OPS_TESTS,
  ...FIRSTVIEW_TESTS};
// the server options a group needs
export const PAGE_SERVER_ARGS = {overview: ['--adoption-every', '2s']};
