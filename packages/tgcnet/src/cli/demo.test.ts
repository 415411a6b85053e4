import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_BAR, demoVerdict } from './demo.js';

test('the verdict passes only when the masks are good and follow the prompt', () => {
  const pass = demoVerdict(0.91, 0.36);
  assert.equal(pass.pass, true);
  assert.match(pass.sentence, /^PASS: test Dice 0\.910 >= 0\.85, and 0\.550 lower with other cases' prompts/);
  // The failure seen on a fresh AMD machine: good-looking Dice, the text ignored.
  const ignored = demoVerdict(0.657, 0.641);
  assert.equal(ignored.pass, false);
  assert.match(ignored.sentence, /^FAIL: the model does not follow the prompt\. .*falls by only 0\.016/);
  const blurry = demoVerdict(0.8, 0.4);
  assert.equal(blurry.pass, false);
  assert.match(blurry.sentence, /follows the prompt .* not accurate enough: test Dice 0\.800 < 0\.85/);
  assert.equal(demoVerdict(DEMO_BAR.dice, DEMO_BAR.dice - DEMO_BAR.drop).pass, true, 'the bar itself passes');
});
