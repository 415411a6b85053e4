// Small convolutional building blocks shared by the CNN branch and the decoder.
import { F, nn, tidy, type Tensor } from '@tgcnet/torch';

/** GroupNorm groups for a channel count: the largest of 8, 4, 2, 1 that divides it. */
export function groupsFor(channels: number): number {
  return [8, 4, 2, 1].find((g) => channels % g === 0)!;
}

/** conv -> GroupNorm -> ReLU. */
export class ConvNormAct extends nn.Module {
  readonly conv: nn.Conv2d;
  readonly norm: nn.GroupNorm;

  constructor(inC: number, outC: number, kernel = 3, stride = 1) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d(inC, outC, kernel, { stride, padding: Math.floor(kernel / 2), bias: false }));
    this.norm = this.registerModule('norm', new nn.GroupNorm(groupsFor(outC), outC));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => F.relu(this.norm.forward(this.conv.forward(x))));
  }
}

/** Two 3x3 convs with a residual connection (ResNet basic block, GroupNorm). */
export class ResidualBlock extends nn.Module {
  readonly conv1: ConvNormAct;
  readonly conv2: nn.Conv2d;
  readonly norm2: nn.GroupNorm;

  constructor(readonly channels: number) {
    super();
    this.conv1 = this.registerModule('conv1', new ConvNormAct(channels, channels));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false }));
    this.norm2 = this.registerModule('norm2', new nn.GroupNorm(groupsFor(channels), channels));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => F.relu(x.add(this.norm2.forward(this.conv2.forward(this.conv1.forward(x))))));
  }
}
