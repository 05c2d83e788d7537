// Errors in Microsoft Graph's shape: { error: { code, message, innerError: { date, request-id, client-request-id } } }
// (concepts/errors.md; samples/graph-error-generic.json). Handlers throw GraphError; the pipeline renders it.

/** An error the simulator answers with, as Graph would. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

/** Graph's innerError date format: seconds precision, no zone designator (as in the samples). */
export function innerErrorDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** The JSON body of a Graph error. */
export function graphErrorBody(code: string, message: string, requestId: string, clientRequestId: string, nowMs: number): unknown {
  return {
    error: {
      code,
      message,
      innerError: { date: innerErrorDate(nowMs), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

/** The body of a throttled answer, shaped as samples/graph-error-throttled-429.json. */
export function throttledBody(requestId: string, nowMs: number): unknown {
  return {
    error: {
      code: 'TooManyRequests',
      innerError: { code: '429', date: innerErrorDate(nowMs), message: 'Please retry after', 'request-id': requestId, status: '429' },
      message: 'Please retry again later.',
    },
  };
}

export const notFound = (what = 'The specified object was not found in the store.'): GraphError => new GraphError(404, 'ErrorItemNotFound', what);
export const badRequest = (message: string, code = 'BadRequest'): GraphError => new GraphError(400, code, message);
