// Release notes in the browser: a small, strict Markdown subset turned into DOM nodes,
// never into HTML text (docs/dashboard.md "Release notes"). What it knows: headings (#
// to ######), paragraphs, line breaks, lists (- * + and 1.), block quotes (>), fenced
// code (```), inline `code`, **strong**, *emphasis* / _emphasis_, and [links](url) whose
// URL is http: or https: (any other link is shown as its text and its URL, not followed).
// Anything else, HTML included, is shown as the text it is.
import {h} from './dom.js';

const SAFE_URL = /^https?:\/\/[^\s<>"']+$/i;

// Inline spans of one line of text: code first (nothing inside it is markup), then
// links, strong, emphasis. Returns an array of nodes and strings.
export function inline(text) {
  const out = [];
  let i = 0;
  let plain = '';
  const flush = () => {
    if (plain) out.push(plain);
    plain = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && /[\\`*_[\]()#>+\-.!]/.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        out.push(h('code', null, text.slice(i + 1, end)));
        i = end + 1;
        continue;
      }
    }
    if (c === '[') {
      const close = text.indexOf('](', i + 1);
      const endUrl = close > 0 ? text.indexOf(')', close + 2) : -1;
      if (close > i && endUrl > close) {
        const label = text.slice(i + 1, close);
        const url = text.slice(close + 2, endUrl).trim();
        flush();
        if (SAFE_URL.test(url)) {
          out.push(h('a', {href: url, rel: 'noopener noreferrer nofollow', target: '_blank'},
            ...inline(label)));
        } else {
          out.push(...inline(label), ' (' + url + ')');
        }
        i = endUrl + 1;
        continue;
      }
    }
    if ((c === '*' && text[i + 1] === '*') || (c === '_' && text[i + 1] === '_')) {
      const mark = c + c;
      const end = text.indexOf(mark, i + 2);
      if (end > i + 2) {
        flush();
        out.push(h('strong', null, ...inline(text.slice(i + 2, end))));
        i = end + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] && text[i + 1] !== ' ') {
      const end = text.indexOf(c, i + 1);
      if (end > i + 1 && text[end - 1] !== ' ') {
        flush();
        out.push(h('em', null, ...inline(text.slice(i + 1, end))));
        i = end + 1;
        continue;
      }
    }
    plain += c;
    i++;
  }
  flush();
  return out;
}

// Lines of a paragraph: joined, a line ending in two blanks (or a backslash) breaks.
function paragraph(lines) {
  const kids = [];
  lines.forEach((l, k) => {
    const hard = / {2,}$/.test(l) || /\\$/.test(l);
    const t = l.replace(/ {2,}$/, '').replace(/\\$/, '').trim();
    kids.push(...inline(t));
    if (k < lines.length - 1) kids.push(hard ? h('br') : ' ');
  });
  return h('p', null, ...kids);
}

const LIST_ITEM = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;

// The notes as a document fragment inside a <div class="notes">.
export function renderMarkdown(src) {
  const root = h('div', {class: 'notes'});
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = /^\s{0,3}(```|~~~)/.exec(line);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++; // the closing fence (or the end)
      root.appendChild(h('pre', null, h('code', null, body.join('\n'))));
      continue;
    }
    const head = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (head) {
      // a release's notes sit under the page's own headings: # is shown as h3
      const level = Math.min(6, head[1].length + 2);
      root.appendChild(h('h' + level, null, ...inline(head[2])));
      i++;
      continue;
    }
    if (/^\s{0,3}>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i]))
        body.push(lines[i++].replace(/^\s{0,3}>\s?/, ''));
      root.appendChild(h('blockquote', null, ...renderMarkdown(body.join('\n')).childNodes));
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const ordered = /\d/.test(item[1]);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length) {
        const m = LIST_ITEM.exec(lines[i]);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        const text = [m[2]];
        i++;
        // continuation lines: indented, not a new item
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !LIST_ITEM.exec(lines[i]))
          text.push(lines[i++].trim());
        list.appendChild(h('li', null, ...inline(text.join(' '))));
      }
      root.appendChild(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !LIST_ITEM.exec(lines[i]) &&
           !/^\s{0,3}(#{1,6}\s|>|```|~~~)/.test(lines[i]))
      para.push(lines[i++]);
    root.appendChild(paragraph(para));
  }
  return root;
}
