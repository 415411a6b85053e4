import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { CostDecoder, productLogit } from './decoder.js';

test('productLogit is the logit of sigmoid(a) x sigmoid(b), finite at large logits, with finite gradients', () => {
  T.tidy(() => {
    const values = [-40, -8, -1, 0, 0.5, 3, 12, 40];
    const a = T.tensor(values.flatMap((x) => values.map(() => x)), { dtype: 'float64' }).requiresGrad_(true);
    const b = T.tensor(values.flatMap(() => values), { dtype: 'float64' }).requiresGrad_(true);
    const out = productLogit(a, b);
    const expected = a.sigmoid().mul(b.sigmoid()).toNumbers();
    const got = out.sigmoid().toNumbers();
    got.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-6, `${i}: ${p} vs ${expected[i]}`));
    out.sum().backward();
    for (const g of [...a.grad!.toNumbers(), ...b.grad!.toNumbers()]) assert.ok(Number.isFinite(g));
  });
});

for (const gateGrid of [0, 4]) test(`the text gate (grid ${gateGrid}) starts open and lets two prompts give two different masks`, () => {
  T.tidy(() => {
    T.manualSeed(0);
    const spec = { dModel: 16, costChannels: 8, aggregationBlocks: 1, upChannels: [8, 8, 8] as [number, number, number], highResChannels: null, clipCost: false };
    const gated = new CostDecoder({ ...spec, textGate: true, gateGrid });
    assert.equal(gated.gate_key === null, gateGrid > 0);
    const levels = [T.randn([2, 16, 8, 8]), T.randn([2, 16, 4, 4]), T.randn([2, 16, 2, 2])];
    const text = T.randn([2, 16]);
    const open = T.noGrad(() => gated.forward(levels, text, null, null, [16, 16]));
    // At init the gate is sigmoid(1) everywhere: the ungated probability times 0.73.
    T.manualSeed(0);
    const plain = new CostDecoder(spec);
    const ungated = T.noGrad(() => plain.forward(levels, text, null, null, [16, 16]));
    const ratio = open.sigmoid().div(ungated.sigmoid());
    assert.ok(ratio.sub(1 / (1 + Math.exp(-1))).abs().max().item() < 1e-4);
    // With query weights, the map depends on the text: the same image, other masks.
    T.nn.init.normal_(gated.gate_query!.weight, 0, 1);
    const twoPrompts = T.noGrad(() => gated.forward([...levels.map((l) => l.narrow(0, 0, 1).expand(2, -1, -1, -1))], text, null, null, [16, 16]));
    assert.ok(twoPrompts.narrow(0, 0, 1).sub(twoPrompts.narrow(0, 1, 1)).abs().max().item() > 0.1);
    gated.dispose();
    plain.dispose();
  });
});

test('the fine gate grid starts at zero (the coarse gate alone) and draws borders the coarse grid cannot', () => {
  T.tidy(() => {
    const spec = { dModel: 16, costChannels: 8, aggregationBlocks: 1, upChannels: [8, 8, 8] as [number, number, number], highResChannels: null, clipCost: false, textGate: true, gateGrid: 2 };
    T.manualSeed(0);
    const coarse = new CostDecoder(spec);
    T.manualSeed(0);
    const refined = new CostDecoder({ ...spec, gateFineGrid: 8 });
    assert.equal(coarse.gate_fine, null);
    assert.deepEqual(refined.gate_fine!.weight.shape, [64, 16]);
    const levels = [T.randn([1, 16, 8, 8]), T.randn([1, 16, 4, 4]), T.randn([1, 16, 2, 2])];
    const text = T.randn([1, 16]);
    const a = T.noGrad(() => coarse.forward(levels, text, null, null, [16, 16]));
    const b = T.noGrad(() => refined.forward(levels, text, null, null, [16, 16]));
    assert.equal(a.sub(b).abs().max().item(), 0);
    // A fine cell's bias closes one eighth of the map's side; a 2 x 2 grid cannot do that.
    T.noGrad(() => refined.gate_fine!.bias!.narrow(0, 0, 1).fill_(-50));
    const closed = T.noGrad(() => refined.forward(levels, text, null, null, [16, 16]));
    const changed = closed.sub(b).abs().gt(1).float();
    assert.ok(changed.narrow(2, 0, 2).narrow(3, 0, 2).mean().item() === 1, 'the top-left cell is closed');
    assert.equal(changed.narrow(2, 8, 8).sum().item(), 0, 'the lower half is untouched');
    coarse.dispose();
    refined.dispose();
  });
});

test('outputStride 2 adds a stage on the stride-2 map, whose detail reaches the logits where it lies', () => {
  T.tidy(() => {
    T.manualSeed(0);
    const spec = { dModel: 16, costChannels: 8, aggregationBlocks: 1, upChannels: [8, 8, 8] as [number, number, number], highResChannels: 8, clipCost: false };
    assert.equal(new CostDecoder(spec).up2, null);
    const fine = new CostDecoder({ ...spec, outputStride: 2, stride2Channels: 4 });
    const levels = [T.randn([1, 16, 8, 8]), T.randn([1, 16, 4, 4]), T.randn([1, 16, 2, 2])];
    const text = T.randn([1, 16]);
    const highRes = T.randn([1, 8, 16, 16]);
    const stride2 = T.randn([1, 4, 32, 32]);
    const out = T.noGrad(() => fine.forward(levels, text, null, highRes, [64, 64], null, stride2));
    assert.deepEqual(out.shape, [1, 1, 64, 64]);
    // One stride-2 pixel changed: the logits move around it (2 label pixels per cell, a 3x3
    // conv), elsewhere only through the group norm's statistics.
    const poked = stride2.clone();
    T.noGrad(() => poked.narrow(2, 10, 1).narrow(3, 10, 1).fill_(20));
    const diff = T.noGrad(() => fine.forward(levels, text, null, highRes, [64, 64], null, poked)).sub(out).abs();
    const near = diff.narrow(2, 16, 10).narrow(3, 16, 10).max().item();
    const far = diff.narrow(2, 40, 24).narrow(3, 40, 24).max().item();
    assert.ok(near > 10 * far && near > 1e-3, `near ${near}, far ${far}`);
    assert.throws(() => T.noGrad(() => fine.forward(levels, text, null, highRes, [64, 64])), /outputStride 2 needs the CNN stem map at stride 2/);
    fine.dispose();
  });
});
