// Browser tests of the Releases and Rollouts pages (run.mjs GROUP releases | rollouts):
// upload a real corpus image and see the inspector's verdict before Publish, upload an
// HTML page (picked, and dropped) and see it refused in the server's words, notes rendered
// safely, a retire refused with the server's sentence; create a rollout against the sim
// fleet with the live count of matching devices, pause it, see why devices failed.
// The corpus comes from ../shared/testdata/firmware: without it the releases group prints
// SKIPPED (its real subject is a real firmware file).
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {check, eq, newPage, shot, signIn, SKIP, TOKEN} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CORPUS = process.env.UPDRAFT_FIRMWARE_DIR ||
  path.resolve(HERE, '../../../shared/testdata/firmware');
const APP = 'esp8266-app_wbec_pio-espressif8266-4.0.1_core3.0.2_4M.bin';
const HTML = '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n';

async function signedIn(browser, srv) {
  const {context, page} = await newPage(browser);
  await signIn(page, srv.url, TOKEN);
  await page.getByRole('navigation', {name: 'Pages'}).waitFor();
  return {context, page};
}

// What the page must never cause; expected: the browser's own log line for an answer the
// test asked for on purpose (a bad filter is a 400 the page shows in words).
function problems(page, what, expected = null) {
  page.problems.filter((p) => !(expected && expected.test(p)))
    .forEach((p) => check(false, what + ': ' + p));
}

