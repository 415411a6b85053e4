// GET / (the viewer page), /viewer.js and /viewer.css, from string modules. The page loads no
// script from elsewhere and runs no inline script, so a strict Content-Security-Policy holds.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { VIEWER_HTML } from './page.js';
import { VIEWER_JS } from './script.js';
import { VIEWER_CSS } from './style.js';

const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export function registerViewerRoutes(app: FastifyInstance): void {
  const page = (type: string, body: string) => async (_request: unknown, reply: FastifyReply) =>
    reply.type(type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(body);
  app.get('/', page('text/html; charset=utf-8', VIEWER_HTML));
  app.get('/viewer.js', page('text/javascript; charset=utf-8', VIEWER_JS));
  app.get('/viewer.css', page('text/css; charset=utf-8', VIEWER_CSS));
}
