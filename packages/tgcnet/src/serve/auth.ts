// The optional API key. The key is compared through SHA-256 digests with timingSafeEqual,
// so neither its length nor its prefix leaks through response times.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(headers: IncomingHttpHeaders): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1].trim();
  }
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.trim() !== '') return x.trim();
  return null;
}

/** A checker for one key; throws 401 for a missing or wrong key. */
export function apiKeyChecker(key: string): (headers: IncomingHttpHeaders) => void {
  const expected = digest(key);
  return (headers) => {
    const given = presentedKey(headers);
    if (given === null) {
      throw new ApiError(401, 'unauthorized', 'this server needs an API key: send it as "Authorization: Bearer <key>" or "x-api-key: <key>"', {
        'www-authenticate': 'Bearer',
      });
    }
    if (!timingSafeEqual(digest(given), expected)) {
      throw new ApiError(401, 'unauthorized', 'the API key is wrong: use the key the server was started with (its --api-key-env variable)', {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
  };
}

/** The key from the environment variable --api-key-env names; refuses an unset or empty one. */
export function apiKeyFromEnv(variable: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = env[variable];
  if (key === undefined || key.trim() === '') {
    throw new Error(`--api-key-env ${variable}: the environment variable ${variable} is not set or empty: export ${variable}=<key> before starting serve`);
  }
  return key.trim();
}
