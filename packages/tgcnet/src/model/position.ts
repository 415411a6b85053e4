// DETR's 2-D sine position embedding: half the channels encode y, half x, at geometric
// frequencies, on coordinates normalised to (0, 2 pi].
import { type Device, F, aten, tidy, type Tensor } from '@tgcnet/torch';

export function sinePositionEmbedding(h: number, w: number, channels: number, device: Device = 'cpu', temperature = 10000): Tensor {
  if (channels % 4 !== 0) throw new RangeError(`sine position embedding needs channels divisible by 4, got ${channels}`);
  return tidy(() => {
    const half = channels / 2;
    const scale = 2 * Math.PI;
    const ys = aten.arange(1, h + 1, { dtype: 'float32', device }).div(h + 1e-6).mul(scale);
    const xs = aten.arange(1, w + 1, { dtype: 'float32', device }).div(w + 1e-6).mul(scale);
    const i = aten.arange(0, half, { dtype: 'float32', device });
    const dimT = aten.powScalarBase(temperature, i.div(2).floor().mul(2 / half));
    const embed = (coord: Tensor) => {
      const p = coord.reshape(-1, 1).div(dimT.reshape(1, -1));
      const [even, odd] = [p.slice(1, 0, null, 2).sin(), p.slice(1, 1, null, 2).cos()];
      return F.stack([even, odd], 2).flatten(1);
    };
    const py = embed(ys).reshape(h, 1, half).expand(h, w, half);
    const px = embed(xs).reshape(1, w, half).expand(h, w, half);
    return F.cat([py, px], 2).permute(2, 0, 1).unsqueeze(0).contiguous();
  });
}
