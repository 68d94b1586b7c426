// What Connection: close costs the dashboard (issue 11, docs/dashboard.md "How it is
// served"): Debian's chromium loads the Overview page (signed in, with the browser tests'
// sim fleet) from the real `updraft serve` on 127.0.0.1, over HTTP and over native HTTPS,
// N times each, and counts per load the requests, the TCP connections (CDP
// Network.responseReceived connectionId) and the time spent connecting (connectStart..
// connectEnd, the TLS handshake included), against the load's own time in the same run.
//
// usage: node bench/dashboard/connections.mjs UPDRAFT MKIMAGE [N]
// (playwright-core comes from tests/web/node_modules: cd tests/web && npm ci; openssl
// makes the throwaway certificate). Prints a Markdown table.
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {loadPlaywright, makeFleet, newPage, signIn, startServer, TOKEN, CHROMIUM} from
  '../../tests/web/harness.mjs';

const [bin, mkimage, nArg] = process.argv.slice(2);
const N = Number(nArg || 10);
const {chromium} = await loadPlaywright();

async function measure(srv, url) {
  const browser = await chromium.launch({executablePath: CHROMIUM,
    args: ['--ignore-certificate-errors']});
  const {context, page} = await newPage(browser);
  await signIn(page, url, TOKEN);
  await page.getByRole('navigation', {name: 'Pages'}).waitFor();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', {cacheDisabled: false});
  const rows = [];
  for (let i = 0; i < N; i++) {
    const conns = new Set();
    let reqs = 0, reused = 0, connMs = 0;
    const on = (e) => {
      reqs++;
      conns.add(e.response.connectionId);
      if (e.response.connectionReused) reused++;
      const t = e.response.timing;
      if (t && t.connectStart >= 0) connMs += t.connectEnd - t.connectStart; // TLS included
    };
    await page.goto('about:blank');
    cdp.on('Network.responseReceived', on);
    const t0 = Date.now();
    await page.goto(url + '/#/overview', {waitUntil: 'networkidle'});
    await page.locator('h1').first().waitFor();
    const ms = Date.now() - t0 - 500; // networkidle waits 500 ms without requests
    cdp.off('Network.responseReceived', on);
    rows.push({conns: conns.size, reqs, reused, ms, connMs});
  }
  await browser.close();
  const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  return {conns: med('conns'), reqs: med('reqs'), reused: med('reused'), ms: med('ms'),
    connMs: med('connMs')};
}

const srv = await startServer(bin);
await makeFleet(srv, mkimage);
const plain = await measure(srv, srv.url);
await srv.stop();
const dir = fs.mkdtempSync('/tmp/updraft-conn-');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
  '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1',
  '-subj', '/CN=127.0.0.1'], {stdio: 'ignore'});
// the same server over native HTTPS (the harness starts plain HTTP only)
const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'),
  '--threads', '4', '--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')],
{env: {...process.env, UPDRAFT_ADMIN_TOKEN: TOKEN}, stdio: ['ignore', 'pipe', 'ignore']});
const turl = await new Promise((resolve) => {
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
    const m = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) resolve(m[1]);
  });
});
let tls = null;
try {
  tls = await measure(null, turl);
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
  fs.rmSync(dir, {recursive: true, force: true});
}
console.log('| scheme | requests | connections | reused | load ms | connecting ms (TCP + TLS, summed) | share |');
console.log('|---|---|---|---|---|---|---|');
for (const [k, r] of [['http', plain], ['https', tls]])
  console.log('| %s | %d | %d | %d | %d | %s | %s |', k, r.reqs, r.conns, r.reused, r.ms,
    r.connMs.toFixed(1), (r.connMs / r.ms * 100).toFixed(1) + '%');
console.log('(medians of %d loads of #/overview, signed in, browser cache on)', N);
