// GET /api/status: the status report (shared/status/) as JSON; GET /api/status?explain=<id>: one item explained;
// GET /api/status/page: the same report as the status page, behind the same function key.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { isSyncError } from '../errors.js';
import { buildStatus, explainItem, renderStatusPage, statusPageHeaders, type PageExplain } from '../status/index.js';

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

/** The search box's form body is one id (at most 1024 characters): anything much larger is not one. */
const maxFormBytes = 4096;

/**
 * The status page: server-rendered HTML (no script), from the same report as the JSON endpoint. Its search box
 * POSTs `explain=<id>` (form-encoded) to the same address, and `?explain=<id>` works as a link; the page then
 * adds that item's explanation, and a malformed id is named on the page with a 400.
 */
export async function statusPage(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const rt = getRuntime();
  let id = request.query.get('explain');
  if (request.method === 'POST') {
    const type = request.headers.get('content-type') ?? '';
    if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return { status: 415, jsonBody: { error: 'the status page takes its search form as application/x-www-form-urlencoded' } };
    const body = await request.text();
    if (Buffer.byteLength(body) > maxFormBytes) return { status: 413, jsonBody: { error: `the search form is larger than ${maxFormBytes} bytes` } };
    id = new URLSearchParams(body).get('explain');
    if (id === null) return { status: 400, jsonBody: { error: 'the search form has no explain field' } };
  }
  let explain: PageExplain | undefined;
  if (id !== null) {
    try {
      explain = { id, result: await explainItem(rt, id) };
    } catch (error) {
      if (!isSyncError(error, 'InvalidInput')) throw error;
      explain = { id, error: error.message };
    }
  }
  const body = renderStatusPage(await buildStatus(rt), { explain });
  return { status: explain?.error !== undefined ? 400 : 200, headers: { ...statusPageHeaders }, body };
}
