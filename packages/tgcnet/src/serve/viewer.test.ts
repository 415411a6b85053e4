// The viewer: the page and its assets are served from the compiled package, the script
// parses, and in headless Chromium (Debian's, never a downloaded one) a person's path works:
// choose an image, type a prompt, press Segment, see the red overlay, download the mask.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type Fixture, listeningFixture, PROMPT, skipWithoutBpe } from './test_fixture.js';
import { VIEWER_JS } from './viewer/script.js';

const CHROMIUM = '/usr/bin/chromium';

// The page's DOM as far as these tests touch it (the package compiles without the DOM lib).
interface DocLike {
  getElementById(id: string): {
    textContent: string | null;
    width: number;
    height: number;
    getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  } | null;
}

/** Runs in the page: 1 where the overlay canvas is red (red well above green), else 0. */
function overlayRedPixels(): { width: number; height: number; red: number[] } {
  const canvas = (globalThis as unknown as { document: DocLike }).document.getElementById('overlay-canvas')!;
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const red: number[] = [];
  for (let i = 0; i < d.length; i += 4) red.push(d[i] - d[i + 1] > 40 ? 1 : 0);
  return { width: canvas.width, height: canvas.height, red };
}

let fx: Fixture;
let base: string;
let close: (() => Promise<void>) | undefined;
before(async () => {
  if (skipWithoutBpe) return;
  ({ fx, base, close } = await listeningFixture());
});
after(async () => {
  await close?.();
});

test('the viewer script is valid JavaScript', () => {
  assert.doesNotThrow(() => new Function(VIEWER_JS));
});

test('GET / serves the page, its script and stylesheet with a strict CSP', { skip: skipWithoutBpe }, async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await page.text();
  for (const id of ['image-input', 'prompt', 'examples', 'segment-button', 'status', 'overlay-canvas', 'opacity', 'download-mask', 'gt-input', 'dice', 'zoom', 'threshold', 'show-probability', 'legend', 'canvas-wrap']) {
    assert.match(html, new RegExp(`id="${id}"`), id);
  }
  assert.match(html, /aria-live="polite"/);
  assert.match(html, /Unilateral pulmonary infection, one infected area, lower right lung\./);
  assert.match(await (await fetch(`${base}/viewer.js`)).text(), /segment-form/);
  assert.equal((await fetch(`${base}/viewer.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
});

const noBrowser = skipWithoutBpe || (!existsSync(CHROMIUM) ? `no ${CHROMIUM}: install Debian's chromium (apt-get install chromium) to run the browser test` : false);

test('in headless Chromium: upload, prompt, Segment -> red overlay and a downloadable mask equal to the API answer', { skip: noBrowser }, async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(`${base}/`);
    await page.setInputFiles('#image-input', { name: 'chest.png', mimeType: 'image/png', buffer: fx.png });
    await page.waitForSelector('#status[data-state="ready"]');
    assert.equal(await page.isDisabled('#segment-button'), true, 'no prompt yet: Segment is disabled');
    await page.selectOption('#examples', { index: 1 });
    await page.fill('#prompt', PROMPT);
    await page.click('#segment-button');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]');
    const status = await page.textContent('#status');
    assert.equal(await page.getAttribute('#status', 'data-state'), 'done', status ?? '');

    // The API's mask for the same image and prompt.
    const f = new FormData();
    f.append('image', new Blob([fx.png], { type: 'image/png' }), 'chest.png');
    f.append('text', PROMPT);
    const api = Buffer.from(await (await fetch(`${base}/v1/segment`, { method: 'POST', body: f })).arrayBuffer());
    const apiMask = Array.from((await sharp(api).greyscale().raw().toBuffer()).values(), (v) => (v > 127 ? 1 : 0));

    // The download link holds exactly that PNG.
    const href = (await page.getAttribute('#download-mask', 'href')) ?? '';
    assert.match(href, /^data:image\/png;base64,/);
    assert.ok(Buffer.from(href.split(',')[1], 'base64').equals(api), 'the downloadable mask is the API answer');

    // The overlay: the canvas at the image's size, red exactly where the mask is.
    const drawn = await page.evaluate(overlayRedPixels);
    assert.deepEqual([drawn.width, drawn.height], [96, 72]);
    assert.deepEqual(drawn.red, apiMask, 'red pixels of the overlay = the API mask');
    assert.ok(apiMask.includes(1) && apiMask.includes(0), 'the fixture gives a mask with both values, so the comparison means something');

    // Opacity 0 hides the overlay.
    await page.fill('#opacity', '0');
    assert.ok((await page.evaluate(overlayRedPixels)).red.every((v) => v === 0));

    await page.fill('#opacity', '50');

    // Zoom: the canvas keeps its pixels and is shown larger.
    await page.fill('#zoom', '200');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { getElementById(id: string): { style: { width: string } } } }).document.getElementById('overlay-canvas').style.width), '192px');
    assert.equal(await page.textContent('#zoom-value'), '200%');

    // A higher threshold keeps fewer pixels; back at 0.50 the overlay is the API's mask again.
    const redCount = async () => (await page.evaluate(overlayRedPixels)).red.reduce((a, v) => a + v, 0);
    const atHalf = await redCount();
    await page.fill('#threshold', '95');
    assert.equal(await page.textContent('#threshold-value'), '0.95');
    assert.ok((await redCount()) <= atHalf);
    await page.fill('#threshold', '50');
    assert.deepEqual((await page.evaluate(overlayRedPixels)).red, apiMask);

    // The probability heat map replaces the mask colours.
    await page.check('#show-probability');
    assert.notDeepEqual((await page.evaluate(overlayRedPixels)).red, apiMask);
    await page.uncheck('#show-probability');

    // A ground truth equal to the prediction scores Dice 1, and its outline is drawn in green.
    await page.setInputFiles('#gt-input', { name: 'gt.png', mimeType: 'image/png', buffer: api });
    await page.waitForFunction(() => /^1\.0000/.test((globalThis as unknown as { document: DocLike }).document.getElementById('dice')?.textContent ?? ''));
    const green = await page.evaluate(() => {
      const canvas = (globalThis as unknown as { document: DocLike }).document.getElementById('overlay-canvas')!;
      const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const out: number[] = [];
      for (let i = 0; i < d.length; i += 4) out.push(d[i + 1] === 255 && d[i] === 0 && d[i + 2] === 0 ? 1 : 0);
      return out;
    });
    const onEdge = (i: number) => {
      const [x, y] = [i % 96, Math.floor(i / 96)];
      const m = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= 96 || yy >= 72 ? 0 : apiMask[yy * 96 + xx]);
      return apiMask[i] === 1 && (m(x - 1, y) === 0 || m(x + 1, y) === 0 || m(x, y - 1) === 0 || m(x, y + 1) === 0);
    };
    assert.ok(green.some((v) => v === 1), 'an outline is drawn');
    assert.ok(green.every((v, i) => v === 0 || onEdge(i)), 'green only on the ground truth outline');

    // Two prompts, one per line: one request, two masks, a legend entry each.
    await page.fill('#prompt', `${PROMPT}\nno infection`);
    await page.click('#segment-button');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]');
    assert.match((await page.textContent('#status')) ?? '', /^Done: 2 prompts/);
    assert.equal(await page.locator('#legend li').count(), 2);
    assert.deepEqual(consoleErrors, [], 'no errors in the console (favicon included)');
  } finally {
    await browser.close();
  }
});
