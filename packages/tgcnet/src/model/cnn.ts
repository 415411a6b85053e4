// The SSE's trainable structural branch: a lightweight CNN at high resolution with
// stages at strides 4, 8, 16 and 32 (192/96/48/24 for a 768 input).
import { nn, tidy, type Tensor } from '@tgcnet/torch';
import { ConvNormAct, ResidualBlock } from './blocks.js';

export interface CnnSpec {
  inChannels: number;
  stem: number;
  widths: readonly number[];
  depths: readonly number[];
}

export class CnnStage extends nn.Module {
  readonly down: ConvNormAct;
  readonly blocks: nn.ModuleList<ResidualBlock>;

  constructor(inC: number, outC: number, depth: number, stride: number) {
    super();
    this.down = this.registerModule('down', new ConvNormAct(inC, outC, 3, stride));
    this.blocks = this.registerModule('blocks', new nn.ModuleList(Array.from({ length: depth }, () => new ResidualBlock(outC))));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = this.down.forward(x);
      for (const b of this.blocks) h = b.forward(h);
      return h;
    });
  }
}

export class CnnBranch extends nn.Module {
  readonly stem: ConvNormAct;
  readonly stages: nn.ModuleList<CnnStage>;

  constructor(readonly spec: CnnSpec) {
    super();
    this.stem = this.registerModule('stem', new ConvNormAct(spec.inChannels, spec.stem, 3, 2));
    const stages: CnnStage[] = [];
    let c = spec.stem;
    spec.widths.forEach((w, i) => {
      stages.push(new CnnStage(c, w, spec.depths[i], 2));
      c = w;
    });
    this.stages = this.registerModule('stages', new nn.ModuleList(stages));
  }

  /** x [B, C, S, S] -> maps at strides 4, 8, 16, 32. */
  forward(x: Tensor): Tensor[] {
    return tidy(() => this.features(x).maps);
  }

  /** The maps at strides 4, 8, 16, 32 and the stem's own map at stride 2. */
  features(x: Tensor): { stem: Tensor; maps: Tensor[] } {
    if (x.ndim !== 4 || x.shape[1] !== this.spec.inChannels || x.shape[2] % 32 !== 0 || x.shape[3] % 32 !== 0) {
      throw new RangeError(
        `CNN branch: expected [B, ${this.spec.inChannels}, H, W] with H and W multiples of 32, got [${x.shape.join(', ')}]`,
      );
    }
    return tidy(() => {
      const maps: Tensor[] = [];
      const stem = this.stem.forward(x);
      let h = stem;
      for (const stage of this.stages) {
        h = stage.forward(h);
        maps.push(h);
      }
      return { stem, maps };
    });
  }
}
