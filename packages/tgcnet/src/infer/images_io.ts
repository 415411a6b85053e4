// Reading inputs for prediction and writing masks: 2-D images through sharp, and the
// overlay a person looks at.
import sharp from 'sharp';
import type { GreyImage } from '../data/types.js';

/** A 0/1 mask as a 0/255 greyscale PNG. */
export async function maskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  const bytes = Buffer.alloc(width * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = mask[i] ? 255 : 0;
  return sharp(bytes, { raw: { width, height, channels: 1 } }).png().toBuffer();
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
