// GET /api/status: the status report (shared/status/) as JSON; GET /api/status/page: the same report as the status
// page, behind the same function key.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { buildStatus, renderStatusPage, statusPageHeaders } from '../status/index.js';

export async function status(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await buildStatus(getRuntime()) };
}

/** The status page: server-rendered HTML (no script), from the same report as the JSON endpoint. */
export async function statusPage(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, headers: { ...statusPageHeaders }, body: renderStatusPage(await buildStatus(getRuntime())) };
}
