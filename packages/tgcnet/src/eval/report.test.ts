// The evaluation report as a person sees it: written from a summary, opened in headless
// Chromium (Debian's), screenshotted; no console errors, the Dice axis from 0 to 1, the
// histogram and the by-prompt table present, every case image loaded.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { bootstrapDice } from './bootstrap.js';
import { SegmentationMetric, countCase } from './metrics.js';
import { type ReportCase, writeReport } from './report.js';

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function reportCase(id: string, shift: number): ReportCase {
  const w = 32;
  const h = 24;
  const truth = Uint8Array.from({ length: w * h }, (_, i) => ((i % w) - 12) ** 2 + (Math.floor(i / w) - 12) ** 2 < 30 ? 1 : 0);
  const prediction = Uint8Array.from({ length: w * h }, (_, i) => ((i % w) - 12 - shift) ** 2 + (Math.floor(i / w) - 12) ** 2 < 30 ? 1 : 0);
  return { counts: { ...countCase(id, prediction, truth), prompt: 'lesion' }, text: `prompt of ${id}`, width: w, height: h, image: Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 256), truth, prediction };
}

test('the report opens in Chromium without console errors, Dice from 0 to 1, histogram and prompt table shown', { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}` }, async () => {
  const metric = new SegmentationMetric();
  const cases = [0, 1, 2, 3, 4, 5].map((s) => reportCase(`case-${s}`, s));
  for (const c of cases) metric.update({ ...c.counts, hd95: c.counts.intersection > 0 ? 1 + c.counts.predicted / 100 : Number.NaN, nsd: 0.5 });
  const log = join(dir, 'metrics.jsonl');
  writeFileSync(log, [1, 2, 3].map((e) => JSON.stringify({ type: 'epoch', epoch: e, trainLoss: 0.5 / e, val: { diceMicro: 0.8 + e / 100, diceMacro: 0.78 + e / 100 } })).join('\n'));
  const path = await writeReport(join(dir, 'report'), {
    title: 'tgcnet evaluation: test split of data',
    summary: metric.aggregate(),
    metricsLog: log,
    best: cases.slice(0, 2),
    worst: cases.slice(-2),
    facts: { checkpoint: 'runs/x/best' },
    diceCi: bootstrapDice(metric.cases),
    perPrompt: metric.byPrompt(),
    caseDice: cases.map((c) => 2 * c.counts.intersection / (c.counts.predicted + c.counts.actual)),
    threshold: 0.5,
    nsdTolerance: 2,
  });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${path}`);
    const text = (await page.textContent('body')) ?? '';
    assert.match(text, /Dice micro/);
    assert.match(text, /95% bootstrap intervals/);
    assert.match(text, /Per-case Dice \(6 cases\)/);
    assert.match(text, /By prompt/);
    assert.match(text, /HD95 median/);
    const labels = await page.locator('svg[aria-label="Validation Dice"] text').allTextContents();
    assert.ok(labels.includes('0.000') && labels.includes('1.000'), `Dice axis from 0 to 1: ${labels.join(' ')}`);
    const images = await page.evaluate(() =>
      Array.from((globalThis as unknown as { document: { images: ArrayLike<{ complete: boolean; naturalWidth: number }> } }).document.images).map((i) => i.complete && i.naturalWidth > 0),
    );
    assert.equal(images.length, 4);
    assert.ok(images.every(Boolean), 'every case image loads');
    const shot = await page.screenshot({ fullPage: true, path: join(dir, 'report.png') });
    const stats = await sharp(shot).stats();
    assert.ok(stats.channels[0].stdev > 10, 'the screenshot is not blank');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
