// The optimizer training uses, in one place so that benchmarks build the same one.
import { nn, optim, type Tensor } from '@tgcnet/torch';

/**
 * AdamW over a model's trainable parameters: weight decay on matrices, none on vectors and
 * scalars (biases, norms), and, unless `rowSparse` is false, every trainable embedding table
 * updated by rows (a text tower trained from scratch: a batch looks up a few dozen of 49408
 * tokens; the same bits as the dense update, see AdamW#rowSparse).
 */
export function trainingOptimizer(model: nn.Module, options: { lr: number; weightDecay: number; rowSparse?: boolean }): { optimizer: optim.AdamW; params: Tensor[] } {
  const params = model.parameters().filter((p) => p.requiresGrad);
  const optimizer = new optim.AdamW(
    [
      { params: params.filter((p) => p.ndim >= 2), options: { weightDecay: options.weightDecay } },
      { params: params.filter((p) => p.ndim < 2), options: { weightDecay: 0 } },
    ],
    { lr: options.lr },
  );
  if (options.rowSparse !== false) {
    optimizer.rowSparse(
      [...model.namedModules()]
        .map(([, m]) => m)
        .filter((m): m is nn.Embedding => m instanceof nn.Embedding && m.weight.requiresGrad && optim.AdamW.canRowSparse(m.weight))
        .map((m) => m.weight),
    );
  }
  return { optimizer, params };
}
