// The Web API's $batch wire format, both ways: a multipart/mixed body of one application/http part per request, and
// its answer of one `HTTP/1.1 <status>` part per request, in order
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api;
// OData 4.0 part 1 section 11.7). The answer crosses a process boundary, so it is read strictly: anything that is not
// exactly that format is undefined, never a partial reading.

/** One request of a batch. */
export interface BatchRequestPart {
  method: string;
  /** The URL from the root (`/api/data/v9.2/...?...`): the documented form of a part's request line. */
  target: string;
  headers: Readonly<Record<string, string>>;
  /** JSON text, when the request has a body. */
  body?: string | undefined;
}

/** One answer of a batch, as a single answer would have been. */
export interface BatchResponsePart {
  status: number;
  headers: Headers;
  text: string;
}

const crlf = '\r\n';
/** RFC 2046 section 5.1.1: 1-70 characters of a restricted set. */
const boundaryChars = /^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/;

/** The body of a batch request; `boundary` is the one its Content-Type names. */
export function batchRequestBody(boundary: string, parts: readonly BatchRequestPart[]): string {
  const lines: string[] = [];
  for (const p of parts) {
    lines.push(`--${boundary}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '');
    lines.push(`${p.method} ${p.target} HTTP/1.1`);
    for (const [name, value] of Object.entries(p.headers)) lines.push(`${name}: ${value}`);
    lines.push('', p.body ?? '');
  }
  lines.push(`--${boundary}--`, '');
  return lines.join(crlf);
}

/** The boundary a multipart/mixed Content-Type names, or undefined. */
export function multipartBoundary(contentType: string | null): string | undefined {
  if (!contentType || !/^\s*multipart\/mixed\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;"]*))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  return boundary !== undefined && boundaryChars.test(boundary) ? boundary : undefined;
}

/**
 * The parts of a batch answer, or undefined when it is not a well-formed one: no closing delimiter, a part that is
 * not application/http (a change set, which the sync never sends), a missing or invalid status line, a header line
 * without a name, or a body that is not JSON.
 */
export function parseBatchResponse(contentType: string | null, text: string): BatchResponsePart[] | undefined {
  const boundary = multipartBoundary(contentType);
  if (!boundary) return undefined;
  const delimiter = `--${boundary}`;
  const chunks: string[][] = [];
  let current: string[] | undefined;
  let closed = false;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trimEnd();
    if (trimmed === `${delimiter}--`) {
      if (current) chunks.push(current);
      closed = true;
      break;
    }
    if (trimmed === delimiter) {
      if (current) chunks.push(current);
      current = [];
    } else {
      current?.push(line);
    }
  }
  if (!closed) return undefined;
  const parts: BatchResponsePart[] = [];
  for (const lines of chunks) {
    const part = parsePart(lines);
    if (!part) return undefined;
    parts.push(part);
  }
  return parts;
}

function parsePart(lines: readonly string[]): BatchResponsePart | undefined {
  const mime = readHeaders(lines, 0);
  if (!mime || !/^application\/http\s*(;|$)/i.test(mime.headers.get('content-type') ?? '')) return undefined;
  let i = mime.next;
  while (i < lines.length && lines[i] === '') i += 1;
  const status = /^HTTP\/1\.1 ([1-5]\d\d)(?: .*)?$/.exec(lines[i]?.trimEnd() ?? '');
  if (!status) return undefined;
  const http = readHeaders(lines, i + 1);
  if (!http) return undefined;
  const body = lines.slice(http.next).join(crlf).replace(/(\r\n)+$/, '').trim();
  if (body !== '') {
    try {
      JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return { status: Number(status[1]), headers: http.headers, text: body };
}

/** Header lines from `from` to the first empty line; undefined for a line that is not `name: value`. */
function readHeaders(lines: readonly string[], from: number): { headers: Headers; next: number } | undefined {
  const headers = new Headers();
  let i = from;
  for (; i < lines.length && lines[i] !== ''; i += 1) {
    const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):\s*(.*)$/.exec(lines[i]!.trimEnd());
    if (!m) return undefined;
    try {
      headers.append(m[1]!, m[2]!);
    } catch {
      return undefined;
    }
  }
  return { headers, next: i + 1 };
}
