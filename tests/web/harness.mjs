// The browser tests' harness: the real `updraft serve` on 127.0.0.1 with a fleet made by
// `updraft sim`, Debian's chromium driven by playwright-core (no browser download), the
// checks, screenshots, and the SKIPPED rule (docs/testing.md "Browser tests").
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SKIP = 77; // ctest's SKIP_RETURN_CODE
export const CHROMIUM = process.env.UPDRAFT_CHROMIUM || '/usr/bin/chromium';
export const TOKEN = 'web-test-admin-token-0123456789';
const fails = [];

export function check(cond, what) {
  if (cond) return true;
  fails.push(what);
  console.log('FAIL:', what);
  return false;
}

export function eq(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  return check(g === w, `${what}: got ${g}, want ${w}`);
}

export function finish(group) {
  if (fails.length) {
    console.log(`${fails.length} check(s) failed in group ${group}`);
    process.exit(1);
  }
  console.log(`ok: group ${group}`);
  process.exit(0);
}

// playwright-core from tests/web/node_modules (npm ci), or SKIPPED with what to install.
export async function loadPlaywright() {
  const missing = [];
  if (!fs.existsSync(CHROMIUM)) missing.push(`Debian's chromium (apt-get install chromium; ${CHROMIUM} is missing)`);
  let pw = null;
  try {
    pw = await import('playwright-core');
  } catch {
    missing.push('playwright-core (cd tests/web && npm ci: scripts/test.sh does it)');
  }
  if (missing.length) {
    console.log('SKIPPED: the browser tests need ' + missing.join(' and '));
    process.exit(SKIP);
  }
  return pw;
}

// `updraft serve` on 127.0.0.1:0 with a fresh data directory, or dataDir (kept by stop()).
export async function startServer(bin, extra = [], dataDir = null) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'updraft-web-'));
  const data = dataDir || path.join(tmp, 'data'); // a given one outlives stop()
  const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--threads', '4', ...extra],
    {env: {...process.env, UPDRAFT_ADMIN_TOKEN: TOKEN}, stdio: ['ignore', 'pipe', 'pipe']});
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not start: ' + out + stderr)), 15000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => reject(new Error('the server exited (' + code + '): ' + stderr)));
  });
  const url = 'http://127.0.0.1:' + port;
  return {
    bin, port, url, data, tmp, proc,
    stderr: () => stderr,
    async stop() {
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await done;
      fs.rmSync(tmp, {recursive: true, force: true});
    },
    // The API with a bearer token (the admin's unless given).
    async api(method, p, body, token = TOKEN) {
      const opts = {method, headers: {Authorization: 'Bearer ' + token}};
      if (body !== undefined) {
        if (body instanceof Uint8Array) {
          opts.body = body;
          opts.headers['Content-Type'] = 'application/octet-stream';
        } else {
          opts.body = JSON.stringify(body);
          opts.headers['Content-Type'] = 'application/json';
        }
      }
      const r = await fetch(url + '/api/v1' + p, opts);
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return {status: r.status, json, text, headers: r.headers};
    },
  };
}

// A fleet: `updraft sim` devices of both platforms, some updated to a release (made by
// the build's mkimage), so that every page has something to show. The server records
// check-ins through its writer thread, so it waits until all 38 devices are in the
// registry (the pages must not be read while the last ones are still on their way).
export async function makeFleet(srv, mkimage) {
  const dir = srv.tmp;
  const run = (args) => {
    const p = spawnSync(srv.bin, args, {encoding: 'utf8', timeout: 120000,
      env: {...process.env, UPDRAFT_URL: srv.url, UPDRAFT_TOKEN: TOKEN}});
    if (p.status !== 0) throw new Error(`updraft ${args.join(' ')}: ${p.status} ${p.stderr}`);
    return p.stdout;
  };
  const img = (name, seed) => {
    const f = path.join(dir, name);
    const p = spawnSync(mkimage, ['esp8266-app', f, '250000', String(seed)], {encoding: 'utf8'});
    if (p.status !== 0) throw new Error('mkimage: ' + p.stderr);
    return f;
  };
  const a10 = img('app-1.0.bin', 1), a11 = img('app-1.1.bin', 2);
  run(['release', 'add', a10, '--version', '1.0.0', '--channel', 'stable']);
  run(['sim', '--server', srv.url + '/update', '--devices', '24', '--version', '0.9.0']);
  run(['release', 'add', a11, '--version', '1.1.0']);
  run(['sim', '--server', srv.url + '/update', '--devices', '8', '--version', '0.9.0',
    '--mac-start', '100']);
  run(['sim', '--server', srv.url + '/update', '--devices', '6', '--platform', 'esp32',
    '--version', '2.3.0']);
  const until = Date.now() + 20000;
  for (;;) {
    const total = (await srv.api('GET', '/overview')).json?.devices?.total;
    if (total === 38) return;
    if (Date.now() > until) throw new Error('the fleet is not in the registry after 20 s: ' + total);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A browser page that records what the dashboard must never cause: CSP violations (the
// browser's securitypolicyviolation events and console reports) and script errors.
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({viewport: opts.viewport || {width: 1280, height: 860},
    colorScheme: opts.colorScheme || 'light', isMobile: !!opts.isMobile, hasTouch: !!opts.isMobile});
  const page = await context.newPage();
  const problems = [];
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || ''));
    });
  });
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/i.test(t)) problems.push('CSP: ' + t);
    else if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|401|403|404|409|422)/.test(t))
      problems.push('console error: ' + t);
  });
  page.on('pageerror', (e) => problems.push('script error: ' + e.message));
  page.problems = problems;
  page.cspViolations = () => page.evaluate(() => window.__csp || []);
  return {context, page};
}

export async function shot(page, dir, name) {
  fs.mkdirSync(dir, {recursive: true});
  await page.screenshot({path: path.join(dir, name + '.png'), fullPage: true});
}

// Sign in through the sign-in view.
export async function signIn(page, url, token) {
  await page.goto(url + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
}
