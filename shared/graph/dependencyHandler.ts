// A middleware of the Graph SDK's chain, just before the one that sends: each HTTP request Graph receives (every
// page, every retry of ours) becomes one dependency span in the trace of the change (shared/telemetry). It only
// observes: the request and the response pass through untouched.
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { traceHttpDependency } from '../telemetry/index.js';

export class DependencyHandler implements Middleware {
  private next: Middleware | undefined;

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (!next) throw new Error('DependencyHandler must not be the last middleware of the chain');
    // RequestInfo: a URL string, or a Request (which the SDK builds for a batch step).
    const request = context.request as string | { url: string; method: string };
    const url = typeof request === 'string' ? request : request.url;
    const method = context.options?.method ?? (typeof request === 'string' ? 'GET' : request.method);
    await traceHttpDependency(method, url, () => next.execute(context), () => context.response?.status);
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}
