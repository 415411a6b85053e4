// The knowledge the offline expander writes from: the organs (and a few lesion types) that
// MSD-style prompts name, and the lung's sides and levels (zones.ts reads and restates lung
// prompts). Facts only; expander.ts turns them into sentences.
//
// Sides follow the radiological convention: the patient's left is on the image's right, on a
// frontal radiograph and on an axial CT/MR slice alike. Every left/right fact is written with
// the words "left" and "right", so a horizontal flip (data/text_flip.ts swaps those words in
// the auxiliary text too) leaves the text true of the flipped image.

export type Modality = 'xray' | 'ct' | 'mri';
export const MODALITIES: readonly Modality[] = ['xray', 'ct', 'mri'];

export type Level = 'upper' | 'middle' | 'lower';
export type Side = 'left' | 'right';
export const LEVELS: readonly Level[] = ['upper', 'middle', 'lower'];
export const SIDES: readonly Side[] = ['left', 'right'];

/** Number words of LViT's prompts ("two infected areas"), and a few more. */
export const NUMBER_WORDS: readonly string[] = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** How a modality is named inside a sentence (and for a template's {modality}). */
export const MODALITY_NAME: Record<Modality, string> = {
  xray: 'chest X-ray',
  ct: 'CT',
  mri: 'MRI',
};

/** The image a modality yields, as a sentence would call it. */
export const IMAGE_NAME: Record<Modality, string[]> = {
  xray: ['frontal chest radiograph', 'frontal chest X-ray', 'chest film'],
  ct: ['axial CT slice', 'axial CT image', 'CT section'],
  mri: ['axial MR slice', 'axial MR image', 'MR section'],
};

/** Which half of the image shows a side of the patient. */
export const IMAGE_SIDE: Record<Side, Side> = { left: 'right', right: 'left' };

export type OrganSide = Side | 'midline' | 'both';

export interface OrganFacts {
  /** The name a sentence uses ("the spleen"). */
  name: string;
  /** Words that name it in a prompt (lower case, matched as whole words). */
  aliases: string[];
  /** Which side of the patient it lies on. */
  side: OrganSide;
  /** Where it lies on an axial slice and what borders it. */
  where: string;
  /** Its shape. */
  shape: string;
  /** How it looks on CT; on MRI (when it differs in a useful way). */
  ct: string;
  mri?: string;
  /** The scene it belongs to (for when the prompt names none). */
  region: 'abdominal' | 'chest' | 'cardiac' | 'brain' | 'pelvic';
  /** A lesion rather than an organ: found before organs, so "liver tumour" is a tumour. */
  lesion?: boolean;
  /** A lesion located by the organ the prompt names with it ("liver tumour": within the liver). */
  inHost?: boolean;
}

/**
 * Organs and targets of the Medical Segmentation Decathlon, BTCV/AMOS-style abdominal label
 * sets and common lesion words. A longer alias comes before one it contains ("left kidney"
 * before "kidney"); the expander tries entries in this order. `where` follows "it lies".
 */
export const ORGANS: readonly OrganFacts[] = [
  {
    name: 'the left kidney',
    aliases: ['left kidney'],
    side: 'left',
    region: 'abdominal',
    where: 'in the left retroperitoneum beside the spine and psoas, below the spleen',
    shape: 'bean-shaped, its hilum facing the spine',
    ct: 'a brightly enhancing cortex around the medulla, with sinus fat at the hilum',
    mri: 'a cortex slightly brighter than the medulla on T1',
  },
  {
    name: 'the right kidney',
    aliases: ['right kidney'],
    side: 'right',
    region: 'abdominal',
    where: 'in the right retroperitoneum beside the spine and psoas, below the liver',
    shape: 'bean-shaped, its hilum facing the spine',
    ct: 'a brightly enhancing cortex around the medulla, with sinus fat at the hilum',
    mri: 'a cortex slightly brighter than the medulla on T1',
  },
  {
    name: 'the kidneys',
    aliases: ['kidneys', 'kidney'],
    side: 'both',
    region: 'abdominal',
    where: 'on each side of the spine in the retroperitoneum, the right below the liver and the left below the spleen',
    shape: 'paired and bean-shaped, their hila facing the spine',
    ct: 'a brightly enhancing cortex around the medulla, with sinus fat at the hilum',
    mri: 'a cortex slightly brighter than the medulla on T1',
  },
  {
    name: 'the left adrenal gland',
    aliases: ['left adrenal gland', 'left adrenal'],
    side: 'left',
    region: 'abdominal',
    where: 'in front of the upper pole of the left kidney, beside the aorta',
    shape: 'a thin inverted Y',
    ct: 'thin limbs of soft tissue outlined by retroperitoneal fat',
  },
  {
    name: 'the right adrenal gland',
    aliases: ['right adrenal gland', 'right adrenal'],
    side: 'right',
    region: 'abdominal',
    where: 'above the right kidney, directly behind the inferior vena cava',
    shape: 'a thin line or inverted V',
    ct: 'thin limbs of soft tissue outlined by retroperitoneal fat',
  },
  {
    name: 'the spleen',
    aliases: ['spleen'],
    side: 'left',
    region: 'abdominal',
    where: 'in the left upper quadrant under the diaphragm, behind the stomach and against the lower ribs',
    shape: 'a crescent with a smooth convex outer border',
    ct: 'homogeneous soft tissue, slightly less dense than the liver before contrast',
    mri: 'homogeneous signal, darker than the liver on T1 and brighter on T2',
  },
  {
    name: 'the liver',
    aliases: ['liver'],
    side: 'right',
    region: 'abdominal',
    where: 'in the right upper quadrant under the diaphragm, its left lobe crossing the midline',
    shape: 'the largest solid abdominal organ, wedge-shaped with a smooth outer surface',
    ct: 'homogeneous soft tissue crossed by enhancing portal and hepatic veins',
    mri: 'homogeneous signal, brighter than the spleen on T1',
  },
  {
    name: 'the gallbladder',
    aliases: ['gallbladder', 'gall bladder'],
    side: 'right',
    region: 'abdominal',
    where: 'in a fossa on the underside of the liver',
    shape: 'a pear-shaped, thin-walled sac',
    ct: 'fluid near water density, darker than the liver around it',
    mri: 'fluid, dark on T1 and very bright on T2',
  },
  {
    name: 'the pancreas',
    aliases: ['pancreas'],
    side: 'midline',
    region: 'abdominal',
    where: 'across the upper abdomen behind the stomach, its head in the duodenal loop and its tail at the splenic hilum',
    shape: 'an elongated gland with a lobulated contour, the splenic vein along its back',
    ct: 'soft tissue enhancing a little less than the liver, with fat between its lobules',
    mri: 'the brightest abdominal organ on fat-suppressed T1',
  },
  {
    name: 'the stomach',
    aliases: ['stomach'],
    side: 'left',
    region: 'abdominal',
    where: 'in the left upper quadrant under the diaphragm, in front of the spleen and the pancreas',
    shape: 'a J-shaped hollow organ with folded walls',
    ct: 'an enhancing wall around gas, fluid or food',
  },
  {
    name: 'the duodenum',
    aliases: ['duodenum'],
    side: 'right',
    region: 'abdominal',
    where: 'around the head of the pancreas, right of the midline',
    shape: 'a C-shaped loop of bowel',
    ct: 'a soft-tissue bowel wall around fluid or gas',
  },
  {
    name: 'the aorta',
    aliases: ['aorta'],
    side: 'midline',
    region: 'abdominal',
    where: 'directly in front of the spine, just left of the midline, with the inferior vena cava to its right',
    shape: 'a round tube about two centimetres across',
    ct: 'a round lumen, very bright after contrast, sometimes with calcified plaque',
  },
  {
    name: 'the inferior vena cava',
    aliases: ['inferior vena cava', 'vena cava', 'ivc'],
    side: 'right',
    region: 'abdominal',
    where: 'in front of the spine to the right of the aorta, behind the liver',
    shape: 'an oval tube',
    ct: 'a lumen that enhances in the portal venous phase',
  },
  {
    name: 'the portal and splenic veins',
    aliases: ['portal vein and splenic vein', 'portal vein', 'splenic vein'],
    side: 'midline',
    region: 'abdominal',
    where: 'behind the pancreas, from the splenic hilum to the liver hilum',
    shape: 'tubular vessels',
    ct: 'lumens that enhance brightly in the portal venous phase',
  },
  {
    name: 'the hepatic vessels',
    aliases: ['hepatic vessel', 'hepatic vessels', 'vessel', 'vessels'],
    side: 'right',
    region: 'abdominal',
    where: 'branching through the liver from its hilum towards the inferior vena cava',
    shape: 'branching tubes',
    ct: 'channels brighter than the liver around them after contrast',
  },
  {
    name: 'the oesophagus',
    aliases: ['esophagus', 'oesophagus'],
    side: 'midline',
    region: 'chest',
    where: 'behind the trachea and the left atrium, in front of the spine',
    shape: 'a small, usually collapsed muscular tube',
    ct: 'soft tissue, sometimes with a little air in its lumen',
  },
  {
    name: 'the urinary bladder',
    aliases: ['urinary bladder', 'bladder'],
    side: 'midline',
    region: 'pelvic',
    where: 'in the anterior pelvis, behind the pubic symphysis',
    shape: 'a rounded sac whose size depends on filling',
    ct: 'fluid near water density with a thin wall',
    mri: 'urine, dark on T1 and bright on T2',
  },
  {
    name: 'the peripheral zone of the prostate',
    aliases: ['peripheral zone'],
    side: 'midline',
    region: 'pelvic',
    where: 'at the back and sides of the prostate, facing the rectum',
    shape: 'a crescent around the back of the gland',
    ct: 'soft tissue hard to tell from the rest of the gland',
    mri: 'homogeneous high T2 signal, brighter than the central gland',
  },
  {
    name: 'the transition zone of the prostate',
    aliases: ['transition zone', 'central gland'],
    side: 'midline',
    region: 'pelvic',
    where: 'in the centre of the prostate around the urethra',
    shape: 'a rounded central region that enlarges with age',
    ct: 'soft tissue hard to tell from the rest of the gland',
    mri: 'lower, more mixed T2 signal than the peripheral zone',
  },
  {
    name: 'the prostate',
    aliases: ['prostate'],
    side: 'midline',
    region: 'pelvic',
    where: 'below the bladder, between the pubic symphysis and the rectum',
    shape: 'a walnut-sized rounded gland',
    ct: 'soft tissue blending with the pelvic floor',
    mri: 'a bright peripheral zone around a darker central gland on T2',
  },
  {
    name: 'the uterus',
    aliases: ['uterus', 'prostate/uterus'],
    side: 'midline',
    region: 'pelvic',
    where: 'between the bladder in front and the rectum behind',
    shape: 'a pear-shaped muscular organ',
    ct: 'enhancing muscle around a darker endometrial cavity',
  },
  {
    name: 'the left atrium',
    aliases: ['left atrium'],
    side: 'midline',
    region: 'cardiac',
    where: 'at the back of the heart, in front of the oesophagus and descending aorta',
    shape: 'a rounded chamber receiving the four pulmonary veins',
    ct: 'blood that is bright after contrast inside a thin wall',
    mri: 'a bright blood pool with the pulmonary veins entering from behind',
  },
  {
    name: 'the heart',
    aliases: ['heart', 'myocardium'],
    side: 'midline',
    region: 'cardiac',
    where: 'in the middle mediastinum, mostly left of the midline, on the diaphragm',
    shape: 'cone-shaped with its apex down and to the left',
    ct: 'chambers bright after contrast inside the myocardium and pericardial fat',
  },
  {
    name: 'the hippocampus',
    aliases: ['hippocampus'],
    side: 'both',
    region: 'brain',
    where: 'in the medial temporal lobe, along the floor of the temporal horn',
    shape: 'a curved, seahorse-shaped band of grey matter',
    ct: 'grey matter beside the fluid of the temporal horn',
    mri: 'grey matter signal beside the dark fluid of the temporal horn on T1',
  },
  {
    name: 'the lungs',
    aliases: ['lungs', 'lung'],
    side: 'both',
    region: 'chest',
    where: 'on both sides of the mediastinum, from the apices down to the diaphragm',
    shape: 'paired air-filled organs',
    ct: 'very dark, air-filled parenchyma crossed by bright vessels',
  },
  {
    name: 'peritumoral oedema',
    aliases: ['edema', 'oedema', 'peritumoral edema'],
    side: 'both',
    region: 'brain',
    lesion: true,
    where: 'in the white matter around a brain tumour',
    shape: 'finger-like extensions along the white matter tracts',
    ct: 'low-density white matter',
    mri: 'high signal on FLAIR and T2',
  },
  {
    name: 'the tumour core',
    aliases: ['enhancing tumor', 'enhancing tumour', 'non-enhancing tumor', 'non-enhancing tumour', 'tumor core', 'tumour core'],
    side: 'both',
    region: 'brain',
    lesion: true,
    where: 'in the brain, at the centre of the surrounding oedema',
    shape: 'an irregular mass, often a rim around a necrotic core',
    ct: 'a mass that enhances after contrast',
    mri: 'a rim or nodule that brightens on post-contrast T1',
  },
  {
    name: 'the nodule',
    aliases: ['nodule', 'nodules'],
    side: 'both',
    region: 'chest',
    lesion: true,
    inHost: true,
    where: 'in the lung, surrounded by aerated lung',
    shape: 'a round or oval focus up to three centimetres across',
    ct: 'soft tissue or ground-glass density set sharply against the dark lung',
  },
  {
    name: 'the tumour',
    aliases: ['cancer', 'tumor', 'tumour', 'mass', 'lesion', 'lesions', 'neoplasm', 'carcinoma', 'metastasis', 'metastases'],
    side: 'both',
    region: 'abdominal',
    lesion: true,
    inHost: true,
    where: 'inside or against the organ it arises from',
    shape: 'a focal mass with irregular or lobulated margins',
    ct: 'a focus usually darker than the enhancing tissue around it, at times with a bright rim or a necrotic centre',
    mri: 'a focus of signal unlike the tissue around it, often bright on T2',
  },
];

/** Organs whose lesions a prompt may locate ("liver tumour"): the organ named beside a lesion word. */
export const LESION_HOSTS: Record<string, string> = {
  liver: 'the liver',
  hepatic: 'the liver',
  pancreas: 'the pancreas',
  pancreatic: 'the pancreas',
  kidney: 'the kidney',
  renal: 'the kidney',
  lung: 'the lung',
  pulmonary: 'the lung',
  colon: 'the colon',
  colonic: 'the colon',
  brain: 'the brain',
  prostate: 'the prostate',
};
