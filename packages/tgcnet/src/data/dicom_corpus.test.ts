// pydicom's public test files (test/fixtures/dicom, copied and referenced by
// scripts/make-dicom-fixtures.py with pydicom + numpy): every file this reader decodes gives
// the values pydicom gives, bit for bit (for JPEG-LS and JPEG 2000 lossless: the values of the
// uncompressed twin; for lossy JPEG: close to the RLE twin); every file it refuses is refused
// with the reason named.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeDicom, dicomSizeOf, dicomStoredValues } from './dicom.js';

interface Case {
  file: string;
  twin?: string;
  near?: string;
  maxMeanAbsDiff?: number;
  rows?: number;
  columns?: number;
  photometric?: string;
  sha256?: string;
  first?: number[];
  refused?: string;
}
const dir = new URL('../../test/fixtures/dicom/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('reference.json', dir), 'utf8')) as { cases: Case[] };
const bytesOf = (file: string) => new Uint8Array(readFileSync(new URL(file, dir)));

for (const c of reference.cases.filter((c) => c.sha256)) {
  test(`${c.file} (${c.photometric}${c.twin ? `, equal to ${c.twin}` : ''}): the values pydicom reads`, async () => {
    const got = await dicomStoredValues(bytesOf(c.file));
    assert.deepEqual([got.rows, got.columns], [c.rows, c.columns]);
    assert.deepEqual(Array.from(got.values.subarray(0, 8)), c.first);
    const le = Buffer.alloc(got.values.length * 8);
    got.values.forEach((v, i) => le.writeDoubleLE(v, i * 8));
    assert.equal(createHash('sha256').update(le).digest('hex'), c.sha256, 'every value equal');
    if (c.photometric !== 'MONOCHROME1' && c.photometric !== 'MONOCHROME2') assert.match(got.notes.join(' '), /luma/, 'colour is said to be made grey');
    const grey = await decodeDicom(bytesOf(c.file));
    assert.deepEqual([grey.width, grey.height], [c.columns, c.rows]);
    assert.deepEqual(dicomSizeOf(bytesOf(c.file)), { width: c.columns, height: c.rows });
  });
}

for (const c of reference.cases.filter((c) => c.near)) {
  test(`${c.file} (lossy JPEG): luma within ${c.maxMeanAbsDiff} on average of ${c.near}`, async () => {
    const got = await dicomStoredValues(bytesOf(c.file));
    const twin = await dicomStoredValues(bytesOf(c.near!));
    assert.deepEqual([got.rows, got.columns], [c.rows, c.columns]);
    let diff = 0;
    for (let i = 0; i < got.values.length; i++) diff += Math.abs(got.values[i] - twin.values[i]);
    assert.ok(diff / got.values.length < c.maxMeanAbsDiff!, `mean |difference| ${diff / got.values.length}`);
  });
}

test('files this reader refuses say why, in words a user can act on', async () => {
  for (const c of reference.cases.filter((c) => c.refused)) {
    await assert.rejects(decodeDicom(bytesOf(c.file)), (e: Error) => e.message.includes(c.refused!), c.file);
  }
});

test('a data set without the Part 10 preamble is read (implicit VR little endian, as PS3.5 defaults)', async () => {
  const withPreamble = bytesOf('MR_small_implicit.dcm');
  // Drop the 128-byte preamble, "DICM" and the file meta group (group 0002).
  const dv = new DataView(withPreamble.buffer, withPreamble.byteOffset);
  const metaLength = dv.getUint32(128 + 4 + 8, true);
  const bare = withPreamble.subarray(128 + 4 + 12 + metaLength);
  const a = await dicomStoredValues(withPreamble);
  const b = await dicomStoredValues(bare);
  assert.deepEqual(Array.from(b.values), Array.from(a.values));
  await assert.rejects(decodeDicom(new Uint8Array(Buffer.from('hello, this is not DICOM at all, just text'))), /not a DICOM file/);
});
