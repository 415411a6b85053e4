// A NIfTI volume and a prompt in, a 0/1 mask volume out: every axial slice is cut and
// windowed exactly as the MSD loader cuts training slices (windowSlice: voxel order, no
// reorientation; the window from the shared policy in formats/msd.ts), and segmented by the
// same path as a 2-D image (prepareCase + segmentPrepared), a few slices per forward pass.
// Each batch's tensors live inside segmentPrepared's tidy; only plain arrays cross slices.
import { type Volume, windowSlice } from '../data/images.js';
import type { LoadedRun } from '../run/checkpoint.js';
import { prepareCase, segmentPrepared } from './segment.js';

export interface VolumeSegmentation {
  nx: number;
  ny: number;
  nz: number;
  /** 0/1 per voxel, x fastest, then y, then z: the input's voxel order. */
  mask: Uint8Array;
  /** Foreground voxels per slice. */
  sliceAreas: number[];
  /** Foreground voxels in all. */
  area: number;
  /** Mean foreground probability over the volume. */
  meanProbability: number;
}

export async function segmentVolume(
  run: LoadedRun,
  vol: Volume,
  window: [number, number],
  text: string,
  aux: string | null,
  batch = 8,
): Promise<VolumeSegmentation> {
  if (text.trim().length === 0) throw new Error('the prompt is empty: say what to segment');
  const plane = vol.nx * vol.ny;
  const mask = new Uint8Array(plane * vol.nz);
  const sliceAreas: number[] = [];
  let probabilitySum = 0;
  for (let z0 = 0; z0 < vol.nz; z0 += batch) {
    const zs = Array.from({ length: Math.min(batch, vol.nz - z0) }, (_, i) => z0 + i);
    const cases = await Promise.all(zs.map((z) => prepareCase(run, windowSlice(vol, z, window), text, aux)));
    segmentPrepared(run, cases).forEach((seg, i) => {
      mask.set(seg.mask, zs[i] * plane);
      sliceAreas.push(seg.area);
      probabilitySum += seg.meanProbability;
    });
  }
  const area = sliceAreas.reduce((a, b) => a + b, 0);
  return { nx: vol.nx, ny: vol.ny, nz: vol.nz, mask, sliceAreas, area, meanProbability: probabilitySum / vol.nz };
}
