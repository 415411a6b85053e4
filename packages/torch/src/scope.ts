// Ownership of native memory. V8's collector cannot see libtorch's allocations, so every
// tensor has an owner: the scope it was created in (tidy), or whoever called keep() on it
// (a module keeps its parameters). Pattern from TensorFlow.js's engine.tidy.
import type { Tensor } from './tensor.js';

interface Scope {
  readonly tensors: Tensor[];
}

const scopes: Scope[] = [];

/** Called by the Tensor constructor: the innermost open scope owns the new tensor. */
export function track(tensor: Tensor): void {
  // Checked first: scopes[-1] is a string-keyed lookup, V8's slow path (8% of small ops).
  if (scopes.length === 0) return;
  scopes[scopes.length - 1].tensors.push(tensor);
}

/** Collects the tensors in a returned value: a Tensor, or arrays/plain objects/Maps of them. */
function collect(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (value === null || value === undefined || typeof value !== 'object' || depth > 8) return;
  if (isTensor(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, depth + 1);
  }
}

function isTensor(value: object): value is Tensor {
  return (value as { readonly isTensor?: boolean }).isTensor === true;
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (which move to
 * the enclosing scope) and those passed to keep(). Synchronous only: an async body would
 * let other work allocate into this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { tensors: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope.tensors) if (!t.isKept) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope.tensors) if (!t.isKept) t.dispose();
    throw new Error('tidy(fn): fn returned a Promise; tidy only works with synchronous functions');
  }
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : undefined;
  if (result !== null && typeof result === 'object' && isTensor(result)) {
    // Fast path for the common single-tensor result: no Set, no traversal.
    for (const t of scope.tensors) {
      if (t === (result as unknown)) {
        if (parent !== undefined) parent.tensors.push(t);
      } else if (!t.isKept) {
        t.dispose();
      }
    }
    return result;
  }
  const returned = new Set<Tensor>();
  collect(result, returned);
  for (const t of scope.tensors) {
    if (returned.has(t)) {
      if (parent !== undefined) parent.tensors.push(t);
    } else if (!t.isKept) {
      t.dispose();
    }
  }
  return result;
}

/** Takes a tensor out of scope management: the caller now owns it and must dispose it. */
export function keep<T extends Tensor>(tensor: T): T {
  tensor.markKept();
  return tensor;
}

/** Disposes tensors found in a value (a tensor, arrays or objects of tensors). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collect(value, found);
  for (const t of found) t.dispose();
}

/** Depth of open tidy scopes, for tests. */
export function scopeDepth(): number {
  return scopes.length;
}
