// What the server accepts, and the checks made before any pixel is decoded. An image's
// dimensions come from its header alone (sharp's metadata() reads only the header; BMP's
// is read here), so a decompression bomb (a few hundred bytes claiming 60000x60000 pixels)
// is refused before libvips allocates anything. Decoding then runs with sharp's own
// limitInputPixels as a second guard.
import sharp from 'sharp';
import { decodeDicom, dicomSizeOf, isDicomBytes } from '../data/dicom.js';
import { decodeBmp, niftiHeaderOfBytes } from '../data/images.js';
import type { GreyImage } from '../data/types.js';
import { ApiError } from './errors.js';

export interface ServeLimits {
  /** Largest request body, bytes (the image plus the text fields). */
  maxBodyBytes: number;
  /** Largest image, width x height. */
  maxPixels: number;
  /** Longest prompt (and auxiliary text), characters. CLIP reads 77 tokens of it anyway. */
  maxPromptChars: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  maxBodyBytes: 20 * 1024 * 1024,
  // 25 megapixels (5000 x 5000): a large radiograph. The full-size logits of one image take
  // about 4 bytes x pixels x 3 in libtorch, so this bounds one request to ~300 MB.
  maxPixels: 25_000_000,
  maxPromptChars: 2000,
};

/** The formats decoded here: sharp's prebuilt loaders plus BMP (decoded by data/images.ts). */
const DECODABLE = new Set(['png', 'jpeg', 'webp', 'tiff', 'gif', 'bmp', 'dicom', 'nifti']);
const ACCEPTED = 'PNG, JPEG, WebP, TIFF, GIF, BMP, single-frame DICOM or a NIfTI volume (.nii, .nii.gz)';

export interface ImageHeader {
  format: string;
  width: number;
  height: number;
  /** NIfTI volumes: axial slices, and the header block the mask is written with. */
  slices?: number;
  nifti?: Awaited<ReturnType<typeof niftiHeaderOfBytes>>;
}

/** Whether bytes may be a NIfTI volume: gzip (checked further by its header) or a NIfTI-1/2 magic. */
function maybeNifti(bytes: Uint8Array): boolean {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return true;
  const magic = (at: number) => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2]);
  return (bytes.length >= 348 && (magic(344) === 'n+1' || magic(344) === 'ni1')) || (bytes.length >= 540 && magic(4) === 'n+2');
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A PNG's size from its IHDR chunk (always the first, at byte 8). Read here rather than by
 * libvips, which refuses a file whose chunks stop after IHDR before it reports the size:
 * the size check must not depend on what follows the header.
 */
function pngSize(bytes: Buffer): { width: number; height: number } | null {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

function checkPixels(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw new ApiError(
      413,
      'image_too_large',
      `the image is ${width}x${height} = ${((width * height) / 1e6).toFixed(1)} megapixels; ` +
        `this server takes at most ${(maxPixels / 1e6).toFixed(1)}: downscale it (or start serve with a larger --max-pixels)`,
    );
  }
}

function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

function corrupt(detail: string): ApiError {
  return new ApiError(422, 'corrupt_image', `the image could not be read (${detail}): the file is damaged or truncated; re-export it as PNG and send it again`);
}

/** Format and size from the header only; refuses what is not an image or is too large. */
export async function readImageHeader(bytes: Buffer, maxPixels: number): Promise<ImageHeader> {
  if (bytes.length === 0) throw new ApiError(400, 'empty_image', `the image field is empty: attach a ${ACCEPTED} file`);
  const png = pngSize(bytes);
  if (png) checkPixels(png.width, png.height, maxPixels);
  let header: ImageHeader;
  if (maybeNifti(bytes)) {
    // The header only (a gzip stream is inflated no further than it): the volume's size is
    // checked before a voxel is decoded.
    let nifti: ImageHeader['nifti'];
    try {
      nifti = await niftiHeaderOfBytes(bytes);
    } catch (err) {
      throw new ApiError(415, 'unsupported_image', `the image field holds gzip or NIfTI-like bytes that are not a NIfTI volume (${(err as Error).message}): send a ${ACCEPTED} file`);
    }
    const d = nifti!.header.dims;
    header = { format: 'nifti', width: d[1], height: d[2], slices: d[0] >= 3 ? d[3] : 1, nifti };
  } else if (isDicomBytes(bytes)) {
    // Read as predict reads a .dcm (data/dicom.ts): rows and columns from the data set.
    try {
      header = { format: 'dicom', ...dicomSizeOf(bytes) };
    } catch (err) {
      throw corrupt((err as Error).message);
    }
  } else if (isBmp(bytes)) {
    if (bytes.length < 26) throw corrupt('the BMP header is cut short');
    const width = bytes.readInt32LE(18);
    const height = Math.abs(bytes.readInt32LE(22));
    header = { format: 'bmp', width, height };
  } else {
    let meta: sharp.Metadata;
    try {
      // No pixel limit here: the header is all that is read, and the size check below
      // gives a clearer message than sharp's.
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (err) {
      const message = (err as Error).message;
      if (/unsupported image format/i.test(message)) {
        throw new ApiError(415, 'unsupported_image', `the image field does not hold an image this server reads: send a ${ACCEPTED} file`);
      }
      throw corrupt(message);
    }
    header = { format: meta.format ?? 'unknown', width: meta.width ?? 0, height: meta.height ?? 0 };
  }
  if (!DECODABLE.has(header.format)) {
    throw new ApiError(415, 'unsupported_image', `${header.format} images are not accepted: send a ${ACCEPTED} file`);
  }
  if (!(header.width > 0 && header.height > 0)) throw corrupt(`the header gives a size of ${header.width}x${header.height}`);
  checkPixels(header.width, header.height, maxPixels);
  return header;
}

/**
 * 8-bit greyscale pixels, decoded the way data/images.ts reads a file (sharp's greyscale, or
 * Rec. 601 luma for BMP), so a request gives the same mask as `predict` on the same file.
 */
export async function decodeGrey(bytes: Buffer, header: ImageHeader, maxPixels: number): Promise<GreyImage> {
  try {
    if (header.format === 'dicom') return decodeDicom(bytes);
    if (header.format === 'bmp') {
      const raw = decodeBmp(bytes);
      const data = new Uint8Array(raw.width * raw.height);
      for (let i = 0, o = 0; i < data.length; i++, o += raw.channels) {
        data[i] = Math.round(0.299 * raw.data[o] + 0.587 * raw.data[o + 1] + 0.114 * raw.data[o + 2]);
      }
      return { width: raw.width, height: raw.height, data };
    }
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels })
      .removeAlpha()
      .greyscale()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    if (info.channels === 1) return { width: info.width, height: info.height, data: pixels };
    const grey = new Uint8Array(info.width * info.height);
    for (let i = 0; i < grey.length; i++) grey[i] = pixels[i * info.channels];
    return { width: info.width, height: info.height, data: grey };
  } catch (err) {
    const message = (err as Error).message;
    // A format variant this server does not read is not a damaged file.
    if (/^unsupported|not supported|does not decode/.test(message)) throw new ApiError(415, 'unsupported_image', `${message}: re-export the image as PNG`);
    throw corrupt(message);
  }
}

/** The prompt fields: present, not blank, not longer than the limit. */
export function checkPrompt(field: 'text' | 'aux', value: string, maxChars: number): void {
  if (value.length > maxChars) {
    throw new ApiError(
      413,
      'prompt_too_long',
      `the ${field} field holds ${value.length} characters; at most ${maxChars} are accepted (CLIP reads the first 77 tokens): shorten it`,
    );
  }
}
