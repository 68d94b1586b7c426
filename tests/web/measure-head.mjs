// What Debian's chromium sends to the dashboard: the request heads of a page load, a
// module, and an API call and an API write with the session cookie, caught by a raw TCP
// listener on 127.0.0.1. Prints each head's bytes, fields and the cost reqlimit.c counts
// (bytes + 64 per field) as JSON. usage: node measure-head.mjs
import net from 'node:net';
import {chromium} from 'playwright-core';

const heads = [];
const srv = net.createServer((sock) => {
  let buf = '';
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    let end;
    while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
      const head = buf.slice(0, end + 4);
      buf = buf.slice(end + 4);
      const lines = head.split('\r\n').filter(Boolean);
      const [method, url] = lines[0].split(' ');
      const q = url.includes('?') ? url.split('?')[1].split('&').length : 0;
      heads.push({method, url, bytes: head.length - 2, fields: lines.length - 1 + q,
        cost: head.length - 2 + (lines.length - 1 + q) * 64, head});
      const len = /content-length: *(\d+)/i.exec(head);
      if (len) buf = buf.slice(Number(len[1]));
      let body = '', type = 'application/json';
      if (url === '/') {
        type = 'text/html';
        body = '<!doctype html><script type="module" src="/ui/js/app.js"></script>';
      } else if (url.endsWith('.js')) {
        type = 'text/javascript';
        body = "await fetch('/api/v1/devices?filter=platform%3Desp8266%20version%3C2.0.0&sort=-last_seen&limit=50&offset=100');" +
          "await fetch('/api/v1/devices/5C:CF:7F:00:00:01/pin', {method:'POST', headers:{'Content-Type':'application/json','X-CSRF-Token':'" + 'c'.repeat(64) + "'}, body:'{\"release\":3}'});" +
          "document.title='done';";
      } else body = '{}';
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: ' + type + '\r\nContent-Length: ' +
        Buffer.byteLength(body) + '\r\n\r\n' + body);
    }
  });
});
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
const port = srv.address().port;
const browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--no-sandbox']});
const ctx = await browser.newContext();
await ctx.addCookies([{name: 'updraft_session', value: 'a'.repeat(64), domain: '127.0.0.1',
  path: '/', httpOnly: true, sameSite: 'Strict'}]);
const page = await ctx.newPage();
await page.goto('http://127.0.0.1:' + port + '/');
await page.waitForFunction(() => document.title === 'done');
await browser.close();
srv.close();
console.log(JSON.stringify({chromium: browser.version(), heads: heads.map(({head, ...x}) => x),
  largest: heads.reduce((a, b) => (b.cost > a.cost ? b : a))}, null, 1));
