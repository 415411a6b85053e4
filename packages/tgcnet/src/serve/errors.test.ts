import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toApiError } from './errors.js';

const limits = { maxBodyBytes: 20e6 };

test('a client that goes away mid-request is a 499, not a 500 with a stack trace', () => {
  const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  for (const err of [reset, new Error('Request aborted'), new Error('premature close')]) {
    const e = toApiError(err, limits);
    assert.equal(e.status, 499, err.message);
    assert.equal(e.code, 'client_closed');
  }
  assert.equal(toApiError(new Error('something broke'), limits).status, 500);
});
