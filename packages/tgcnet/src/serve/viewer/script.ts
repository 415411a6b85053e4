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

  var state = {
    file: null,      // the chosen image File
    bitmap: null,    // its decoded pixels for display (null if the browser cannot show it)
    mask: null,      // Uint8Array of 0/1, row-major, at the image's own size
    width: 0,
    height: 0,
    maskCanvas: null,
    gt: null,        // the ground-truth image, kept to compare when a new mask arrives
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
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, w, h);
    if (state.bitmap) ctx.drawImage(state.bitmap, 0, 0, w, h);
    else { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, w, h); }
    if (state.maskCanvas) {
      ctx.globalAlpha = Number(opacity.value) / 100;
      ctx.drawImage(state.maskCanvas, 0, 0);
      ctx.globalAlpha = 1;
    }
  }

  function clearResult() {
    state.mask = null;
    state.maskCanvas = null;
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

  function buildMaskCanvas(mask, w, h) {
    var c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    var cx = c.getContext('2d');
    var img = cx.createImageData(w, h);
    for (var i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      img.data[i * 4] = 255;
      img.data[i * 4 + 3] = 255;
    }
    cx.putImageData(img, 0, 0);
    return c;
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
    if (!state.gt || !state.mask) return;
    var gt = binarise(pixelsOf(state.gt, state.width, state.height), state.width * state.height);
    var scaled = state.gt.width !== state.width || state.gt.height !== state.height;
    diceOut.textContent = dice(state.mask, gt).toFixed(4) + (scaled ? ' (ground truth resized to the image)' : '');
  }

  async function errorMessage(response) {
    try {
      var body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return 'the server answered ' + response.status + ' ' + response.statusText;
  }

  async function segment() {
    var text = promptInput.value.trim();
    if (!state.file) { setStatus('Choose an image first.', 'error'); imageInput.focus(); return; }
    if (!text) { setStatus('Type a prompt first: say what to segment.', 'error'); promptInput.focus(); return; }
    state.busy = true;
    updateButton();
    setStatus('Segmenting…', 'busy');
    var body = new FormData();
    body.append('image', state.file, state.file.name);
    body.append('text', text);
    if (auxInput.value.trim()) body.append('aux', auxInput.value.trim());
    try {
      var response = await fetch('/v1/segment', { method: 'POST', body: body, headers: authHeaders() });
      if (!response.ok) {
        var message = await errorMessage(response);
        var retry = response.headers.get('Retry-After');
        setStatus('Not segmented: ' + message + (retry ? ' (retry in ' + retry + ' s)' : ''), 'error');
        return;
      }
      var result = await response.json();
      var url = 'data:image/png;base64,' + result.mask_png_base64;
      var maskImage = await loadImageFromUrl(url);
      state.width = result.width;
      state.height = result.height;
      state.mask = binarise(pixelsOf(maskImage, result.width, result.height), result.width * result.height);
      state.maskCanvas = buildMaskCanvas(state.mask, result.width, result.height);
      download.setAttribute('href', url);
      download.setAttribute('aria-disabled', 'false');
      var share = (100 * result.area / (result.width * result.height)).toFixed(1);
      byId('area').textContent = result.area + ' px (' + share + '% of the image)';
      byId('mean-probability').textContent = result.mean_probability.toFixed(4);
      byId('elapsed').textContent = Math.round(result.elapsed_ms) + ' ms';
      canvas.setAttribute('aria-label', 'The image with the predicted mask in red: ' + share + '% of the image');
      draw();
      showDice();
      setStatus('Done: ' + result.area + ' pixels (' + share + '%) in the mask.' + (result.note ? ' Note: ' + result.note : ''), 'done');
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
    else diceOut.textContent = 'shown after Segment';
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
