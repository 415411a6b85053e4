#!/usr/bin/env python3
"""Reference HD95 and NSD values for src/eval/surface.test.ts, computed independently with
scipy (Debian's python3-scipy), by MONAI's definitions:
  edges    = mask XOR binary_erosion(mask)   (4-neighbour cross, outside = background)
  d(A->B)  = distance_transform_edt(~edges_B, sampling=spacing)[edges_A]   (inf if B has no edge)
  HD95     = max(percentile(d(P->G), 95), percentile(d(G->P), 95)); NaN if either mask is empty
  NSD(tau) = (#d(P->G) <= tau + #d(G->P) <= tau) / (#edges_P + #edges_G); NaN if both empty
Run: python3 packages/tgcnet/scripts/make-surface-fixtures.py > packages/tgcnet/test/fixtures/surface_reference.json
"""
import json
import numpy as np
from scipy import ndimage


def edges(mask):
    return mask ^ ndimage.binary_erosion(mask, border_value=0)


def directed(a_edges, b_edges, spacing):
    if not b_edges.any():
        return np.full(int(a_edges.sum()), np.inf)
    dist = ndimage.distance_transform_edt(~b_edges, sampling=spacing)
    return dist[a_edges]


def scores(pred, gt, spacing, tol):
    # numpy arrays are (rows, cols) = (y, x): sampling is (spacing_y, spacing_x)
    sampling = (spacing[1], spacing[0])
    pe, ge = edges(pred), edges(gt)
    pg, gp = directed(pe, ge, sampling), directed(ge, pe, sampling)
    hd95 = float('nan') if len(pg) == 0 or len(gp) == 0 else float(max(np.percentile(pg, 95), np.percentile(gp, 95)))
    complete = len(pg) + len(gp)
    nsd = float('nan') if complete == 0 else float(((pg <= tol).sum() + (gp <= tol).sum()) / complete)
    return hd95, nsd


def blobs(rng, h, w, n):
    m = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1.5, h / 3), rng.uniform(1.5, w / 3)
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m


rng = np.random.RandomState(7)
cases = []
shapes = [(17, 23), (32, 20), (24, 24)]
for i in range(9):
    h, w = shapes[i % 3]
    gt = blobs(rng, h, w, 1 + i % 3)
    pred = blobs(rng, h, w, 1 + (i + 1) % 3) if i % 4 else ndimage.binary_dilation(gt, iterations=1 + i % 2)
    cases.append((f'random-{i}', pred, gt))
h, w = 16, 16
block = np.zeros((h, w), bool); block[3:9, 4:12] = True
far = np.zeros((h, w), bool); far[12:15, 0:3] = True
edge_touch = np.zeros((h, w), bool); edge_touch[0:5, 10:16] = True
empty = np.zeros((h, w), bool)
cases += [
    ('identical', block, block),
    ('disjoint', far, block),
    ('touches-border', edge_touch, block),
    ('prediction-empty', empty, block),
    ('truth-empty', block, empty),
    ('both-empty', empty, empty),
    ('one-pixel', np.pad(np.ones((1, 1), bool), ((5, 10), (7, 8))), block),
]
out = []
for spacing in ([1.0, 1.0], [0.7, 1.3]):
    for tol in (1.0, 2.0):
        for name, pred, gt in cases:
            hd95, nsd = scores(pred, gt, spacing, tol)
            out.append({
                'name': name, 'width': int(pred.shape[1]), 'height': int(pred.shape[0]), 'spacing': spacing, 'tolerance': tol,
                'prediction': pred.astype(int).ravel().tolist(), 'truth': gt.astype(int).ravel().tolist(),
                'hd95': None if np.isnan(hd95) else hd95, 'nsd': None if np.isnan(nsd) else nsd,
            })
print(json.dumps({'generator': 'scripts/make-surface-fixtures.py (scipy %s, numpy %s)' % (__import__('scipy').__version__, np.__version__), 'cases': out}))
