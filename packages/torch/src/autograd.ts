// Grad mode, as torch.no_grad / torch.enable_grad.
import { native } from './native.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('noGrad/enableGrad: fn returned a Promise; grad mode only covers synchronous code');
    }
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn with gradient recording off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
