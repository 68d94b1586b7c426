// Releases (docs/dashboard.md "Releases"): the list with the channels that serve each
// release and how many devices run it; an upload that shows the inspector's verdict
// before Publish (POST /api/v1/inspect); one release with its notes, retire, unretire,
// delete. Every refusal is the server's own sentence.
import {ago, fmtBytes, h, message, table} from '../dom.js';
import {renderMarkdown} from '../markdown.js';

export async function render(root, params, ctx) {
  if (params.id) return releasePage(root, params.id, ctx);
  ctx.setTitle('Releases');
  root.appendChild(h('h1', null, 'Releases'));
  const listBox = h('div');
  if (ctx.canWrite) root.appendChild(uploadPanel(ctx, () => loadList(listBox, ctx)));
  root.appendChild(h('h2', null, 'All releases'));
  root.appendChild(listBox);
  await loadList(listBox, ctx);
}

function adoptionText(a) {
  if (!a) return '—';
  const parts = [a.devices + (a.devices === 1 ? ' device' : ' devices')];
  if (a.tool_devices) parts.push(a.tool_devices + ' simulated');
  return parts.join(', ');
}

async function loadList(box, ctx) {
  let data;
  try {
    data = await ctx.api('GET', '/releases');
  } catch (e) {
    box.replaceChildren(message('error', e.message));
    return;
  }
  if (!ctx.current()) return;
  const rows = data.releases || [];
  if (!rows.length) {
    box.replaceChildren(message('note', 'No release yet: upload a firmware file above, or ',
      h('code', null, 'updraft release add FILE --version V'), '.'));
    return;
  }
  box.replaceChildren(table([
    {title: 'ID', cell: (r) => h('a', {href: '#/releases/' + r.id}, String(r.id))},
    {title: 'Version', cell: (r) => h('a', {href: '#/releases/' + r.id}, r.version)},
    {title: 'Platform', cell: (r) => r.chip ? r.platform + ' (' + r.chip + ')' : r.platform},
    {title: 'Kind', cell: (r) => r.mode === 'fs' ? 'filesystem' : r.kind},
    {title: 'Channels', cell: (r) => (r.serving || []).length
      ? (r.serving || []).map((c) => h('span', {class: 'tag'}, c)) : h('span', {class: 'muted'}, '—')},
    {title: 'Running', class: 'num', cell: (r) => adoptionText(r.adoption)},
    {title: 'Size', class: 'num', cell: (r) => fmtBytes(r.size)},
    {title: 'Added', cell: (r) => ago(r.created)},
    {title: 'State', cell: (r) => r.retired ? h('span', {class: 'badge warn'}, 'retired')
      : h('span', {class: 'badge good'}, 'active')},
  ], rows, {class: 'data releases'}));
}

// ---- upload: choose or drop a file, see the verdict, then publish -------------------------

function verdictView(p) {
  const i = p.inspection || {};
  const pub = p.publish || {};
  const rel = pub.release || {};
  const facts = [];
  const fact = (k, v) => { if (v !== null && v !== undefined && v !== '') facts.push(h('dt', null, k), h('dd', null, v)); };
  fact('File', p.file);
  fact('Verdict', h('span', {class: 'badge ' + (i.acceptable ? 'good' : 'bad')}, i.verdict || '?'));
  fact('Kind', i.kind);
  fact('Chip', i.chip || (i.platform !== 'unknown' ? i.platform : null));
  if (i.flash) fact('Flash', (i.flash.size ? fmtBytes(i.flash.size) + ', ' : '') + i.flash.mode +
    (i.flash.freq_mhz ? ', ' + i.flash.freq_mhz + ' MHz' : ''));
  fact('Size', fmtBytes(i.size));
  fact('Version', rel.version || (i.app_desc && i.app_desc.version) || null);
  const signed = i.signature ? i.signature.len + '-byte signature'
    : i.secure_boot_v2 ? (i.secure_boot_v2.signed ? 'Secure Boot v2 signed' : 'not signed') : 'not signed';
  fact('Signed', signed);
  if (i.gzip_copy) {
    const save = 100 - Math.round(100 * i.gzip_copy.size / i.gzip_copy.inflated_size);
    fact('Gzip', fmtBytes(i.gzip_copy.size) + ' compressed (' + save + '% fewer bytes for devices whose boot loader inflates)');
  } else if (i.gzip) fact('Gzip', 'the file is gzip-compressed');
  fact('Reason', i.reason);
  const out = [h('dl', {class: 'facts', id: 'verdict'}, facts)];
  if (pub.ok) out.push(message('ok', 'Ready to publish as version ', rel.version,
    rel.channel ? ' on channel ' + rel.channel : '', '.'));
  else out.push(h('p', {class: 'msg error', role: 'alert', id: 'refusal'}, pub.reason && pub.reason !== pub.error
    ? pub.error + ' — ' + pub.reason : pub.error));
  return out;
}

