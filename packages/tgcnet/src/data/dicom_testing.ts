// A writer of small DICOM Part 10 files for tests: 128-byte preamble, "DICM", the file meta
// group (explicit VR little endian, as PS3.10 requires), then an explicit VR little endian
// data set holding just what an image needs. Enough to exercise the reader; not a general
// DICOM writer.

export interface DicomFixture {
  rows: number;
  columns: number;
  /** Stored values, row-major (signed when pixelRepresentation is 1). */
  pixels: ArrayLike<number>;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: number;
  slope?: number;
  intercept?: number;
  /** Window Center / Width as written ("40\\400" style multi-values allowed). */
  center?: string;
  width?: string;
  frames?: number;
  transferSyntax?: string;
  /** Pixel Spacing (0028,0030) as written: "row\\column" in mm. */
  pixelSpacing?: string;
  /** PALETTE COLOR lookup tables (16 bits per entry). */
  palette?: { first: number; red: number[]; green: number[]; blue: number[] };
}

const LONG_LENGTH_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

/** One explicit VR little endian element, its value padded to an even length. */
function element(group: number, elem: number, vr: string, value: Uint8Array): Buffer {
  const padded = value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]);
  const long = LONG_LENGTH_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(padded.length, 8);
  else head.writeUInt16LE(padded.length, 6);
  return Buffer.concat([head, padded]);
}

const str = (group: number, elem: number, vr: string, text: string): Buffer => element(group, elem, vr, Buffer.from(text, 'latin1'));
function us(group: number, elem: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value, 0);
  return element(group, elem, 'US', b);
}

export function dicomBytes(f: DicomFixture): Buffer {
  const allocated = f.bitsAllocated ?? 16;
  const syntax = f.transferSyntax ?? '1.2.840.10008.1.2.1';
  const metaBody = Buffer.concat([
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    str(0x0002, 0x0002, 'UI', '1.2.840.10008.5.1.4.1.1.7'),
    str(0x0002, 0x0003, 'UI', '1.2.3.4.5.6.7'),
    str(0x0002, 0x0010, 'UI', syntax),
    str(0x0002, 0x0012, 'UI', '1.2.3.4'),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length, 0);
  const meta = Buffer.concat([element(0x0002, 0x0000, 'UL', groupLength), metaBody]);

  const count = f.rows * f.columns * (f.frames ?? 1) * (f.samplesPerPixel ?? 1);
  if (f.pixels.length !== count) throw new Error(`dicomBytes: ${f.pixels.length} pixels for ${count} samples`);
  const pixelData = Buffer.alloc(count * (allocated / 8));
  for (let i = 0; i < count; i++) {
    const v = f.pixels[i];
    if (allocated === 8) pixelData.writeUInt8(v & 0xff, i);
    else pixelData.writeUInt16LE(v & 0xffff, i * 2);
  }
  const parts: Buffer[] = [
    str(0x0008, 0x0016, 'UI', '1.2.840.10008.5.1.4.1.1.7'),
    us(0x0028, 0x0002, f.samplesPerPixel ?? 1),
    str(0x0028, 0x0004, 'CS', f.photometric ?? 'MONOCHROME2'),
  ];
  if (f.frames !== undefined) parts.push(str(0x0028, 0x0008, 'IS', String(f.frames)));
  parts.push(us(0x0028, 0x0010, f.rows), us(0x0028, 0x0011, f.columns));
  if (f.pixelSpacing !== undefined) parts.push(str(0x0028, 0x0030, 'DS', f.pixelSpacing));
  parts.push(
    us(0x0028, 0x0100, allocated),
    us(0x0028, 0x0101, f.bitsStored ?? allocated),
    us(0x0028, 0x0102, (f.bitsStored ?? allocated) - 1),
    us(0x0028, 0x0103, f.pixelRepresentation ?? 0),
  );
  if (f.center !== undefined) parts.push(str(0x0028, 0x1050, 'DS', f.center));
  if (f.width !== undefined) parts.push(str(0x0028, 0x1051, 'DS', f.width));
  if (f.intercept !== undefined) parts.push(str(0x0028, 0x1052, 'DS', String(f.intercept)));
  if (f.slope !== undefined) parts.push(str(0x0028, 0x1053, 'DS', String(f.slope)));
  if (f.palette) {
    const { first, red, green, blue } = f.palette;
    [red, green, blue].forEach((lut, k) => {
      const d = Buffer.alloc(6);
      d.writeUInt16LE(lut.length, 0);
      d.writeUInt16LE(first, 2);
      d.writeUInt16LE(16, 4);
      parts.push(element(0x0028, 0x1101 + k, 'US', d));
    });
    [red, green, blue].forEach((lut, k) => {
      const d = Buffer.alloc(lut.length * 2);
      lut.forEach((v, i) => d.writeUInt16LE(v, i * 2));
      parts.push(element(0x0028, 0x1201 + k, 'OW', d));
    });
  }
  parts.push(element(0x7fe0, 0x0010, allocated === 8 ? 'OB' : 'OW', pixelData));
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), meta, ...parts]);
}
