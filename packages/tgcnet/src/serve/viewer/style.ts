// The viewer's stylesheet, served as /viewer.css (a string module, so it ships in dist/).
export const VIEWER_CSS = `
:root { color-scheme: light dark; --accent: #b3261e; --border: #8888; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.lede, #model-info { margin: 0 0 1rem; opacity: .85; }
main { display: grid; grid-template-columns: minmax(280px, 380px) 1fr; gap: 1.5rem; align-items: start; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
form { display: grid; gap: .9rem; }
label, legend { font-weight: 600; display: block; margin-bottom: .25rem; }
.drop { border: 2px dashed var(--border); border-radius: 8px; padding: .75rem; }
.drop.over { border-color: var(--accent); background: #b3261e14; }
.hint { font-weight: normal; font-size: .9rem; opacity: .8; }
textarea, select, input[type=text], input[type=password] { width: 100%; font: inherit; padding: .4rem; }
textarea { min-height: 5.5rem; resize: vertical; }
button { font: inherit; font-weight: 600; padding: .55rem 1.2rem; border-radius: 6px; border: 0; background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { opacity: .5; cursor: not-allowed; }
:focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
#status { min-height: 1.5em; font-weight: 600; }
#status[data-state=error] { color: var(--accent); }
.view { display: grid; gap: .75rem; }
canvas { display: block; background: #000; border-radius: 6px; image-rendering: pixelated; }
.canvas-wrap { overflow: auto; max-width: 100%; max-height: 75vh; cursor: grab; border-radius: 6px; }
.canvas-wrap.panning { cursor: grabbing; }
#legend { list-style: none; display: flex; flex-wrap: wrap; gap: .3rem 1rem; margin: 0; padding: 0; font-size: .9rem; }
#legend .swatch { display: inline-block; width: .9em; height: .9em; border-radius: 2px; margin-right: .35em; vertical-align: -0.1em; }
.controls { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
.controls label { display: inline; margin: 0 .4rem 0 0; }
#download-mask[aria-disabled=true] { pointer-events: none; opacity: .5; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem 1rem; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
details summary { cursor: pointer; }
`;
