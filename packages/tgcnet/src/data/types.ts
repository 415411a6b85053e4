// What the data layer hands to the rest: cases as records, pixels as plain arrays.
// The data layer knows nothing about tensors or gradients.

export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export type FormatName = 'lvit' | 'languidemedseg' | 'sgseg' | 'manifest' | 'msd';

/** Where a case's pixels are: a 2-D image file, or one axial slice of a NIfTI volume. */
export type ImageSource =
  | { kind: 'file'; path: string }
  | { kind: 'nifti-slice'; path: string; slice: number; window: [number, number] };

export type MaskSource =
  /** A 2-D mask file; foreground where a value is > threshold (absent: MASK_RULE decides, images.ts). */
  | { kind: 'file'; path: string; threshold?: number }
  /** One organ label of a NIfTI label volume, at one axial slice. */
  | { kind: 'nifti-slice'; path: string; slice: number; label: number };

export interface CaseRecord {
  /** Unique within the dataset (file stem, or volume:slice:label). */
  id: string;
  split: Split;
  image: ImageSource;
  mask: MaskSource | null;
  /** The clinical prompt. */
  text: string;
  /** The auxiliary prompt, when the dataset carries one. */
  aux: string | null;
  /** Prompts whose answer for this image is an empty mask (data/negative_prompts.ts), with their aux. */
  negatives?: { prompt: string; aux: string | null }[];
}

/** A bad row found while reading or validating, named so a person can fix it. */
export interface Problem {
  /** The case id or the file/row that is wrong. */
  where: string;
  message: string;
  /** About the dataset as a whole (every mask empty): --skip-bad cannot leave it out. */
  wholeDataset?: boolean;
}

export interface Dataset {
  format: FormatName;
  root: string;
  cases: CaseRecord[];
  /** Problems found while reading the index (missing files, missing text, ...). */
  problems: Problem[];
}

/** A greyscale image or mask in memory: row-major, one byte per pixel. */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** Pixel spacing [x, y] in mm, where the file says (NIfTI pixdim, DICOM Pixel Spacing). */
  spacing?: [number, number];
  /** What reading did that the user should know (a colour image made grey). */
  notes?: string[];
}
