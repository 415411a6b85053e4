// The viewer's HTML page, served at GET /. Plain HTML: native form controls (keyboard usable
// as they are), a label for each, status messages in an aria-live region. Element ids are
// stable: the browser test and anyone scripting the page rely on them.
import { EXAMPLE_PROMPTS } from './examples.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const options = EXAMPLE_PROMPTS.map((p) => `<option value="${escapeHtml(p)}">${escapeHtml(p)}</option>`).join('\n          ');

export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tgcnet viewer: text-guided segmentation</title>
  <link rel="stylesheet" href="/viewer.css">
  <link rel="icon" href="/favicon.ico">
  <script src="/viewer.js" defer></script>
</head>
<body data-state="idle">
  <header>
    <h1>tgcnet viewer</h1>
    <p class="lede">Choose an image, say what to segment, press Segment: the mask appears in red over the image.
      Research software, not a medical device.</p>
    <p id="model-info" aria-live="polite"></p>
  </header>
  <main>
    <form id="segment-form" novalidate>
      <div class="drop" id="drop-zone">
        <label for="image-input">Image <span class="hint">(PNG, JPEG, WebP, TIFF, GIF, BMP or DICOM; drop it here or choose)</span></label>
        <input type="file" id="image-input" name="image" accept="image/*,.tif,.tiff,.bmp,.dcm,.dicom,application/dicom">
      </div>
      <div>
        <label for="prompt">Prompt <span class="hint">(what to segment; one per line for several, each in its own colour; Ctrl+Enter segments)</span></label>
        <textarea id="prompt" name="text" required placeholder="Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung."></textarea>
      </div>
      <div>
        <label for="examples">Example prompts <span class="hint">(LViT / QaTa-COV19 wording)</span></label>
        <select id="examples">
          <option value="">Choose an example…</option>
          ${options}
        </select>
      </div>
      <details>
        <summary>More options</summary>
        <div>
          <label for="aux">Auxiliary description <span class="hint">(optional; without it the server looks one up)</span></label>
          <input type="text" id="aux" name="aux">
        </div>
        <div>
          <label for="api-key">API key <span class="hint">(only if the server was started with --api-key-env)</span></label>
          <input type="password" id="api-key" autocomplete="off">
        </div>
      </details>
      <div><button type="submit" id="segment-button" disabled>Segment</button></div>
      <p id="status" role="status" aria-live="polite" data-state="idle">Choose an image to begin.</p>
    </form>
    <section class="view" aria-label="Result">
      <div class="canvas-wrap" id="canvas-wrap" tabindex="0" aria-label="Result view: drag to pan, Ctrl+wheel or the Zoom slider to zoom">
        <canvas id="overlay-canvas" width="320" height="320" role="img" aria-label="The image with the predicted mask in red (no image yet)"></canvas>
      </div>
      <ul id="legend" aria-label="Prompts and their colours"></ul>
      <div class="controls">
        <span><label for="zoom">Zoom</label>
          <input type="range" id="zoom" min="100" max="800" step="25" value="100" aria-describedby="zoom-value">
          <output id="zoom-value" for="zoom">100%</output></span>
        <span><label for="opacity">Mask opacity</label>
          <input type="range" id="opacity" min="0" max="100" step="5" value="50" aria-describedby="opacity-value">
          <output id="opacity-value" for="opacity">50%</output></span>
        <span><label for="threshold">Threshold</label>
          <input type="range" id="threshold" min="5" max="95" step="5" value="50" aria-describedby="threshold-value">
          <output id="threshold-value" for="threshold">0.50</output></span>
        <span><input type="checkbox" id="show-probability"> <label for="show-probability">Probability heat map</label></span>
        <a id="download-mask" href="#" download="mask.png" aria-disabled="true">Download mask (PNG)</a>
      </div>
      <dl id="result-summary" aria-label="Result figures">
        <dt>Mask area</dt><dd id="area">–</dd>
        <dt>Mean probability</dt><dd id="mean-probability">–</dd>
        <dt>Time</dt><dd id="elapsed">–</dd>
        <dt>Dice vs ground truth</dt><dd><output id="dice">–</output></dd>
      </dl>
      <div class="drop" id="gt-drop-zone">
        <label for="gt-input">Ground-truth mask <span class="hint">(optional: drop or choose one to see its outline in green and Dice)</span></label>
        <input type="file" id="gt-input" accept="image/*,.bmp">
      </div>
    </section>
  </main>
</body>
</html>
`;
