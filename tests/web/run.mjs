// The dashboard in a real browser (issue 11, docs/dashboard.md): Debian's chromium,
// driven by playwright-core, against the real `updraft serve` on 127.0.0.1 with a fleet
// made by `updraft sim`. Screenshots of every page go to OUT_DIR.
//
// usage: node run.mjs UPDRAFT_BINARY MKIMAGE OUT_DIR GROUP
// GROUP: shell (sign-in, cookie, CSRF, CSP on every page, keyboard, phone, sign-out,
//        viewer) | overview | devices (pages.mjs)
import {check, eq, finish, loadPlaywright, makeFleet, newPage, shot, signIn, startServer,
  TOKEN, CHROMIUM} from './harness.mjs';
import {PAGE_SERVER_ARGS, PAGE_TESTS} from './pages.mjs';

const [bin, mkimage, outDir, group] = process.argv.slice(2);
const {chromium} = await loadPlaywright();

async function shell(srv, browser) {
  const {context, page} = await newPage(browser);
  const first = await page.goto(srv.url + '/');
  const csp = first.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && csp.includes("object-src 'none'") &&
    !csp.includes('unsafe'), 'GET / carries the strict CSP: ' + csp);
  eq(first.headers()['x-content-type-options'], 'nosniff', 'nosniff');
  await page.getByRole('heading', {name: 'Sign in to updraft'}).waitFor();
  await shot(page, outDir, 'signin');
  // a wrong token: refused, with the server's words, in the form
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', {name: 'Sign in'}).click();
  const err = page.locator('#signin-error');
  await err.waitFor({state: 'visible'});
  check(/wrong admin token/.test(await err.textContent()), 'the wrong token is refused in words: ' +
    await err.textContent());
  await shot(page, outDir, 'signin-refused');
  eq((await context.cookies()).length, 0, 'no cookie after a refused sign-in');
  // the right one
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('navigation', {name: 'Pages'}).waitFor();
  check(/admin-token\s*admin/.test(await page.locator('#who').textContent()), 'who is signed in');
  const cookies = await context.cookies();
  const c = cookies.find((x) => x.name === 'updraft_session');
  check(c, 'the session cookie is set');
  if (c) {
    eq([c.httpOnly, c.sameSite, c.secure, c.path], [true, 'Strict', false, '/'],
      'cookie flags (HttpOnly, SameSite=Strict, no Secure over plain HTTP, Path=/)');
    check(/^[0-9a-f]{64}$/.test(c.value), '256 random bits');
    check(c.expires > Date.now() / 1000 + 86400, 'it lasts (Max-Age)');
  }
  eq(await page.evaluate(() => document.cookie), '', 'scripts cannot read the cookie (HttpOnly)');
  // a write without the CSRF header, from the page itself: refused
  const noCsrf = await page.evaluate(async () => {
    const r = await fetch('/api/v1/devices/tags', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: '{"add":["x"],"filter":""}'});
    return [r.status, (await r.json()).kind];
  });
  eq(noCsrf, [403, 'csrf'], 'a write without X-CSRF-Token: 403');
  // every page: loads, no CSP violation, no script error; the ones not built yet say so
  const pages = ['overview', 'devices', 'releases', 'rollouts', 'problems', 'events'];
  for (const name of pages) {
    await page.goto(srv.url + '/#/' + name);
    const built = (await fetch(srv.url + '/ui/js/pages/' + name + '.js', {method: 'HEAD'})).ok;
    if (built) {
      await page.locator('main h1').first().waitFor();
    } else {
      await page.getByText('This page is not built yet').waitFor();
    }
    await page.waitForLoadState('networkidle');
    const active = await page.locator('nav a[aria-current="page"]').textContent();
    check(active.toLowerCase() === name, `#/${name}: the navigation marks it (${active})`);
    await shot(page, outDir, 'page-' + name);
  }
  await page.goto(srv.url + '/#/nothing-here');
  await page.getByText('No such page').waitFor();
  // dark
  const dark = await newPage(browser, {colorScheme: 'dark'});
  await signIn(dark.page, srv.url, TOKEN);
  await dark.page.getByRole('navigation', {name: 'Pages'}).waitFor();
  const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(246, 247, 249)', 'dark colours when the system asks for them: ' + bg);
  await dark.page.waitForLoadState('networkidle');
  await shot(dark.page, outDir, 'overview-dark');
  eq(await dark.page.cspViolations(), [], 'dark: no CSP violation');
  await dark.context.close();
  // a phone: the navigation stays reachable, nothing wider than the screen
  const phone = await newPage(browser, {viewport: {width: 390, height: 844}, isMobile: true});
  await signIn(phone.page, srv.url, TOKEN);
  await phone.page.getByRole('navigation', {name: 'Pages'}).waitFor();
  await phone.page.waitForLoadState('networkidle');
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  check(overflow <= 1, 'the phone layout fits the screen (overflow ' + overflow + ' px)');
  await shot(phone.page, outDir, 'overview-phone');
  for (const name of ['devices']) {
    await phone.page.goto(srv.url + '/#/' + name);
    await phone.page.locator('main h1').first().waitFor();
    await phone.page.waitForLoadState('networkidle');
    await shot(phone.page, outDir, name + '-phone');
  }
  phone.page.problems.forEach((p) => check(false, 'phone: ' + p));
  await phone.context.close();
  // the keyboard: the skip link first, then the navigation, focus visible
  await page.goto(srv.url + '/#/overview');
  await page.reload(); // a fresh load: the focus starts at the top of the document
  await page.locator('main h1').first().waitFor();
  await page.keyboard.press('Tab');
  eq(await page.evaluate(() => document.activeElement.textContent), 'Skip to content',
    'Tab first reaches the skip link');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== 'none', 'the focus is visible (outline ' + outline + ')');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  const second = await page.evaluate(() => [document.activeElement.tagName,
    document.activeElement.closest('nav') !== null]);
  eq(second, ['A', true], 'then the navigation\'s links');
  // violations on any page
  const v = await page.evaluate(() => window.__csp);
  eq(v, [], 'no CSP violation reported by the browser');
  page.problems.forEach((p) => check(false, p));
  // sign out: back to the sign-in view; the old cookie is refused by the API
  const old = (await context.cookies()).find((x) => x.name === 'updraft_session');
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByRole('heading', {name: 'Sign in to updraft'}).waitFor();
  check(await page.getByText('Signed out.').isVisible(), 'says it signed out');
  const after = await fetch(srv.url + '/api/v1/session',
    {headers: {Cookie: 'updraft_session=' + (old ? old.value : '')}});
  eq(after.status, 401, 'the API refuses the old cookie after sign-out');
  await context.close();
  // a viewer: signs in, sees the role; a write is refused by the server, in its words
  const vt = await srv.api('POST', '/tokens', {name: 'web-viewer', role: 'viewer'});
  const viewer = await newPage(browser);
  await signIn(viewer.page, srv.url, vt.json.token);
  await viewer.page.getByRole('navigation', {name: 'Pages'}).waitFor();
  check(/web-viewer\s*viewer/.test(await viewer.page.locator('#who').textContent()), 'the viewer');
  const refused = await viewer.page.evaluate(async () => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/devices/tags', {method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf},
      body: '{"add":["x"],"filter":""}'});
    return [r.status, (await r.json()).error];
  });
  eq(refused[0], 403, 'a viewer\'s write: 403');
  check(/needs a token with role operator or admin/.test(refused[1]), 'in the server\'s words');
  // revoking its token ends the session: the next call sends the browser to sign in
  await srv.api('DELETE', '/tokens/web-viewer');
  await viewer.page.goto(srv.url + '/#/overview');
  await viewer.page.reload();
  await viewer.page.getByRole('heading', {name: 'Sign in to updraft'}).waitFor();
  await viewer.context.close();
}

const srv = await startServer(bin, PAGE_SERVER_ARGS[group] || []);
let browser;
try {
  await makeFleet(srv, mkimage);
  browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox']});
  console.log('chromium ' + browser.version() + ', server ' + srv.url);
  if (group === 'shell') await shell(srv, browser);
  else if (PAGE_TESTS[group]) await PAGE_TESTS[group](srv, browser, outDir);
  else throw new Error('unknown group ' + group);
} catch (e) {
  check(false, 'the test stopped: ' + (e.stack || e));
} finally {
  if (browser) await browser.close();
  await srv.stop();
}
finish(group);
