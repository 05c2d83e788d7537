// GET /api/status: the status report (shared/status/) as JSON.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { buildStatus } from '../status/index.js';

export async function status(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await buildStatus(getRuntime()) };
}
