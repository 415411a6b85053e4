#!/usr/bin/env python3
"""DICOM test corpus for src/data/dicom_corpus.test.ts: a few of pydicom's public test files
(pydicom/data/test_files; their README: "no restriction on using any of these files in this
manner"), copied into test/fixtures/dicom/, and reference pixel values computed independently
with pydicom + numpy: for greyscale the stored values (pixel_array), for colour the luma
0.299 R + 0.587 G + 0.114 B (RGB) or Y (YBR), each as the sha256 of float64 little-endian bytes.
Files this reader refuses are listed with the words the refusal must contain.

Run (Debian: apt-get install python3-pydicom python3-numpy):
  python3 packages/tgcnet/scripts/make-dicom-fixtures.py
"""
import hashlib
import json
import os
import shutil

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'dicom')

DECODED = [
    'CT_small.dcm',                      # explicit VR LE, 16-bit signed CT
    'MR_small.dcm',                      # explicit VR LE, 16-bit MR
    'MR_small_implicit.dcm',             # implicit VR LE
    'MR_small_bigendian.dcm',            # explicit VR BE (retired)
    'MR_small_RLE.dcm',                  # RLE lossless, 16-bit
    'SC_rgb_small_odd.dcm',              # RGB, odd size
    'SC_rgb_rle.dcm',                    # RLE lossless, RGB 8-bit
    'SC_rgb_rle_16bit.dcm',              # RLE lossless, RGB 16-bit
    'SC_ybr_full_422_uncompressed.dcm',  # YBR_FULL_422, subsampled chroma
    'rtdose_1frame.dcm',                 # 32-bit
    'rtdose_rle_1frame.dcm',             # RLE lossless, 32-bit
    'image_dfl.dcm',                     # deflated explicit VR LE
    'liver_1frame.dcm',                  # 1 bit allocated (a segmentation)
]
# Lossless codecs: the values must equal pydicom's read of the uncompressed twin.
LOSSLESS_TWIN = {
    'MR_small_jpeg_ls_lossless.dcm': 'MR_small.dcm',   # JPEG-LS lossless (CharLS)
    'MR_small_jp2klossless.dcm': 'MR_small.dcm',       # JPEG 2000 lossless (OpenJPEG)
}
# Lossy JPEG baseline (libjpeg-turbo): luma within a small mean difference of the RLE twin.
LOSSY_TWIN = {
    'SC_rgb_dcmtk_+eb+cr.dcm': 'SC_rgb_rle.dcm',
    'SC_rgb_jpeg_dcmtk.dcm': 'SC_rgb_rle.dcm',
}
REFUSED = {
    'JPEG-lossy.dcm': 'JPEG extended',
    'SC_rgb_jpeg_gdcm.dcm': 'JPEG lossless',
    'rtplan.dcm': 'an RT Plan, which holds no image',
}


def reference(ds):
    arr = ds.pixel_array.astype(np.float64)
    photometric = ds.PhotometricInterpretation
    if getattr(ds, 'SamplesPerPixel', 1) == 3:
        if photometric == 'RGB':
            arr = 0.299 * arr[..., 0] + 0.587 * arr[..., 1] + 0.114 * arr[..., 2]
        else:
            arr = arr[..., 0]
    values = np.ascontiguousarray(arr.reshape(-1), dtype='<f8')
    return {
        'rows': int(ds.Rows), 'columns': int(ds.Columns), 'photometric': photometric,
        'sha256': hashlib.sha256(values.tobytes()).hexdigest(), 'sum': float(values.sum()),
        'first': values[:8].tolist(),
    }


os.makedirs(OUT, exist_ok=True)
cases = []
for name in DECODED:
    src = get_testdata_file(name)
    shutil.copyfile(src, os.path.join(OUT, name))
    cases.append({'file': name, **reference(pydicom.dcmread(src))})
for name, twin in LOSSLESS_TWIN.items():
    shutil.copyfile(get_testdata_file(name), os.path.join(OUT, name))
    cases.append({'file': name, 'twin': twin, **reference(pydicom.dcmread(get_testdata_file(twin)))})
for name, twin in LOSSY_TWIN.items():
    shutil.copyfile(get_testdata_file(name), os.path.join(OUT, name))
    ds = pydicom.dcmread(get_testdata_file(twin))
    cases.append({'file': name, 'near': twin, 'rows': int(ds.Rows), 'columns': int(ds.Columns), 'maxMeanAbsDiff': 3.0})
for name, words in REFUSED.items():
    shutil.copyfile(get_testdata_file(name), os.path.join(OUT, name))
    cases.append({'file': name, 'refused': words})
with open(os.path.join(OUT, 'reference.json'), 'w') as f:
    json.dump({'generator': 'scripts/make-dicom-fixtures.py (pydicom %s, numpy %s)' % (pydicom.__version__, np.__version__), 'cases': cases}, f, indent=1)
print('wrote', len(cases), 'cases to', OUT)
