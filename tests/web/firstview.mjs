// The Overview opened right after a server start with a large registry (docs/dashboard.md,
// docs/api.md "Fleet"): while the server reads its registry for the first time the page
// says how many devices it has read so far (web/js/fleetwait.js), then shows the figures
// without a reload. The session is opened before the restart (sessions are in the
// database), so the page is there before the first reading of DEVICES devices is done.
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {check, eq, newPage, shot, signIn, startServer, TOKEN} from './harness.mjs';

const DEVICES = 200000;

// DEVICES devices written into the stopped server's SQLite database (one statement).
function fill(data) {
  const py = `
import sqlite3, sys, time
now = int(time.time() * 1000)
db = sqlite3.connect(sys.argv[1])
db.execute("""INSERT INTO devices(mac, family, version, first_seen_ms, last_seen_ms, last_result)
  WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ?)
  SELECT printf('5C:CF:%02X:%02X:%02X:%02X', (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255,
                i & 255), 'esp8266', '1.0.0', ?, ? - i, 'release 1 not offered' FROM g""",
  (int(sys.argv[2]) - 1, now - 86400000, now))
db.commit()
`;
  const p = spawnSync('python3', ['-c', py, path.join(data, 'updraft.db'), String(DEVICES)],
    {encoding: 'utf8'});
  if (p.status !== 0) throw new Error('filling the registry: ' + p.stderr);
}

async function firstview(_srv, browser, outDir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'updraft-web-first-'));
  const data = path.join(tmp, 'data');
  let srv = await startServer(_srv.bin, [], data);
  const {context, page} = await newPage(browser);
  try {
    await signIn(page, srv.url, TOKEN);
    await page.getByRole('navigation', {name: 'Pages'}).waitFor();
    await page.waitForLoadState('networkidle');
    await page.goto('about:blank'); // nothing under way when the server stops
    page.problems.length = 0;
    await srv.stop();
    fill(data);
    srv = await startServer(_srv.bin, [], data);
    await page.goto(srv.url + '/#/overview');
    const note = page.locator('#fleet-building');
    await note.waitFor({state: 'visible', timeout: 20000});
    const said = await note.textContent();
    check(/reading its device registry \(\d+ devices so far\)/.test(said),
      'the page says the registry is being read: ' + said);
    await shot(page, outDir, 'overview-building');
    // the figures follow by themselves, and the note goes
    await page.locator('#ov-cards').waitFor({timeout: 120000});
    eq(await note.count(), 0, 'the note is gone once the figures are there');
    const nums = await page.locator('#ov-cards .num').allTextContents();
    eq(Number(nums[0]), DEVICES, 'the devices card counts the whole registry');
    await shot(page, outDir, 'overview-after-building');
    eq(page.problems, [], 'no script error, no CSP report');
  } finally {
    await context.close();
    await srv.stop();
    fs.rmSync(tmp, {recursive: true, force: true});
  }
}

export const FIRSTVIEW_TESTS = {firstview};
