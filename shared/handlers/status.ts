// GET /api/status: the status report (shared/status/) as JSON; GET /api/status?explain=<id>: one item explained;
// GET /api/status/page: the same report as the status page, behind the same function key.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { isSyncError } from '../errors.js';
import { buildStatus, explainItem, renderStatusPage, statusPageHeaders } from '../status/index.js';

/** The report; with `?explain=<id>` (a Dataverse or an Exchange id), why that item did or did not sync. */
export async function status(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const explain = request.query.get('explain');
  if (explain !== null) {
    try {
      return { status: 200, jsonBody: await explainItem(getRuntime(), explain) };
    } catch (error) {
      // A hostile or malformed id is the caller's problem (400 naming it), never a 500.
      if (isSyncError(error, 'InvalidInput')) return { status: 400, jsonBody: { error: error.message } };
      throw error;
    }
  }
  return { status: 200, jsonBody: await buildStatus(getRuntime()) };
}

/** The status page: server-rendered HTML (no script), from the same report as the JSON endpoint. */
export async function statusPage(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, headers: { ...statusPageHeaders }, body: renderStatusPage(await buildStatus(getRuntime())) };
}
