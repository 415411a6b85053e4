// tgcnet: text-guided medical image segmentation. The model, data, training and serving
// layers land here; the engine is @tgcnet/torch.
export { buildProgram, run } from './cli/main.js';
