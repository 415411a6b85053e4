// Compressed DICOM pixel data through maintained WebAssembly builds of the reference codecs
// (Cornerstone's, as OHIF and most web viewers use): libjpeg-turbo for JPEG baseline, CharLS
// for JPEG-LS, OpenJPEG for JPEG 2000. Each is loaded once, on first use, and answers the
// frame's samples interleaved, little-endian, colour already turned to RGB by the codec.
// Not decoded: JPEG extended (12-bit) and JPEG lossless (libjpeg-turbo's 8-bit build has
// neither), HTJ2K; those stay refused with the conversion to run.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const CODEC_SYNTAXES: Record<string, 'jpeg' | 'jpegls' | 'j2k'> = {
  '1.2.840.10008.1.2.4.50': 'jpeg',
  '1.2.840.10008.1.2.4.80': 'jpegls',
  '1.2.840.10008.1.2.4.81': 'jpegls',
  '1.2.840.10008.1.2.4.90': 'j2k',
  '1.2.840.10008.1.2.4.91': 'j2k',
};

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface Decoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  delete(): void;
}

type CodecModule = Record<string, new () => Decoder>;

const MODULES: Record<'jpeg' | 'jpegls' | 'j2k', { path: string; decoder: string }> = {
  jpeg: { path: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', decoder: 'JPEGDecoder' },
  jpegls: { path: '@cornerstonejs/codec-charls/decodewasmjs', decoder: 'JpegLSDecoder' },
  j2k: { path: '@cornerstonejs/codec-openjpeg/decodewasmjs', decoder: 'J2KDecoder' },
};

const loaded = new Map<string, Promise<CodecModule>>();

function codec(kind: 'jpeg' | 'jpegls' | 'j2k'): Promise<CodecModule> {
  let m = loaded.get(kind);
  if (!m) {
    const factory = require(MODULES[kind].path) as (options: object) => Promise<CodecModule>;
    // The codecs log progress ("[INFO] Main header has been correctly decoded") on stdout,
    // which would corrupt `--json` output: silenced.
    m = factory({ print: () => {}, printErr: () => {} });
    loaded.set(kind, m);
  }
  return m;
}

export interface DecodedFrame {
  bytes: Uint8Array;
  info: FrameInfo;
}

/** One compressed frame, decoded by its codec. Errors say which codec refused it. */
export async function decodeFrame(syntax: string, encoded: Uint8Array): Promise<DecodedFrame> {
  const kind = CODEC_SYNTAXES[syntax];
  if (!kind) throw new Error(`no codec for transfer syntax ${syntax}`);
  const module = await codec(kind);
  const decoder = new module[MODULES[kind].decoder]();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    try {
      decoder.decode();
    } catch (err) {
      // Emscripten throws a bare pointer on a codec error.
      throw new Error(`the ${kind === 'jpeg' ? 'JPEG' : kind === 'jpegls' ? 'JPEG-LS' : 'JPEG 2000'} codec could not decode the pixel data (${typeof err === 'number' ? 'codec error' : String(err)})`);
    }
    const info = decoder.getFrameInfo();
    return { bytes: new Uint8Array(decoder.getDecodedBuffer()), info: { ...info } };
  } finally {
    decoder.delete();
  }
}
