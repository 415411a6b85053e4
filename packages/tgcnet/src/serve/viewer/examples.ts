// Example prompts in LViT's QaTa-COV19 wording (the wording `data synth` also writes), offered
// by the viewer's example list.
export const EXAMPLE_PROMPTS: readonly string[] = [
  'Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung.',
  'Unilateral pulmonary infection, one infected area, lower right lung.',
  'Unilateral pulmonary infection, one infected area, middle left lung.',
  'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.',
  'Unilateral pulmonary infection, two infected areas, middle right lung and lower right lung.',
  'Bilateral pulmonary infection, three infected areas, middle left lung, lower left lung and lower right lung.',
];
