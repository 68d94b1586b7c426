// Chart.js (Debian's libjs-chart.js, embedded as /ui/vendor/chart.min.js), loaded once,
// when a page first draws a chart, with colours that follow the light or dark theme.
let loading = null;

export function chartLib() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/ui/vendor/chart.min.js';
      s.onload = () => resolve(window.Chart);
      s.onerror = () => {
        loading = null;
        reject(new Error('the chart library (/ui/vendor/chart.min.js) could not be loaded'));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}

// A colour per series, readable on both themes (Okabe-Ito, then more).
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442',
  '#7f7f7f', '#8c564b', '#17becf', '#bcbd22', '#9467bd'];
export function colour(i) { return PALETTE[i % PALETTE.length]; }

// Text and grid colours of the current theme, from the stylesheet's variables.
export function themeColours() {
  const cs = getComputedStyle(document.documentElement);
  return {fg: cs.getPropertyValue('--fg').trim(), muted: cs.getPropertyValue('--muted').trim(),
    line: cs.getPropertyValue('--line').trim()};
}

// new Chart(canvas, config) with the theme's colours and no animation (screenshots and
// readers with reduced motion see the final state at once).
export async function makeChart(canvas, config) {
  const Chart = await chartLib();
  const t = themeColours();
  Chart.defaults.color = t.muted;
  Chart.defaults.borderColor = t.line;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: false},
    config.options || {});
  return new Chart(canvas, config);
}