function uploadPanel(ctx, reload) {
  const file = h('input', {type: 'file', id: 'up-file', accept: '.bin,.gz,application/octet-stream'});
  const version = h('input', {type: 'text', id: 'up-version', placeholder: 'e.g. 1.4.2 (ESP32: from the image)', autocomplete: 'off'});
  const channel = h('input', {type: 'text', id: 'up-channel', placeholder: 'e.g. stable (optional)', autocomplete: 'off'});
  const notes = h('textarea', {id: 'up-notes', rows: '3', placeholder: 'Markdown (optional)'});
  const result = h('div', {id: 'up-result', 'aria-live': 'polite'});
  const publish = h('button', {type: 'button', class: 'primary', disabled: true}, 'Publish');
  let chosen = null;
  let seq = 0;
  let timer = null;

  const form = () => {
    const f = new FormData();
    if (version.value.trim()) f.append('version', version.value.trim());
    if (channel.value.trim()) f.append('channel', channel.value.trim());
    if (notes.value) f.append('notes', notes.value);
    f.append('file', chosen, chosen.name);
    return f;
  };
  const preview = async () => {
    if (!chosen) return;
    const mine = ++seq;
    publish.disabled = true;
    result.replaceChildren(h('p', {class: 'loading'}, 'Inspecting ', chosen.name, '…'));
    try {
      const p = await ctx.api('POST', '/inspect', form());
      if (mine !== seq || !ctx.current()) return;
      result.replaceChildren(...verdictView(p));
      publish.disabled = !p.publish.ok;
    } catch (e) {
      if (mine === seq) result.replaceChildren(message('error', e.message));
    }
  };
  const choose = (f) => {
    if (!f) return;
    chosen = f;
    drop.querySelector('.drop-name').textContent = f.name + ' (' + fmtBytes(f.size) + ')';
    preview();
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(preview, 400);
  };
  file.addEventListener('change', () => choose(file.files[0]));
  version.addEventListener('input', later);
  channel.addEventListener('input', later);
  publish.addEventListener('click', async () => {
    publish.disabled = true;
    try {
      const rel = await ctx.api('POST', '/releases', form());
      result.replaceChildren(message('ok', 'Published: ',
        h('a', {href: '#/releases/' + rel.id}, 'release ' + rel.id), ', version ', rel.version, '.'));
      chosen = null;
      file.value = '';
      drop.querySelector('.drop-name').textContent = 'No file chosen';
      reload();
    } catch (e) {
      result.appendChild(h('p', {class: 'msg error', role: 'alert', id: 'refusal'}, e.message));
    }
  });
  const drop = h('label', {class: 'dropzone', for: 'up-file', id: 'dropzone'},
    h('strong', null, 'Drop a firmware file here'), ' or choose one: ', file,
    h('span', {class: 'drop-name muted'}, 'No file chosen'));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    choose(e.dataTransfer.files[0]);
  });
  return h('section', {class: 'panel', 'aria-labelledby': 'up-title'},
    h('h2', {id: 'up-title'}, 'Add a release'),
    h('p', {class: 'help'}, 'The server inspects the file first and says what it is and whether devices would take it; nothing is stored before Publish.'),
    drop,
    h('div', {class: 'toolbar'},
      h('label', null, 'Version ', version), h('label', null, 'Channel ', channel)),
    h('label', {class: 'block'}, 'Notes ', notes),
    result, h('div', {class: 'actions'}, publish));
}

// ---- one release ---------------------------------------------------------------------------

