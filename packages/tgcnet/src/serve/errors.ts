// Every refusal the server gives is one JSON shape, {error: {code, message}}, where the
// message names what was wrong and what to do about it. ApiError carries that through the
// route code; toApiError turns anything else (Fastify's and the multipart plugin's own
// errors, a bug) into the same shape, so no error reaches a client as a stack trace.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(err: ApiError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}

/** Fastify and @fastify/multipart error codes, translated into words a client can act on. */
function fromFrameworkCode(code: string, status: number | undefined, message: string, limits: { maxBodyBytes: number }): ApiError | null {
  const mb = (limits.maxBodyBytes / 1024 / 1024).toFixed(1);
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError(413, 'payload_too_large', `the request body is larger than the server accepts (${mb} MB): send a smaller image (or start serve with a larger --max-body-mb)`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new ApiError(415, 'not_multipart', 'send the request as multipart/form-data with the fields image (file), text and optionally aux');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'bad_body', `the request body could not be read (${message}): send multipart/form-data`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'bad_body', 'the Content-Length header does not match the body: resend the request');
    default:
      if (status !== undefined && status >= 400 && status < 500) return new ApiError(status, 'bad_request', `${message} (check the request against GET / or the README's serve section)`);
      return null;
  }
}

/** Anything thrown while serving, as an ApiError (500 only for what is really the server's fault). */
export function toApiError(err: unknown, limits: { maxBodyBytes: number }): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (typeof e?.code === 'string') {
    const known = fromFrameworkCode(e.code, status, message, limits);
    if (known) return known;
  }
  // The client closed the connection mid-request (nginx's 499): logged, not answered.
  if ((e as { code?: unknown }).code === 'ECONNRESET' || /^(Request )?aborted$|premature close/i.test(message)) {
    return new ApiError(499, 'client_closed', 'the client closed the connection before the request was read');
  }
  // Malformed multipart bodies surface from busboy as plain errors.
  if (/Unexpected end of (form|multipart data)|Malformed part header|Boundary not found/i.test(message)) {
    return new ApiError(400, 'bad_multipart', `the multipart body is malformed (${message}): send multipart/form-data built by a client library (curl -F, FormData)`);
  }
  return new ApiError(500, 'internal', `the server failed on this request (${message}); it keeps serving: retry, and report it if it repeats`);
}
