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
  for (const id of ['image-input', 'prompt', 'examples', 'segment-button', 'status', 'overlay-canvas', 'opacity', 'download-mask', 'gt-input', 'dice']) {
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

    // A ground truth equal to the prediction scores Dice 1.
    await page.setInputFiles('#gt-input', { name: 'gt.png', mimeType: 'image/png', buffer: api });
    await page.waitForFunction(() => /^1\.0000/.test((globalThis as unknown as { document: DocLike }).document.getElementById('dice')?.textContent ?? ''));
  } finally {
    await browser.close();
  }
});
