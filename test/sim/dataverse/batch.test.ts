// $batch as documented (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
// the multipart format both ways, stop at the first error unless odata.continue-on-error, at most 1000 requests, and
// the service protection accounting of api-limits (a batch is one request; its parts' execution time counts).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type Loose } from './support.js';

interface Part {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Answer {
  status: number;
  /** The part's own MIME headers (Content-Type, Content-Transfer-Encoding). */
  mime: Record<string, string>;
  headers: Record<string, string>;
  json: Loose;
}

const boundary = 'batch_7c1d2f0e';

/** A batch body written as the page above shows it, CRLF line ends. */
function batchBody(parts: Part[], b = boundary): string {
  const lines: string[] = [];
  for (const p of parts) {
    lines.push(`--${b}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '');
    lines.push(`${p.method} ${p.url} HTTP/1.1`);
    for (const [k, v] of Object.entries({ ...(p.body === undefined ? {} : { 'Content-Type': 'application/json; type=entry' }), ...p.headers })) lines.push(`${k}: ${v}`);
    lines.push('', p.body === undefined ? '' : JSON.stringify(p.body));
  }
  lines.push(`--${b}--`, '');
  return lines.join('\r\n');
}

/** The test's own reading of a multipart answer, independent of the simulator's and the product's code. */
function parseAnswer(contentType: string, text: string): Answer[] {
  const b = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (!b) throw new Error(`no boundary in ${contentType}`);
  const chunks = text.split(`--${b}`);
  expect(chunks.at(-1)!.startsWith('--')).toBe(true);
  return chunks.slice(1, -1).map((chunk) => {
    const [mimeBlock, http] = splitOnce(chunk.replace(/^\r\n/, ''), '\r\n\r\n');
    const [head, body] = splitOnce(http, '\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');
    const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const mime = Object.fromEntries(mimeBlock.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const trimmed = body.replace(/\r\n$/, '');
    return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)![1]), mime, headers, json: trimmed ? JSON.parse(trimmed) : undefined };
  });
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

describe('Dataverse simulator $batch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.reset();
    h.sim.admin.setFaultPlan({});
    h.sim.admin.setBatchPartThrottling('batch');
  });

  async function batch(parts: Part[] | string, prefer?: string): Promise<{ status: number; headers: Headers; text: string; answers: Answer[] }> {
    const res = await fetch(`${h.sim.apiUrl}/$batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.token}`, accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0', 'Content-Type': `multipart/mixed; boundary="${boundary}"`, ...(prefer ? { Prefer: prefer } : {}) },
      body: typeof parts === 'string' ? parts : batchBody(parts),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, headers: res.headers, text, answers: type.startsWith('multipart/mixed') ? parseAnswer(type, text) : [] };
  }

  const taskId = (n: number) => `0000000${n}-0000-4000-8000-00000000b0b0`;

  it('answers multipart/mixed with one application/http part per request, in order, each as the request alone would be answered', async () => {
    const r = await batch([
      { method: 'POST', url: '/api/data/v9.2/tasks', body: { activityid: taskId(1), subject: 'one' } },
      { method: 'POST', url: `${h.sim.apiUrl}/tasks`, headers: { Prefer: 'return=representation' }, body: { activityid: taskId(2), subject: 'two' } },
      { method: 'GET', url: `tasks(${taskId(1)})?$select=subject` },
      { method: 'GET', url: `tasks(${taskId(9)})` },
    ], 'odata.continue-on-error');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary=batchresponse_[0-9a-f-]{36}$/);
    expect(r.answers.map((a) => a.status)).toEqual([204, 201, 200, 404]);
    for (const a of r.answers) expect(a.mime).toEqual({ 'content-type': 'application/http', 'content-transfer-encoding': 'binary' });
    expect(r.answers[0]!.headers['odata-entityid']).toBe(`${h.sim.apiUrl}/tasks(${taskId(1)})`);
    expect(r.answers[1]!.headers['etag']).toMatch(/^W\/"\d+"$/);
    expect(r.answers[1]!.json.subject).toBe('two');
    expect(r.answers[2]!.json.subject).toBe('one');
    expect(r.answers[2]!.headers['etag']).toMatch(/^W\/"\d+"$/);
    expect(r.answers[3]!.json.error.code).toBe('0x80040217');
    // The parts' own status lines are HTTP/1.1 with the reason phrase, as in the documented responses.
    expect(r.text).toContain('HTTP/1.1 204 No Content\r\n');
  });

  it('without odata.continue-on-error stops at the first failed request and answers with its status', async () => {
    const created = await h.api('tasks', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'kept' } });
    const parts: Part[] = [
      { method: 'POST', url: 'tasks', body: { activityid: taskId(1), subject: 'first' } },
      { method: 'PATCH', url: `tasks(${created.json.activityid})`, headers: { 'If-Match': 'W/"1"' }, body: { subject: 'stale' } },
      { method: 'POST', url: 'tasks', body: { activityid: taskId(3), subject: 'never' } },
    ];
    const stopped = await batch(parts);
    expect(stopped.status).toBe(412);
    expect(stopped.answers.map((a) => a.status)).toEqual([204, 412]);
    expect(stopped.answers[1]!.json.error.code).toBe('0x80060882');
    expect((await h.api(`tasks(${taskId(3)})`)).status).toBe(404);

    h.reset();
    const again = await h.api('tasks', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'kept' } });
    parts[1]!.url = `tasks(${again.json.activityid})`;
    const continued = await batch(parts, 'odata.continue-on-error');
    expect(continued.status).toBe(200);
    expect(continued.answers.map((a) => a.status)).toEqual([204, 412, 204]);
    expect((await h.api(`tasks(${taskId(3)})`)).status).toBe(200);
  });

  it('refuses more than 1000 requests before running any, and a batch inside a batch, a change set or a body that is not multipart', async () => {
    const many: Part[] = Array.from({ length: 1001 }, (_, i) => ({ method: 'POST', url: 'tasks', body: { subject: `t${i}` } }));
    const tooMany = await batch(many);
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.text).error.message).toContain('1000');
    expect((await h.api('tasks?$select=subject')).json.value).toEqual([]);

    const thousand = await batch(many.slice(0, 1000), 'odata.continue-on-error');
    expect(thousand.status).toBe(200);
    expect(thousand.answers).toHaveLength(1000);

    const nested = await batch([{ method: 'POST', url: '$batch', body: {} }], 'odata.continue-on-error');
    expect(nested.answers.map((a) => a.status)).toEqual([400]);

    const changeSet = [`--${boundary}`, 'Content-Type: multipart/mixed; boundary=changeset_1', '', '--changeset_1', '--changeset_1--', `--${boundary}--`, ''].join('\r\n');
    expect((await batch(changeSet)).status).toBe(400);
    expect((await batch(`--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET WhoAmI HTTP/1.1\r\n\r\n`)).status).toBe(400);
    const notMultipart = await h.api('$batch', { method: 'POST', body: { requests: [] } });
    expect(notMultipart.status).toBe(400);
  });

  it('counts a batch as one request for the request limit and its parts in byRoute, and its parts time as execution time', async () => {
    const before = h.sim.admin.requestCounts();
    const r = await batch(Array.from({ length: 5 }, (_, i) => ({ method: 'POST', url: 'tasks', body: { subject: `c${i}` } })), 'odata.continue-on-error');
    expect(r.status).toBe(200);
    const after = h.sim.admin.requestCounts();
    expect(after.total - before.total).toBe(1);
    expect(Object.values(after.byUser).reduce((a, b) => a + b, 0) - Object.values(before.byUser).reduce((a, b) => a + b, 0)).toBe(1);
    expect(after.batchParts - before.batchParts).toBe(5);
    expect((after.byRoute['POST tasks'] ?? 0) - (before.byRoute['POST tasks'] ?? 0)).toBe(5);
    expect(after.byRoute['POST $batch']).toBe(1);

    // Request count: three batches of 5 under a limit of 3 requests, then the fourth request is refused.
    h.reset();
    const limits = h.sim.admin.limits();
    h.sim.admin.setLimits({ requestsPerWindow: 3 });
    try {
      for (let i = 0; i < 3; i += 1) expect((await batch(Array.from({ length: 5 }, () => ({ method: 'GET', url: 'WhoAmI' })))).status).toBe(200);
      const refused = await batch([{ method: 'GET', url: 'WhoAmI' }]);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text).error.code).toBe('0x80072322');
    } finally {
      h.sim.admin.setLimits(limits);
    }

    // Execution time: 3 parts of 120 ms in one batch exhaust a 300 ms window; the next request is refused for it.
    h.reset();
    h.sim.admin.setLimits({ executionTimeMsPerWindow: 300 });
    h.sim.admin.setFaultPlan({ requests: { match: '^POST .*/tasks$', latencyMs: 120 } });
    try {
      expect((await batch(Array.from({ length: 3 }, (_, i) => ({ method: 'POST', url: 'tasks', body: { subject: `slow${i}` } })))).status).toBe(200);
      const next = await h.api('WhoAmI');
      expect(next.status).toBe(429);
      expect(next.json.error.code).toBe('0x80072321');
    } finally {
      h.sim.admin.setLimits(limits);
    }
  });

  it("answers a throttle for the whole batch under batchPartThrottling 'batch', and in the part under 'part'", async () => {
    const parts: Part[] = [
      { method: 'POST', url: 'tasks', body: { activityid: taskId(1), subject: 'a' } },
      { method: 'PATCH', url: `tasks(${taskId(2)})`, body: { subject: 'b' } },
      { method: 'POST', url: 'tasks', body: { activityid: taskId(3), subject: 'c' } },
    ];
    // 'batch': the batch draws the throttle, and its parts do not.
    h.sim.admin.setFaultPlan({ requests: { match: '^PATCH ', throttle: { probability: 1, burst: 1, retryAfterSeconds: 7 } } });
    const partsOnly = await batch(parts, 'odata.continue-on-error');
    expect(partsOnly.answers.map((a) => a.status)).toEqual([204, 204, 204]);
    h.reset();
    h.sim.admin.setFaultPlan({ requests: { match: '^POST .*/\\$batch$', throttle: { probability: 1, burst: 1, retryAfterSeconds: 7 } } });
    const whole = await batch(parts, 'odata.continue-on-error');
    expect(whole.status).toBe(429);
    expect(whole.headers.get('retry-after')).toBe('7');
    expect(JSON.parse(whole.text).error.code).toBe('0x80072322');
    expect((await h.api('tasks?$select=subject')).json.value).toEqual([]);

    h.reset();
    h.sim.admin.setBatchPartThrottling('part');
    // 'part': each part draws, and the batch does not.
    h.sim.admin.setFaultPlan({ requests: { match: '^(PATCH |POST .*/\\$batch$)', throttle: { probability: 1, burst: 1, retryAfterSeconds: 7 } } });
    const perPart = await batch(parts, 'odata.continue-on-error');
    expect(perPart.status).toBe(200);
    expect(perPart.answers.map((a) => a.status)).toEqual([204, 429, 204]);
    expect(perPart.answers[1]!.headers['retry-after']).toBe('7');
    expect(perPart.answers[1]!.json.error.code).toBe('0x80072322');

  });

  it('reports each part as a handled request, and not the batch itself', async () => {
    const seen: string[] = [];
    const listener = (e: { method: string; path: string; status: number }) => seen.push(`${e.method} ${e.path.replace(/^.*\/v9\.2\//, '')} ${e.status}`);
    h.sim.requests.on('handled', listener);
    try {
      await batch([{ method: 'GET', url: 'WhoAmI' }, { method: 'POST', url: 'tasks', body: { activityid: taskId(1), subject: 'x' } }], 'odata.continue-on-error');
    } finally {
      h.sim.requests.off('handled', listener);
    }
    expect(seen).toEqual(['GET WhoAmI 200', `POST tasks 204`]);
  });
});
