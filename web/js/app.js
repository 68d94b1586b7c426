// The dashboard's shell: sign-in, the navigation, who is signed in, and the hash router
// that loads one ES module per page (web/js/pages/<name>.js, docs/dashboard.md).
import {api, ApiError, qs, setCsrf, setUnauthorizedHandler} from './api.js';
import {append, clear, h, message} from './dom.js';

// The pages, in the navigation's order. '#/<name>[/<id>][?query]' loads pages/<name>.js.
export const PAGES = [
  {name: 'overview', title: 'Overview'},
  {name: 'devices', title: 'Devices'},
  {name: 'releases', title: 'Releases'},
  {name: 'rollouts', title: 'Rollouts'},
  {name: 'problems', title: 'Problems'},
  {name: 'events', title: 'Events'},
];

const main = document.getElementById('main');
const top = document.getElementById('top');
const nav = document.getElementById('nav');
const whoBox = document.getElementById('who');
let session = null;   // {name, role, csrf, expires}
let leave = null;     // what the page on screen asked to run when it is left
let generation = 0;   // renders of an older route are dropped
let unloading = false; // the document is being left: its cut requests are no errors
window.addEventListener('pagehide', () => { unloading = true; });
window.addEventListener('beforeunload', () => { unloading = true; });

// '#/devices/5C:CF:7F:00:00:01?sort=mac' -> {name, id, query}
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const qAt = raw.indexOf('?');
  const path = qAt < 0 ? raw : raw.slice(0, qAt);
  const query = new URLSearchParams(qAt < 0 ? '' : raw.slice(qAt + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return {name: parts[0] || 'overview', id: parts.length > 1 ? parts.slice(1).join('/') : null,
    query};
}

function canWrite() {
  return !!session && (session.role === 'operator' || session.role === 'admin');
}

function navigate(hash, replace) {
  if (replace) {
    history.replaceState(null, '', hash);
    route();
  } else if (location.hash === hash) route();
  else location.hash = hash;
}

function buildNav(active) {
  clear(nav);
  nav.appendChild(h('ul', null, PAGES.map((p) => h('li', null,
    h('a', {href: '#/' + p.name, 'aria-current': p.name === active ? 'page' : null}, p.title)))));
}

function buildWho() {
  clear(whoBox);
  append(whoBox, [
    h('span', {class: 'who-name', title: 'signed in with the token ' + session.name},
      session.name, ' ', h('span', {class: 'role role-' + session.role}, session.role)),
    h('button', {type: 'button', class: 'quiet', onclick: signOut}, 'Sign out'),
  ]);
}

async function signOut() {
  try {
    await api('DELETE', '/session');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) {
      showSignIn(null, 'Sign-out failed: ' + e.message);
      return;
    }
  }
  session = null;
  setCsrf(null);
  showSignIn('Signed out.');
}

function setTitle(t) {
  document.title = t ? t + ' · updraft' : 'updraft';
}

// The page for the current hash, into a fresh container (a render still running for an
// older hash writes into a container that is no longer on screen).
async function route() {
  if (!session) return;
  const gen = ++generation;
  const r = parseHash(location.hash);
  const page = PAGES.find((p) => p.name === r.name);
  buildNav(r.name);
  if (leave) {
    try { leave(); } catch (e) { console.error(e); }
    leave = null;
  }
  clear(main);
  const root = h('div', {class: 'page page-' + r.name});
  main.appendChild(root);
  if (!page) {
    setTitle('Not found');
    append(root, [h('h1', null, 'No such page'),
      message('error', 'There is no page "', r.name, '": pick one in the navigation.')]);
    return;
  }
  setTitle(page.title);
  let mod;
  try {
    mod = await import('./pages/' + r.name + '.js');
  } catch (e) {
    if (gen !== generation) return;
    const built = await fetch('/ui/js/pages/' + r.name + '.js', {method: 'HEAD'})
      .then((x) => x.ok).catch(() => true);
    append(root, [h('h1', null, page.title), built
      ? message('error', 'This page could not be loaded: ', e.message)
      : message('note', 'This page is not built yet. Its data is in the API (docs/api.md) ' +
          'and the updraft command meanwhile.')]);
    return;
  }
  if (gen !== generation) return;
  const ctx = {
    api, qs, session, canWrite: canWrite(), navigate, setTitle,
    current: () => gen === generation,
  };
  try {
    const done = await mod.render(root, {id: r.id, query: r.query}, ctx);
    if (gen === generation && typeof done === 'function') leave = done;
    else if (typeof done === 'function') done();
  } catch (e) {
    if (gen !== generation || unloading || (e instanceof ApiError && e.status === 401)) return;
    console.error(e);
    root.appendChild(message('error', e.message));
  }
}

function showShell() {
  top.hidden = false;
  buildWho();
  route();
}

// The sign-in view; note: a sentence above the form, error: one in it.
function showSignIn(note, error) {
  session = null;
  top.hidden = true;
  if (leave) {
    try { leave(); } catch (e) { console.error(e); }
    leave = null;
  }
  generation++;
  setTitle('Sign in');
  clear(main);
  const input = h('input', {id: 'token', name: 'token', type: 'password', required: true,
    autocomplete: 'current-password', spellcheck: 'false', 'aria-describedby': 'token-help'});
  const err = h('p', {class: 'msg error', role: 'alert', id: 'signin-error', hidden: !error},
    error || '');
  const button = h('button', {type: 'submit', class: 'primary'}, 'Sign in');
  const form = h('form', {class: 'signin', novalidate: true}, [
    h('h1', null, 'Sign in to updraft'),
    note ? message('note', note) : null,
    h('label', {for: 'token'}, 'API token'),
    input,
    h('p', {class: 'help', id: 'token-help'},
      'The admin token (admin-token in the server\'s data directory, printed at its first ' +
      'start) or a token from "updraft token create NAME --role viewer".'),
    err,
    button,
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!input.value.trim()) {
      err.textContent = 'Enter an API token.';
      err.hidden = false;
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const s = await api('POST', '/session', {token: input.value.trim()});
      input.value = '';
      session = s;
      setCsrf(s.csrf);
      showShell();
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      input.select();
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  main.appendChild(h('div', {class: 'signin-wrap'}, form));
  input.focus();
}

setUnauthorizedHandler((why) => {
  if (session) showSignIn('Your session is over: sign in again.', null);
  else if (why) console.info(why);
});

window.addEventListener('hashchange', () => {
  route();
  main.focus({preventScroll: true});
});

async function boot() {
  try {
    const s = await api('GET', '/session');
    session = s;
    setCsrf(s.csrf);
    showShell();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showSignIn();
    else {
      clear(main);
      main.appendChild(message('error', e.message));
    }
  }
}

boot();
export {qs};