export async function releases(srv, browser, outDir) {
  if (!fs.existsSync(path.join(CORPUS, APP))) {
    console.log('SKIPPED: the real firmware corpus is not at ' + CORPUS +
      ' (the upload test needs a real image; set UPDRAFT_FIRMWARE_DIR)');
    process.exit(SKIP);
  }
  const {context, page} = await signedIn(browser, srv);
  const api = (await srv.api('GET', '/releases')).json.releases;
  await page.goto(srv.url + '/#/releases');
  await page.locator('table.releases').waitFor();
  for (const r of api) {
    const row = page.locator('table.releases tbody tr', {hasText: r.version});
    check(await row.count() === 1, 'the list shows release ' + r.version);
    const text = await row.textContent();
    for (const ch of r.serving) check(text.includes(ch), r.version + ': served by ' + ch);
    if (r.adoption.tool_devices)
      check(text.includes(r.adoption.tool_devices + ' simulated'),
        r.version + ': ' + r.adoption.tool_devices + ' simulated devices run it: ' + text);
  }
  await shot(page, outDir, 'releases');

  // a real image from the corpus: the verdict before Publish, as the API says it
  await page.setInputFiles('#up-file', path.join(CORPUS, APP));
  await page.locator('#verdict').waitFor();
  const want = (await srv.api('POST', '/inspect?filename=' + APP,
    new Uint8Array(fs.readFileSync(path.join(CORPUS, APP))))).json;
  const verdict = await page.locator('#verdict').textContent();
  for (const s of [want.inspection.verdict, want.inspection.kind, 'ESP8266', '4.0 MiB', 'DIO',
    'compressed', 'not signed'])
    check(verdict.includes(s), 'the verdict shows ' + s + ': ' + verdict);
  check(await page.getByRole('button', {name: 'Publish'}).isDisabled(),
    'no version yet: Publish is off');
  check(/needs a version/.test(await page.locator('#refusal').textContent()),
    'and the server says why');
  await page.fill('#up-version', '9.9.0');
  await page.fill('#up-channel', 'beta');
  await page.getByText('Ready to publish as version 9.9.0 on channel beta').waitFor();
  await shot(page, outDir, 'releases-verdict');
  check((await srv.api('GET', '/releases')).json.releases.length === api.length,
    'nothing stored before Publish');
  await page.getByRole('button', {name: 'Publish'}).click();
  await page.getByText('Published:').waitFor();
  await page.locator('table.releases tbody tr', {hasText: '9.9.0'}).waitFor();
  const after = (await srv.api('GET', '/releases')).json.releases;
  const made = after.find((r) => r.version === '9.9.0');
  check(made && made.serving.includes('beta') && made.filename === APP, 'published on beta: ' +
    JSON.stringify(made && made.serving));

  // an HTML page saved as .bin: refused, with the inspector's sentence; picked, then dropped
  const htmlFile = path.join(srv.tmp, 'firmware.bin');
  fs.writeFileSync(htmlFile, HTML);
  await page.setInputFiles('#up-file', htmlFile);
  await page.locator('#refusal').waitFor();
  const refusal = await page.locator('#refusal').textContent();
  check(/HTML page/.test(refusal) && /Raw/.test(refusal), 'HTML refused in words: ' + refusal);
  check(await page.getByRole('button', {name: 'Publish'}).isDisabled(), 'and cannot be published');
  await shot(page, outDir, 'releases-html-refused');
  await page.reload();
  await page.locator('#dropzone').waitFor();
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], 'dropped.bin', {type: 'application/octet-stream'}));
    return d;
  }, HTML);
  await page.dispatchEvent('#dropzone', 'drop', {dataTransfer: dt});
  await page.locator('#refusal').waitFor();
  check(/dropped\.bin/.test(await page.locator('#verdict').textContent()) &&
    /HTML page/.test(await page.locator('#refusal').textContent()), 'a dropped file is inspected');

  // one release: notes rendered safely, then saved; a refused retire says why
  await page.goto(srv.url + '/#/releases/' + made.id);
  await page.getByRole('heading', {name: /Release \d+: 9\.9\.0/}).waitFor();
  const md = '# Fixes\n\n- **Wi-Fi** reconnects\n- see [the log](https://example.com/log)\n' +
    '- [bad](javascript:alert(1)) <script>alert(2)</script> <img src=x onerror=alert(3)>\n\n' +
    '```\ncode <b>here</b>\n```\n';
  await page.locator('details summary').click();
  await page.fill('#notes-edit', md);
  await page.getByRole('button', {name: 'Save notes'}).click();
  await page.getByText('Notes saved.').waitFor();
  const notes = page.locator('#notes');
  eq(await notes.locator('h3').textContent(), 'Fixes', 'a heading');
  eq(await notes.locator('strong').textContent(), 'Wi-Fi', 'strong');
  eq(await notes.locator('a').count(), 1, 'one link: the https one');
  eq(await notes.locator('a').getAttribute('href'), 'https://example.com/log', 'its address');
  eq(await notes.locator('script, img, b').count(), 0, 'no element from the notes\' HTML');
  check((await notes.textContent()).includes('<script>alert(2)</script>'), 'HTML shown as text');
  check((await notes.textContent()).includes('javascript:alert(1)'), 'the bad link as text');
  eq((await srv.api('GET', '/releases/' + made.id)).json.notes, md, 'the server keeps the text');
  eq(await notes.locator('a').getAttribute('rel'), 'noopener noreferrer nofollow',
    'a link from the notes gets no window.opener and sends no Referer');
  await shot(page, outDir, 'release-page');
  // the ways notes try to run script: every one shown as text, none a link or an element
  const vectors = [
    '[a](javascript:alert`1`//https://example.com/)', '[b](JaVaScRiPt:alert(1))',
    '[c]( javascript:alert(1))', '[d](&#106;avascript:alert(1))',
    '[e](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[f](vbscript:msgbox(1))', '[g](//evil.example/x)', '[h](https://ok.example/" onclick="alert(1))',
    '[i](https://ok.example/\'onmouseover=alert(1))', '<a href="javascript:alert(1)">j</a>',
    '<iframe src="https://evil.example"></iframe>', '<svg onload=alert(1)>',
    '**<img src=x onerror=alert(1)>**', '`<script>alert(1)</script>`', '&lt;b&gt;k&lt;/b&gt;',
    '[<img src=x onerror=alert(1)>](https://ok.example/l)'];
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  const xmd = vectors.map((v) => '- ' + v).join('\n') + '\n';
  eq((await srv.api('PUT', '/releases/' + made.id + '/notes', {notes: xmd})).status, 200,
    'notes of script vectors saved');
  await page.reload();
  await page.getByRole('heading', {name: /Release \d+: 9\.9\.0/}).waitFor();
  await notes.locator('li').first().waitFor();
  eq(await notes.locator('li').count(), vectors.length, 'one item per vector');
  const hrefs = await notes.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  eq(hrefs, ['https://ok.example/l'], 'the only link is the plain https one: ' + hrefs.join(' '));
  eq(await notes.locator('script, img, iframe, svg, object, embed, b').count(), 0,
    'no element from the notes\' HTML');
  const onAttrs = await notes.locator('*').evaluateAll((els) => els.flatMap((e) =>
    [...e.attributes].map((a) => a.name).filter((n) => /^on/i.test(n))));
  eq(onAttrs, [], 'no event handler attribute');
  const text = await notes.textContent();
  for (const bit of ['javascript:alert`1`//https://example.com/', '&#106;avascript:',
    '<iframe src="https://evil.example"></iframe>', '&lt;b&gt;k&lt;/b&gt;', '<svg onload=alert(1)>'])
    check(text.includes(bit), 'shown as the text it is: ' + bit);
  eq(await notes.locator('code').first().textContent(), '<script>alert(1)</script>',
    'code keeps its HTML as text');
  await page.waitForTimeout(300);
  eq(dialogs, [], 'no script ran');
  const stable = after.find((r) => r.serving.includes('stable'));
  await page.goto(srv.url + '/#/releases/' + stable.id);
  await page.getByRole('button', {name: 'Retire', exact: true}).click();
  await page.locator('#refusal').waitFor();
  const why = await page.locator('#refusal').textContent();
  check(/stable/.test(why) && /fallback/.test(why), 'retire refused in the server\'s words: ' + why);
  await shot(page, outDir, 'release-retire-refused');
  eq(await page.evaluate(() => window.__csp), [], 'no CSP violation');
  problems(page, 'releases');
  await context.close();
}

