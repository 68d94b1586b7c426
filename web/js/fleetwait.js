// The fleet's figures (GET /api/v1/overview, /api/v1/problems) right after a server start:
// while the server reads its device registry for the first time it answers 202
// {"building": true, "devices_read": N, "retry_ms": T} at once (docs/api.md "Fleet");
// this says so in a note under root and asks again every T ms until the figures come.
import {message} from './dom.js';

// The answer with the figures, or null when the page was left meanwhile.
export async function fleetFigures(ctx, path, root) {
  let note = null;
  for (;;) {
    const j = await ctx.api('GET', path);
    if (!ctx.current()) return null;
    if (!j || !j.building) {
      if (note) note.remove();
      return j;
    }
    const text = 'The server started a moment ago and is reading its device registry (' +
      j.devices_read + ' devices so far): the figures follow as soon as it is done.';
    if (!note) {
      note = message('note', text);
      note.id = 'fleet-building';
      root.appendChild(note);
    } else {
      note.textContent = text;
    }
    await new Promise((r) => setTimeout(r, j.retry_ms || 500));
    if (!ctx.current()) return null;
  }
}
