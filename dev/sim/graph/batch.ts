// JSON batching (GDC concepts/json-batching.md; docs/reference/platform-facts.md section 4): POST /v1.0/$batch with at most 20 requests;
// each is throttled on its own; Outlook receives at most 4 of a batch at a time; dependsOn orders requests and a
// request whose dependency failed answers 424 Failed Dependency. The batch itself answers 200 with the
// responses in completion order (as in samples/graph-batch-response.json), so clients must match them by id.
import { z } from 'zod';
import type { GraphApi, GraphRequest, GraphResponse } from './graphApi.js';
import { GraphError } from './graphError.js';

const batchInput = z.object({
  requests: z.array(
    z.object({
      id: z.string().min(1),
      method: z.string().min(1),
      url: z.string().min(1),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
      dependsOn: z.array(z.string()).optional(),
    }),
  ),
});

/** Executes a $batch request body. */
export async function executeBatch(api: GraphApi, outer: GraphRequest, maxRequests: number, concurrency: number, newRequestId: () => string): Promise<GraphResponse> {
  const parsed = batchInput.safeParse(outer.body);
  if (!parsed.success) throw new GraphError(400, 'BadRequest', `Invalid batch payload: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim());
  const requests = parsed.data.requests;
  if (requests.length > maxRequests) throw new GraphError(400, 'BadRequest', `The batch contains ${requests.length} requests; the maximum is ${maxRequests}.`);
  if (requests.length === 0) throw new GraphError(400, 'BadRequest', 'The batch contains no requests.');
  const ids = new Set<string>();
  for (const r of requests) {
    if (ids.has(r.id)) throw new GraphError(400, 'BadRequest', `Batch request id '${r.id}' is used more than once.`);
    ids.add(r.id);
  }
  for (const r of requests) for (const dep of r.dependsOn ?? []) if (!ids.has(dep)) throw new GraphError(400, 'BadRequest', `Request '${r.id}' depends on unknown request '${dep}'.`);

  const results = new Map<string, Promise<GraphResponse>>();
  const responses: Record<string, unknown>[] = [];
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= concurrency) await new Promise<void>((resolve) => queue.push(resolve));
    running += 1;
    try {
      return await fn();
    } finally {
      running -= 1;
      queue.shift()?.();
    }
  };

  const run = (r: (typeof requests)[number]): Promise<GraphResponse> => {
    const existing = results.get(r.id);
    if (existing) return existing;
    const p = (async (): Promise<GraphResponse> => {
      const deps = await Promise.all((r.dependsOn ?? []).map((d) => run(requests.find((x) => x.id === d) as (typeof requests)[number])));
      if (deps.some((d) => d.status < 200 || d.status >= 300)) {
        return api.errorResponse(outer, new GraphError(424, 'FailedDependency', `Request '${r.id}' was not run because a request it depends on failed.`));
      }
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
      if (r.body !== undefined && r.body !== null && !headers['content-type']) {
        return api.errorResponse(outer, new GraphError(400, 'BadRequest', `Write request id : ${r.id} does not contain Content-Type header or body.`));
      }
      let url = r.url;
      const abs = /^https?:\/\/[^/]+\/v1\.0(\/.*)$/i.exec(url);
      if (abs) url = abs[1] as string;
      if (!url.startsWith('/')) url = `/${url}`;
      const [path = '/', query = ''] = url.split('?', 2) as [string, string?];
      if (/^\/\$batch$/i.test(path)) return api.errorResponse(outer, new GraphError(400, 'BadRequest', 'A batch cannot contain another batch.'));
      return slot(() =>
        api.execute({
          method: r.method.toUpperCase(),
          path,
          query: new URLSearchParams(query),
          headers,
          body: r.body,
          app: outer.app,
          requestId: newRequestId(),
          clientRequestId: outer.clientRequestId,
        }),
      );
    })().then((res) => {
      const entryHeaders: Record<string, string> = { ...res.headers };
      if (res.body !== undefined) entryHeaders['Content-Type'] = 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
      responses.push({ id: r.id, status: res.status, headers: entryHeaders, body: res.body ?? null });
      return res;
    });
    results.set(r.id, p);
    return p;
  };
  await Promise.all(requests.map(run));
  return { status: 200, headers: {}, body: { responses } };
}
