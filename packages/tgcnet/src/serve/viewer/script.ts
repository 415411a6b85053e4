// The viewer's script, served as /viewer.js: plain browser JavaScript in a string module, so
// it ships inside dist/ with the compiled server (no copy step). It must stay free of
// backticks and dollar-brace; viewer.test.ts parses it to catch a slip.
export const VIEWER_JS = String.raw`(function () {
  'use strict';
  var byId = function (id) { return document.getElementById(id); };
  var form = byId('segment-form');
  var imageInput = byId('image-input');
  var promptInput = byId('prompt');
  var examples = byId('examples');
  var auxInput = byId('aux');
  var keyInput = byId('api-key');
  var button = byId('segment-button');
  var statusEl = byId('status');
  var canvas = byId('overlay-canvas');
  var ctx = canvas.getContext('2d');
  var opacity = byId('opacity');
  var opacityValue = byId('opacity-value');
  var download = byId('download-mask');
  var gtInput = byId('gt-input');
  var diceOut = byId('dice');
  var wrap = byId('canvas-wrap');
  var zoom = byId('zoom');
  var zoomValue = byId('zoom-value');
  var threshold = byId('threshold');
  var thresholdValue = byId('threshold-value');
  var showProbability = byId('show-probability');
  var legend = byId('legend');

  // One colour per prompt (red first); the ground truth's outline is green.
  var COLOURS = [[255, 0, 0], [0, 160, 255], [255, 200, 0], [200, 0, 255], [0, 220, 160], [255, 120, 0]];
  var MAX_PROMPTS = 16;

  var state = {
    file: null,      // the chosen image File
    bitmap: null,    // its decoded pixels for display (null if the browser cannot show it)
    mask: null,      // the first prompt's mask at the current threshold: Uint8Array of 0/1, row-major, image size
    width: 0,
    height: 0,
    results: [],     // per prompt: { prompt, colour, serverMask, probability (Uint8Array, p x 255) or null, maskPng }
    layer: null,     // the masks (or the heat map) drawn once, composited over the image
    gt: null,        // the ground-truth image, kept to compare when a new mask arrives
    gtEdges: null,   // its outline at the image size (Uint8Array of 0/1)
    busy: false,
  };

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.setAttribute('data-state', kind);
    document.body.setAttribute('data-state', kind);
  }

  function authHeaders() {
    var headers = { Accept: 'application/json' };
    var key = keyInput.value.trim();
    if (key) headers.Authorization = 'Bearer ' + key;
    return headers;
  }

  function updateButton() {
    button.disabled = state.busy || !state.file || promptInput.value.trim() === '';
  }

  function draw() {
    var w = state.width || canvas.width;
    var h = state.height || canvas.height;
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    canvas.style.width = Math.round(w * Number(zoom.value) / 100) + 'px';
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, w, h);
    if (state.bitmap) ctx.drawImage(state.bitmap, 0, 0, w, h);
    else { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, w, h); }
    if (state.layer) {
      ctx.globalAlpha = Number(opacity.value) / 100;
      ctx.drawImage(state.layer, 0, 0);
      ctx.globalAlpha = 1;
    }
    if (state.gtEdges) ctx.drawImage(buildLayer(function (img) {
      for (var i = 0; i < state.gtEdges.length; i++) if (state.gtEdges[i]) paint(img, i, [0, 255, 0]);
    }), 0, 0);
  }

  function paint(img, i, rgb) {
    img.data[i * 4] = rgb[0];
    img.data[i * 4 + 1] = rgb[1];
    img.data[i * 4 + 2] = rgb[2];
    img.data[i * 4 + 3] = 255;
  }

  function buildLayer(fill) {
    var c = document.createElement('canvas');
    c.width = state.width;
    c.height = state.height;
    var cx = c.getContext('2d');
    var img = cx.createImageData(state.width, state.height);
    fill(img);
    cx.putImageData(img, 0, 0);
    return c;
  }

  // A prompt's mask at the slider's threshold: the server's own mask at 0.50 (exact), else the
  // probability map (8-bit) thresholded here.
  function maskAt(result) {
    var t = Number(threshold.value) / 100;
    if (t === 0.5 || !result.probability) return result.serverMask;
    var cut = t * 255;
    var out = new Uint8Array(result.probability.length);
    for (var i = 0; i < out.length; i++) out[i] = result.probability[i] > cut ? 1 : 0;
    return out;
  }

  // Blue (0) to red (1) through yellow, transparent where the probability is near 0.
  function heat(p) {
    var r = p < 0.5 ? Math.round(510 * p) : 255;
    var g = p < 0.5 ? Math.round(510 * p) : Math.round(510 * (1 - p));
    var b = p < 0.5 ? Math.round(255 * (1 - 2 * p)) : 0;
    return [r, g, b];
  }

  function rebuildLayer() {
    if (state.results.length === 0) { state.layer = null; state.mask = null; return; }
    var masks = state.results.map(maskAt);
    state.mask = masks[0];
    if (showProbability.checked && state.results[0].probability) {
      state.layer = buildLayer(function (img) {
        for (var i = 0; i < state.width * state.height; i++) {
          var p = 0;
          for (var k = 0; k < state.results.length; k++) if (state.results[k].probability) p = Math.max(p, state.results[k].probability[i] / 255);
          if (p > 0.02) paint(img, i, heat(p));
        }
      });
    } else {
      state.layer = buildLayer(function (img) {
        // Later prompts under earlier ones: the first prompt's colour wins where masks overlap.
        for (var k = masks.length - 1; k >= 0; k--) {
          for (var i = 0; i < masks[k].length; i++) if (masks[k][i]) paint(img, i, state.results[k].colour);
        }
      });
    }
    var first = state.results[0];
    var href = Number(threshold.value) === 50 ? first.maskPng : maskDataUrl(state.mask);
    download.setAttribute('href', href);
    download.setAttribute('aria-disabled', 'false');
  }

  function maskDataUrl(mask) {
    var c = buildLayer(function (img) {
      for (var i = 0; i < mask.length; i++) paint(img, i, mask[i] ? [255, 255, 255] : [0, 0, 0]);
    });
    return c.toDataURL('image/png');
  }

  function showLegend() {
    legend.textContent = '';
    state.results.forEach(function (r) {
      var li = document.createElement('li');
      var sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = 'rgb(' + r.colour.join(',') + ')';
      li.appendChild(sw);
      li.appendChild(document.createTextNode(r.prompt + ': ' + r.area + ' px'));
      legend.appendChild(li);
    });
  }

  function clearResult() {
    state.mask = null;
    state.results = [];
    state.layer = null;
    legend.textContent = '';
    download.setAttribute('href', '#');
    download.setAttribute('aria-disabled', 'true');
    byId('area').textContent = '–';
    byId('mean-probability').textContent = '–';
    byId('elapsed').textContent = '–';
    diceOut.textContent = '–';
  }

  async function chooseImage(file) {
    if (!file) return;
    state.file = file;
    clearResult();
    try {
      state.bitmap = await createImageBitmap(file);
      state.width = state.bitmap.width;
      state.height = state.bitmap.height;
      canvas.setAttribute('aria-label', 'The image ' + file.name + ' (no mask yet)');
      setStatus('Image ' + file.name + ' (' + state.width + ' x ' + state.height + '). Type or pick a prompt, then press Segment.', 'ready');
    } catch (err) {
      // TIFF and some other formats: the server reads them, this browser cannot show them.
      state.bitmap = null;
      state.width = 0;
      state.height = 0;
      setStatus('This browser cannot display ' + file.name + ', but the server may still segment it: press Segment.', 'ready');
    }
    draw();
    updateButton();
  }

  function loadImageFromUrl(url) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error('could not decode the image')); };
      img.src = url;
    });
  }

  // Pixels of any drawable at a given size: nearest-neighbour, so binary masks stay binary.
  function pixelsOf(drawable, w, h) {
    var c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    var cx = c.getContext('2d', { willReadFrequently: true });
    cx.imageSmoothingEnabled = false;
    cx.drawImage(drawable, 0, 0, w, h);
    return cx.getImageData(0, 0, w, h).data;
  }

  // 0/1 per pixel: the largest colour channel above 127 (the rule the training data uses).
  function binarise(rgba, n) {
    var out = new Uint8Array(n);
    for (var i = 0; i < n; i++) {
      var o = i * 4;
      out[i] = Math.max(rgba[o], rgba[o + 1], rgba[o + 2]) > 127 ? 1 : 0;
    }
    return out;
  }

  // The outline of a 0/1 mask: foreground pixels with a background (or outside) 4-neighbour.
  function edgesOf(mask, w, h) {
    var out = new Uint8Array(mask.length);
    for (var y = 0; y < h; y++) {
      for (var x = 0; x < w; x++) {
        var i = y * w + x;
        if (!mask[i]) continue;
        if (x === 0 || y === 0 || x === w - 1 || y === h - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - w] || !mask[i + w]) out[i] = 1;
      }
    }
    return out;
  }

  function dice(a, b) {
    var inter = 0, sa = 0, sb = 0;
    for (var i = 0; i < a.length; i++) {
      sa += a[i];
      sb += b[i];
      inter += a[i] & b[i];
    }
    return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
  }

  function showDice() {
    if (!state.gt || !state.width) return;
    var gt = binarise(pixelsOf(state.gt, state.width, state.height), state.width * state.height);
    state.gtEdges = edgesOf(gt, state.width, state.height);
    draw();
    if (!state.mask) return;
    var scaled = state.gt.width !== state.width || state.gt.height !== state.height;
    diceOut.textContent = dice(state.mask, gt).toFixed(4) + (scaled ? ' (ground truth resized to the image)' : '') + (Number(threshold.value) !== 50 ? ' at threshold ' + (Number(threshold.value) / 100).toFixed(2) : '');
  }

  async function errorMessage(response) {
    try {
      var body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return 'the server answered ' + response.status + ' ' + response.statusText;
  }

  async function decodeGreyPng(base64, w, h) {
    var img = await loadImageFromUrl('data:image/png;base64,' + base64);
    var rgba = pixelsOf(img, w, h);
    var out = new Uint8Array(w * h);
    for (var i = 0; i < out.length; i++) out[i] = rgba[i * 4];
    return out;
  }

  async function segment() {
    var lines = promptInput.value.split(/\r?\n/).map(function (l) { return l.trim(); }).filter(function (l) { return l !== ''; });
    var text = lines.join(' ');
    if (lines.length > MAX_PROMPTS) { setStatus('At most ' + MAX_PROMPTS + ' prompts (lines) at once.', 'error'); promptInput.focus(); return; }
    if (!state.file) { setStatus('Choose an image first.', 'error'); imageInput.focus(); return; }
    if (!text) { setStatus('Type a prompt first: say what to segment.', 'error'); promptInput.focus(); return; }
    state.busy = true;
    updateButton();
    setStatus('Segmenting…', 'busy');
    var body = new FormData();
    body.append('image', state.file, state.file.name);
    lines.forEach(function (l) { body.append('text', l); });
    if (auxInput.value.trim() && lines.length === 1) body.append('aux', auxInput.value.trim());
    try {
      var response = await fetch('/v1/segment?probabilities=true', { method: 'POST', body: body, headers: authHeaders() });
      if (!response.ok) {
        var message = await errorMessage(response);
        var retry = response.headers.get('Retry-After');
        setStatus('Not segmented: ' + message + (retry ? ' (retry in ' + retry + ' s)' : ''), 'error');
        return;
      }
      var answer = await response.json();
      var items = answer.results ? answer.results : [answer];
      state.width = answer.width;
      state.height = answer.height;
      var n = answer.width * answer.height;
      var results = [];
      for (var k = 0; k < items.length; k++) {
        var it = items[k];
        var maskPng = 'data:image/png;base64,' + it.mask_png_base64;
        results.push({
          prompt: it.prompt,
          colour: COLOURS[k % COLOURS.length],
          area: it.area,
          maskPng: maskPng,
          serverMask: binarise(pixelsOf(await loadImageFromUrl(maskPng), answer.width, answer.height), n),
          probability: it.probability_png_base64 ? await decodeGreyPng(it.probability_png_base64, answer.width, answer.height) : null,
        });
      }
      state.results = results;
      rebuildLayer();
      showLegend();
      var result = items[0];
      var share = (100 * result.area / n).toFixed(1);
      byId('area').textContent = result.area + ' px (' + share + '% of the image)' + (items.length > 1 ? ', first prompt' : '');
      byId('mean-probability').textContent = result.mean_probability.toFixed(4);
      byId('elapsed').textContent = Math.round(answer.elapsed_ms) + ' ms';
      canvas.setAttribute('aria-label', 'The image with the predicted mask' + (items.length > 1 ? 's of ' + items.length + ' prompts in their colours' : ' in red') + ': ' + share + '% of the image');
      draw();
      showDice();
      setStatus('Done: ' + (items.length > 1 ? items.length + ' prompts, the first ' : '') + result.area + ' pixels (' + share + '%) in the mask.' + (result.note ? ' Note: ' + result.note : ''), 'done');
    } catch (err) {
      setStatus('Not segmented: ' + (err && err.message ? err.message : String(err)) + '. Is the server running?', 'error');
    } finally {
      state.busy = false;
      updateButton();
    }
  }

  async function chooseGroundTruth(file) {
    if (!file) return;
    try {
      state.gt = await createImageBitmap(file);
    } catch (err) {
      setStatus('This browser cannot read the ground-truth file ' + file.name + ': use a PNG.', 'error');
      return;
    }
    if (state.mask) showDice();
    else {
      showDice();
      diceOut.textContent = 'shown after Segment';
    }
  }

  function dropTarget(zone, onFile) {
    zone.addEventListener('dragover', function (e) { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', function () { zone.classList.remove('over'); });
    zone.addEventListener('drop', function (e) {
      e.preventDefault();
      zone.classList.remove('over');
      var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) onFile(f);
    });
  }

  imageInput.addEventListener('change', function () { chooseImage(imageInput.files[0]); });
  gtInput.addEventListener('change', function () { chooseGroundTruth(gtInput.files[0]); });
  dropTarget(byId('drop-zone'), chooseImage);
  dropTarget(byId('gt-drop-zone'), chooseGroundTruth);
  promptInput.addEventListener('input', updateButton);
  promptInput.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); if (!button.disabled) segment(); }
  });
  examples.addEventListener('change', function () {
    if (examples.value) { promptInput.value = examples.value; updateButton(); }
  });
  opacity.addEventListener('input', function () {
    opacityValue.textContent = opacity.value + '%';
    draw();
  });
  threshold.addEventListener('input', function () {
    thresholdValue.textContent = (Number(threshold.value) / 100).toFixed(2);
    rebuildLayer();
    draw();
    showDice();
  });
  showProbability.addEventListener('change', function () { rebuildLayer(); draw(); });
  function setZoom(value) {
    zoom.value = String(Math.max(100, Math.min(800, value)));
    zoomValue.textContent = zoom.value + '%';
    draw();
  }
  zoom.addEventListener('input', function () { setZoom(Number(zoom.value)); });
  wrap.addEventListener('wheel', function (e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    setZoom(Number(zoom.value) + (e.deltaY < 0 ? 25 : -25));
  }, { passive: false });
  // Drag to pan (the view scrolls when zoomed in).
  var pan = null;
  wrap.addEventListener('pointerdown', function (e) {
    pan = { x: e.clientX, y: e.clientY, left: wrap.scrollLeft, top: wrap.scrollTop };
    wrap.classList.add('panning');
  });
  window.addEventListener('pointermove', function (e) {
    if (!pan) return;
    wrap.scrollLeft = pan.left - (e.clientX - pan.x);
    wrap.scrollTop = pan.top - (e.clientY - pan.y);
  });
  window.addEventListener('pointerup', function () { pan = null; wrap.classList.remove('panning'); });
  wrap.addEventListener('keydown', function (e) {
    if (e.key === '+' || e.key === '=') setZoom(Number(zoom.value) + 25);
    if (e.key === '-') setZoom(Number(zoom.value) - 25);
  });
  form.addEventListener('submit', function (e) { e.preventDefault(); segment(); });

  fetch('/v1/model', { headers: authHeaders() })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (m) {
      if (!m) { byId('model-info').textContent = 'Model details need the API key (More options).'; return; }
      var dice = m.checkpoint && typeof m.checkpoint.best_dice === 'number' ? ', validation Dice ' + m.checkpoint.best_dice.toFixed(3) : '';
      byId('model-info').textContent = 'Model: ' + (m.preset || 'custom') + ' preset, ' + (m.parameters.total / 1e6).toFixed(2) + 'M parameters' + dice + '.';
    })
    .catch(function () { /* the page still works without it */ });
})();
`;
