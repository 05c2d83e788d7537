// The $batch wire format: a multipart/mixed body whose parts are each one HTTP request (Content-Type: application/http,
// Content-Transfer-Encoding: binary, a request line, headers, a blank line and the body), answered with a
// multipart/mixed body of one `HTTP/1.1 <status>` part per request handled, in order
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api;
// OData 4.0 part 1 section 11.7). Pure text in and out: webapi.ts runs each part through the single-request path.
import { STATUS_CODES } from 'node:http';
import { DataverseError, ErrorCodes, badValue } from './errors.js';

/** "Batch requests can contain up to 1000 individual requests" (the page above). */
export const maxBatchRequests = 1000;

/** One request of a batch as sent. */
export interface BatchPartRequest {
  method: string;
  /** The request target as written: an absolute URL, a path from the root, or a path relative to the service root. */
  target: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** One answer of a batch. */
export interface BatchPartResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The boundary of a multipart/mixed Content-Type (quoted or not), or undefined when it is not one. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/mixed\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/** Splits a multipart body into its parts' text (RFC 2046 section 5.1.1: the CRLF before a delimiter belongs to it). */
function splitParts(body: string, boundary: string): string[] {
  const lines = body.split(/\r?\n/);
  const delimiter = `--${boundary}`;
  const parts: string[][] = [];
  let current: string[] | undefined;
  let closed = false;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `${delimiter}--`) {
      if (current) parts.push(current);
      closed = true;
      break;
    }
    if (trimmed === delimiter) {
      if (current) parts.push(current);
      current = [];
      continue;
    }
    current?.push(line);
  }
  if (!closed) throw badValue(`The batch body does not end with the closing delimiter '--${boundary}--'.`);
  return parts.map((p) => p.join('\r\n'));
}

/** The header block and the rest of a part or message: headers end at the first empty line. */
function headersAndRest(text: string): { headers: Record<string, string>; rest: string } {
  const lines = text.split('\r\n');
  const headers: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length && lines[i] !== ''; i += 1) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw badValue(`A batch part has a malformed header line (no name before ':').`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, rest: lines.slice(i + 1).join('\r\n') };
}

/** The requests of a batch body, in order. Throws 400 for anything the documented format does not allow. */
export function parseBatchBody(body: string, boundary: string): BatchPartRequest[] {
  return splitParts(body, boundary).map((text, index) => {
    const { headers, rest } = headersAndRest(text);
    const type = headers['content-type'] ?? '';
    if (/^multipart\/mixed/i.test(type)) {
      // Change sets (atomic groups) are documented but not simulated: rolling back the store and its webhooks is
      // more than the sync needs (it batches independent requests only). README "Known differences".
      throw new DataverseError(400, ErrorCodes.ODataNotSupported, `Batch part ${index + 1} is a change set; the simulator does not simulate change sets.`);
    }
    if (!/^application\/http\s*(;|$)/i.test(type)) throw badValue(`Batch part ${index + 1} must have Content-Type: application/http.`);
    if ((headers['content-transfer-encoding'] ?? '').toLowerCase() !== 'binary') throw badValue(`Batch part ${index + 1} must have Content-Transfer-Encoding: binary.`);
    const message = rest.replace(/^(\r\n)+/, '');
    const lineEnd = message.indexOf('\r\n');
    const requestLine = lineEnd < 0 ? message : message.slice(0, lineEnd);
    const m = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(requestLine.trimEnd());
    if (!m) throw badValue(`Batch part ${index + 1} does not start with a request line 'METHOD <url> HTTP/1.1'.`);
    const inner = headersAndRest(lineEnd < 0 ? '' : message.slice(lineEnd + 2));
    return { method: m[1]!, target: m[2]!, headers: inner.headers, body: inner.rest.replace(/(\r\n)+$/, '') };
  });
}

/** The multipart body answering a batch: one application/http part per answer. */
export function serializeBatchResponse(parts: readonly BatchPartResponse[], boundary: string): string {
  const out: string[] = [];
  for (const p of parts) {
    out.push(`--${boundary}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '');
    out.push(`HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? 'Unknown'}`);
    for (const [name, value] of Object.entries(p.headers)) out.push(`${name}: ${value}`);
    out.push('', p.body);
  }
  out.push(`--${boundary}--`, '');
  return out.join('\r\n');
}
