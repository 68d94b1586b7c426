// Overview: the fleet at a glance (docs/dashboard.md "Overview").
import {h, message} from '../dom.js';

export async function render(root, params, ctx) {
  root.appendChild(h('h1', null, 'Overview'));
  const st = await ctx.api('GET', '/');
  root.appendChild(message('note', 'Signed in as ', st.token.name, ' (', st.token.role, ').'));
}
