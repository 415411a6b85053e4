// Reading inputs for prediction and writing masks: 2-D images through sharp, and the
// overlay a person looks at.
import sharp from 'sharp';
import type { GreyImage } from '../data/types.js';

/**
 * A 0/1 mask as a one-channel 8-bit PNG of 0 and 255, what MONAI's LoadImage and nnU-Net read
 * as (H, W). (sharp widens one-channel input to sRGB on output unless told otherwise.)
 */
export async function maskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  const bytes = Buffer.alloc(width * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = mask[i] ? 255 : 0;
  return greyPng(bytes, width, height);
}

/** A probability map as a 1-channel 8-bit PNG (value = round(probability x 255)). */
export async function probabilityPng(probabilities: Float32Array, width: number, height: number): Promise<Buffer> {
  const bytes = Buffer.alloc(width * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, probabilities[i])) * 255);
  return greyPng(bytes, width, height);
}

/** One-channel 8-bit PNG of greyscale bytes. */
export async function greyPng(bytes: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(bytes, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/** The overlay's format from its file name; anything else is refused before any work is done. */
export function overlayFormat(path: string): 'png' | 'jpeg' | 'webp' {
  const ext = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase();
  if (ext === 'png') return 'png';
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  if (ext === 'webp') return 'webp';
  throw new Error(`--overlay ${path}: name it .png, .jpg or .webp (the format follows the extension)`);
}

/** The image with the mask in translucent red, in the format the file name asks for. */
export async function overlayImage(path: string, image: GreyImage, mask: Uint8Array, opacity = 0.45): Promise<Buffer> {
  const format = overlayFormat(path);
  const png = await overlayPng(image, mask, opacity);
  return format === 'png' ? png : sharp(png).toFormat(format).toBuffer();
}

/** The image with the mask in translucent red. */
export async function overlayPng(image: GreyImage, mask: Uint8Array, opacity = 0.45): Promise<Buffer> {
  const { width, height } = image;
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const g = image.data[i];
    const on = mask[i] !== 0;
    rgb[i * 3] = on ? Math.round(g * (1 - opacity) + 255 * opacity) : g;
    rgb[i * 3 + 1] = on ? Math.round(g * (1 - opacity) + 40 * opacity) : g;
    rgb[i * 3 + 2] = on ? Math.round(g * (1 - opacity) + 40 * opacity) : g;
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
