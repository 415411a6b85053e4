// A keyless server on 127.0.0.1 is still reachable from every web page the user opens: a
// page may POST a form to http://127.0.0.1:8080/v1/segment (the browser sends it, and the
// Origin header says whose page it was), and DNS rebinding makes a page's own host name point
// at 127.0.0.1 (the Host header then holds that name). Without an API key, a POST is
// therefore refused when its Origin is another site's (not this server, not in
// --allowed-origins) or, on a loopback address, when its Host is not a loopback name.
// Clients that are not browsers (curl, scripts) send no Origin and pass. The Host check holds
// for every request (a rebound page could read /v1/model as well as POST); the Origin check
// for POSTs (a browser sends Origin on reads of its own page's scripts too).
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The host name of a Host header ("localhost:8080" -> "localhost", "[::1]:80" -> "[::1]"). */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

export interface OriginPolicy {
  /** Origins besides the server's own whose pages may POST ('*': any). */
  allowedOrigins: readonly string[];
  /** The server listens on a loopback address: Host must be a loopback name. */
  loopback: boolean;
}

export function originChecker(policy: OriginPolicy): (request: FastifyRequest, isPost: boolean) => void {
  const allowed = new Set(policy.allowedOrigins.map((o) => o.trim().replace(/\/+$/, '').toLowerCase()));
  return (request, isPost) => {
    const host = request.headers.host ?? '';
    if (policy.loopback && host !== '' && !LOOPBACK_NAMES.has(hostName(host))) {
      throw new ApiError(403, 'host_not_allowed', `this server listens on a loopback address and answers only requests addressed to localhost or 127.0.0.1, not to ${host}: use http://127.0.0.1:<port>/`);
    }
    const origin = request.headers.origin;
    if (!isPost || origin === undefined || allowed.has('*')) return;
    const o = origin.trim().replace(/\/+$/, '').toLowerCase();
    if (allowed.has(o)) return;
    let own = false;
    try {
      own = new URL(o).host === host.toLowerCase();
    } catch {
      own = false;
    }
    if (!own) {
      throw new ApiError(
        403,
        'origin_not_allowed',
        `a page from ${origin} may not use this server: without an API key, only this server's own viewer and clients that are not browsers may POST; ` +
          'start serve with --allowed-origins <origin> to admit that page, or with --api-key-env to require a key',
      );
    }
  };
}
