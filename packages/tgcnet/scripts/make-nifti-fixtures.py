#!/usr/bin/env python3
"""NIfTI inputs for src/infer/nifti_inputs.test.ts, written by nibabel (an independent
reader and writer): a NIfTI-2 CT volume with distinct sform and qform, and a 4-D NIfTI-1
series. reference.json holds what nibabel reads back from them (shape, affine), which our
masks must keep.

Run (Debian: apt-get install python3-nibabel python3-numpy):
  python3 packages/tgcnet/scripts/make-nifti-fixtures.py
"""
import json
import os

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'nifti')
os.makedirs(OUT, exist_ok=True)

x, y, z = np.meshgrid(np.arange(20), np.arange(16), np.arange(3), indexing='ij')
ct = np.where((x - 8) ** 2 + (y - 7) ** 2 < 20, 60, -700 + 20 * x).astype(np.int16)
affine = np.array([[0.8, 0, 0, -10.0], [0, 0.7, 0.1, 12.5], [0, 0, 2.5, -40.0], [0, 0, 0, 1]])
img2 = nib.Nifti2Image(ct, affine)
img2.set_qform(np.diag([0.8, 0.7, 2.5, 1.0]), code=1)
img2.set_sform(affine, code=2)
nib.save(img2, os.path.join(OUT, 'ct_nifti2.nii.gz'))

series = np.arange(8 * 8 * 3 * 2, dtype=np.int16).reshape(8, 8, 3, 2)
nib.save(nib.Nifti1Image(series, np.eye(4)), os.path.join(OUT, 'series_4d.nii.gz'))

back = nib.load(os.path.join(OUT, 'ct_nifti2.nii.gz'))
with open(os.path.join(OUT, 'reference.json'), 'w') as f:
    json.dump({
        'generator': 'scripts/make-nifti-fixtures.py (nibabel %s)' % nib.__version__,
        'ct_nifti2': {'shape': list(back.shape), 'sform': back.get_sform().tolist(), 'qform': back.get_qform().tolist(), 'sform_code': int(back.header['sform_code']), 'qform_code': int(back.header['qform_code'])},
        'series_4d': {'shape': list(series.shape)},
    }, f, indent=1)
print('wrote', OUT)
