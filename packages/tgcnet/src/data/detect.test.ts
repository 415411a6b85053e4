import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FORMAT_NAMES, detectFormat, openDataset } from './detect.js';
import { NIFTI_TYPES, tempDir, writeNifti, writePng, writeText, writeXlsx } from './formats/testing.js';

describe('openDataset', () => {
  const tmp = tempDir('detect');
  const d = (name: string) => join(tmp.dir, name);

  before(async () => {
    // One tiny folder per format.
    await writePng(d('lvit/Test_Folder/img/x.png'), 4, 4, 1);
    await writePng(d('lvit/Test_Folder/labelcol/mask_x.png'), 4, 4, 255);
    await writeXlsx(d('lvit/Test_Folder/Test_text.xlsx'), [['Image', 'Description'], ['mask_x.png', 'lvit text.']]);

    await writePng(d('lgms/Images/x.png'), 4, 4, 1);
    await writePng(d('lgms/GTs/mask_x.png'), 4, 4, 255);
    writeText(d('lgms/prompt/test.csv'), 'Image,Description\nmask_x.png,lgms text.\n');

    await writePng(d('sgseg/images/test/images/x.png'), 4, 4, 1);
    await writePng(d('sgseg/images/test/masks/mask_x.png'), 4, 4, 255);
    writeText(d('sgseg/prompts/annotation.json'), JSON.stringify({ test: [{ image_path: 'mask_x.png', caption: 'sgseg text.' }] }));

    await writePng(d('manifest/a/x.png'), 4, 4, 1);
    await writePng(d('manifest/b/x.png'), 4, 4, 255);
    writeText(d('manifest/manifest.jsonl'), JSON.stringify({ image: 'a/x.png', mask: 'b/x.png', text: 'manifest text.', split: 'test' }) + '\n');

    const lab = new Array(16).fill(0);
    lab[5] = 1;
    writeNifti(d('msd/imagesTr/x.nii.gz'), [4, 4, 1], NIFTI_TYPES.int16, new Array(16).fill(0));
    writeNifti(d('msd/labelsTr/x.nii.gz'), [4, 4, 1], NIFTI_TYPES.uint8, lab);
    writeText(d('msd/dataset.json'), JSON.stringify({ name: 'Liver', modality: { '0': 'CT' }, labels: { '0': 'background', '1': 'liver' } }));
  });
  after(() => tmp.cleanup());

  it('detects each format from its folder and reads it', async () => {
    const expected: Record<string, [string, string]> = {
      lvit: ['x', 'lvit text.'],
      lgms: ['x', 'lgms text.'],
      sgseg: ['x', 'sgseg text.'],
      manifest: ['x', 'manifest text.'],
      msd: ['x:0:1', 'liver in an abdominal CT slice.'],
    };
    const formats: Record<string, string> = { lvit: 'lvit', lgms: 'languidemedseg', sgseg: 'sgseg', manifest: 'manifest', msd: 'msd' };
    for (const [folder, [id, text]] of Object.entries(expected)) {
      assert.equal(detectFormat(d(folder)), formats[folder], folder);
      const ds = await openDataset(d(folder), folder === 'msd' ? { msd: { ratios: { train: 0, val: 0, test: 1 } } } : {});
      assert.equal(ds.format, formats[folder]);
      assert.deepEqual(ds.problems, [], folder);
      assert.deepEqual(ds.cases.map((c) => [c.id, c.split, c.text]), [[id, 'test', text]], folder);
    }
  });

  it('reads a folder holding only the split asked for', async () => {
    const ds = await openDataset(d('lvit'), { splits: ['test'] });
    assert.deepEqual(ds.problems, []);
    assert.equal(ds.cases.length, 1);
  });

  it('lists the formats and what each expects when none matches', async () => {
    await assert.rejects(openDataset(tmp.dir), (err: Error) => {
      assert.ok(err.message.includes(tmp.dir));
      for (const name of FORMAT_NAMES) assert.ok(err.message.includes(`  ${name}: `), name);
      assert.match(err.message, /annotation\.json/);
      assert.match(err.message, /dataset\.json/);
      return true;
    });
    await assert.rejects(openDataset(d('nowhere')), /does not exist/);
  });

  it('throws, naming the folder and what was expected, for a wrong --format', async () => {
    await assert.rejects(openDataset(d('sgseg'), { format: 'lvit' }), (err: Error) => err.message.includes(d('sgseg')) && err.message.includes('Train_Folder'));
    const forced = await openDataset(d('sgseg'), { format: 'sgseg' });
    assert.equal(forced.cases.length, 1);
  });
});