async function releasePage(root, id, ctx) {
  let r;
  try {
    r = await ctx.api('GET', '/releases/' + encodeURIComponent(id));
  } catch (e) {
    root.append(h('h1', null, 'Release ' + id), message('error', e.message));
    return;
  }
  if (!ctx.current()) return;
  ctx.setTitle('Release ' + r.id);
  const status = h('div', {id: 'rel-status', 'aria-live': 'polite'});
  const fact = (k, v) => [h('dt', null, k), h('dd', null, v)];
  root.append(
    h('p', null, h('a', {href: '#/releases'}, '← Releases')),
    h('h1', null, 'Release ' + r.id + ': ' + r.version, ' ',
      h('span', {class: 'badge ' + (r.retired ? 'warn' : 'good')}, r.retired ? 'retired' : 'active')),
    h('dl', {class: 'facts'},
      fact('Platform', r.chip ? r.platform + ' (' + r.chip + ')' : r.platform),
      fact('Kind', r.kind + (r.mode === 'fs' ? ' (filesystem)' : '')),
      fact('File', r.filename + ', ' + fmtBytes(r.size)),
      fact('Served by', (r.serving || []).length ? (r.serving || []).join(', ') : 'no channel'),
      fact('Running it', adoptionText(r.adoption)),
      fact('Verdict', r.inspection ? r.inspection.verdict + ': ' + r.inspection.reason : '—'),
      fact('Gzip copy', r.gzip ? fmtBytes(r.gzip.size) : 'none'),
      fact('MD5', h('span', {class: 'mono'}, r.md5)),
      fact('Added', ago(r.created)),
      fact('Download', h('a', {href: r.url}, r.url))),
    status);

  const notesBox = h('div', {id: 'notes'});
  const showNotes = (text) => notesBox.replaceChildren(text ? renderMarkdown(text)
    : h('p', {class: 'muted'}, 'No notes.'));
  showNotes(r.notes);
  root.append(h('h2', null, 'Notes'), notesBox);

  const act = async (what, method, path, body, done) => {
    status.replaceChildren(h('p', {class: 'loading'}, what, '…'));
    try {
      const out = await ctx.api(method, path, body);
      done(out);
    } catch (e) {
      status.replaceChildren(h('p', {class: 'msg error', role: 'alert', id: 'refusal'}, e.message));
    }
  };
  if (!ctx.canWrite) return;

  const editor = h('textarea', {id: 'notes-edit', rows: '8'});
  editor.value = r.notes || '';
  root.append(h('details', null, h('summary', null, 'Edit the notes'),
    h('p', {class: 'help'}, 'Markdown: headings, lists, **strong**, *emphasis*, `code`, links to http(s) addresses. At most 4,095 bytes.'),
    editor,
    h('div', {class: 'actions'}, h('button', {type: 'button', onclick: () =>
      act('Saving the notes', 'PUT', '/releases/' + r.id + '/notes', {notes: editor.value}, (out) => {
        showNotes(out.notes);
        status.replaceChildren(message('ok', 'Notes saved.'));
      })}, 'Save notes'))));

  const reload = () => ctx.navigate('#/releases/' + r.id, true);
  const buttons = [h('a', {href: '#/rollouts?release=' + r.id, class: 'button'}, 'Roll out…')];
  if (r.retired) {
    buttons.push(h('button', {type: 'button', onclick: () =>
      act('Unretiring', 'POST', '/releases/' + r.id + '/unretire', {}, reload)}, 'Unretire'));
  } else {
    buttons.push(h('button', {type: 'button', onclick: () =>
      act('Retiring', 'POST', '/releases/' + r.id + '/retire', {}, reload)}, 'Retire'));
    buttons.push(h('button', {type: 'button', onclick: () =>
      act('Retiring', 'POST', '/releases/' + r.id + '/retire', {fallback: 'previous'}, reload)},
    'Retire, channels fall back to the previous release'));
  }
  buttons.push(h('button', {type: 'button', class: 'danger', onclick: () => {
    if (!confirm('Delete release ' + r.id + ' (version ' + r.version + ') and its file?')) return;
    act('Deleting', 'DELETE', '/releases/' + r.id, undefined, () => ctx.navigate('#/releases'));
  }}, 'Delete'));
  root.append(h('h2', null, 'Actions'), h('div', {class: 'actions'}, buttons));
}