export async function rollouts(srv, browser, outDir) {
  const {context, page} = await signedIn(browser, srv);
  const rels = (await srv.api('GET', '/releases')).json.releases;
  const r11 = rels.find((r) => r.version === '1.1.0');
  await page.goto(srv.url + '/#/rollouts?release=' + r11.id);
  await page.locator('#ro-target').waitFor();
  // the live count: what /plan says for the filter typed, and a bad filter in words
  const filt = 'tool=sim version=1.0.0';
  await page.fill('#ro-target', filt);
  const plan = (await srv.api('POST', '/rollouts/plan', {release: r11.id, target: filt,
    waves: '1%,10%,50%,100%'})).json;
  await page.getByText(plan.total.eligible + ' devices match').waitFor();
  check(plan.total.eligible > 0, 'the sim fleet matches: ' + plan.total.eligible);
  await page.fill('#ro-target', 'colour=red');
  await page.locator('#ro-count.error').waitFor();
  check(/colour/.test(await page.locator('#ro-count').textContent()), 'a bad filter, said: ' +
    await page.locator('#ro-count').textContent());
  check(await page.getByRole('button', {name: 'Create rollout'}).isDisabled(), 'and no create');
  await page.fill('#ro-target', filt);
  await page.fill('#ro-waves', '50%,100%');
  await page.fill('#ro-sample', '2');
  await page.getByText(/devices match.*waves of/).waitFor();
  await shot(page, outDir, 'rollouts-new');
  const audits = (await srv.api('GET', '/events?kind=audit')).json.events;
  check(!audits.some((e) => e.detail.includes('/rollouts/plan')), 'the live count is no audit event');
  await page.getByRole('button', {name: 'Create rollout'}).click();
  await page.getByRole('heading', {name: /Rollout \d+: release/}).waitFor();
  const id = Number(/#\/rollouts\/(\d+)/.exec(page.url())[1]);
  const ro = (await srv.api('GET', '/rollouts/' + id)).json;
  eq([ro.target, ro.waves, ro.state], [filt, '50%,100%', 'running'], 'the rollout as created');
  eq(await page.locator('table.waves tbody tr').count(), 2, 'two waves shown');
  // while wave 1 soaks: when wave 2 opens, counted down, with the soak (not a dash)
  eq([ro.next_kind, ro.next_wave], ['soak', 2], 'the API: wave 2 after the soak');
  const nextShown = await page.locator('#ro-next').textContent();
  check(/^wave 2 opens in (1 h|59 min|58 min) \(soak 1 h\)$/.test(nextShown),
    'Next while wave 1 soaks: ' + nextShown);
  await shot(page, outDir, 'rollout-running');

  // devices fail it: the reasons per wave, as the API groups them
  spawnSync(srv.bin, ['sim', '--server', srv.url + '/update', '--devices', '24', '--version',
    '0.9.0', '--interval', '1s', '--duration', '6s', '--quiet', '--bad-release',
    '1.1.0:50%:refuse'], {encoding: 'utf8', timeout: 120000});
  const now = (await srv.api('GET', '/rollouts/' + id)).json;
  const fails = now.waves_detail.flatMap((w) => w.failures);
  await page.reload();
  await page.getByRole('heading', {name: 'Why devices failed'}).waitFor();
  if (fails.length) {
    await page.locator('table.failures').waitFor();
    const shown = await page.locator('table.failures').textContent();
    for (const f of fails) check(shown.includes(f.reason), 'the reason is shown: ' + f.reason);
  } else {
    check(await page.getByText('No device failed.').isVisible(), 'no failure: said');
  }
  // pause (or resume when the health rule paused it first): the sentence is shown
  if (now.state === 'paused') {
    check((await page.locator('#ro-reason').textContent()).includes(now.reason.slice(0, 30)),
      'the pause sentence: ' + now.reason);
    await shot(page, outDir, 'rollout-paused-by-health');
    await page.getByRole('button', {name: 'Resume'}).click();
    await page.getByText('Resuming: done.').waitFor();
  }
  await page.getByRole('button', {name: 'Pause'}).click();
  await page.getByText('Pausing: done.').waitFor();
  eq((await srv.api('GET', '/rollouts/' + id)).json.state, 'paused', 'paused on the server');
  check(/paused/.test(await page.locator('#ro-reason').textContent()), 'the pause sentence shown');
  check(/^nothing opens while the rollout is paused/.test(await page.locator('#ro-next').textContent()),
    'Next while paused: ' + await page.locator('#ro-next').textContent());
  await shot(page, outDir, 'rollout-paused');
  // a second pause is refused by the server, in its words (API call from the page)
  const again = await page.evaluate(async (rid) => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/rollouts/' + rid + '/pause', {method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf}, body: '{}'});
    return [r.status, (await r.json()).error];
  }, id);
  eq(again[0], 409, 'pausing a paused rollout: 409');
  // outside its delivery window: when the window opens, on the rollout zone's clock
  const tokyo = (new Date().getUTCHours() + 9) % 24;
  const hh = (n) => String(n % 24).padStart(2, '0') + ':00';
  const made = (await srv.api('POST', '/rollouts', {release: r11.id, target: 'tool=doctor',
    window: hh(tokyo + 2) + '-' + hh(tokyo + 3), tz: 'Asia/Tokyo'})).json;
  const win = (await srv.api('GET', '/rollouts/' + made.id)).json;
  eq([win.next_kind, win.window_open], ['window', false], 'the API: waits for the window');
  await page.goto(srv.url + '/#/rollouts/' + win.id);
  await page.locator('#ro-next').waitFor();
  const winShown = await page.locator('#ro-next').textContent();
  check(new RegExp('^wave 1 is due; outside the delivery window ' + hh(tokyo + 2) + '-' +
    hh(tokyo + 3) + ' \\(Asia/Tokyo\\), which opens \\w{3} ' + hh(tokyo + 2) +
    ' Asia/Tokyo, in (\\d h( \\d+ min)?|\\d+ min)$').test(winShown), 'Next outside the window: ' + winShown);
  await shot(page, outDir, 'rollout-window');
  await page.goto(srv.url + '/#/rollouts');
  await page.locator('table.rollouts').waitFor();
  check((await page.locator('table.rollouts').textContent()).includes('paused'), 'the list');
  await shot(page, outDir, 'rollouts');
  eq(await page.evaluate(() => window.__csp), [], 'no CSP violation');
  problems(page, 'rollouts', /status of 400 \(Bad Request\)/);
  await context.close();
}
