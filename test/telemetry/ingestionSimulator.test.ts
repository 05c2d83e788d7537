// The local Application Insights ingestion endpoint (dev/sim/appinsights) answers the track API as the service
// does: gzip or plain JSON arrays, per-item errors for a wrong instrumentation key, 404 off the track paths.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppInsightsSimulator, type AppInsightsSimulator } from '../../dev/sim/appinsights/index.js';

const envelope = (iKey: string, message: string) => ({
  name: 'Microsoft.ApplicationInsights.Message',
  time: new Date().toISOString(),
  iKey,
  tags: { 'ai.operation.id': '0af7651916cd43dd8448eb211c80319c' },
  data: { baseType: 'MessageData', baseData: { ver: 2, message, properties: { kind: 'appointment' } } },
});

describe('Application Insights ingestion simulator', () => {
  let ai: AppInsightsSimulator;
  beforeAll(async () => void (ai = await startAppInsightsSimulator()));
  afterAll(async () => ai?.close());

  it('accepts a gzip batch on /v2.1/track, rejects items with another instrumentation key, and lets a test await them', async () => {
    const waiting = ai.waitFor((e) => e.data.baseData.message === 'second', { timeoutMs: 5_000 });
    const body = gzipSync(JSON.stringify([envelope(ai.instrumentationKey, 'first'), envelope('00000000-0000-4000-8000-000000000000', 'stranger'), envelope(ai.instrumentationKey, 'second')]));
    const res = await fetch(`${ai.origin}/v2.1/track`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body });
    expect(res.status).toBe(206);
    expect(await res.json()).toMatchObject({ itemsReceived: 3, itemsAccepted: 2, errors: [{ index: 1, statusCode: 400 }] });
    const [second] = await waiting;
    expect(second!.tags?.['ai.operation.id']).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(ai.envelopes().map((e) => e.data.baseData.message)).toEqual(['first', 'second']);
    expect(ai.requests()).toEqual([{ gzip: true, items: 3, authorization: false }]);
    expect(ai.connectionString).toBe(`InstrumentationKey=${ai.instrumentationKey};IngestionEndpoint=${ai.origin}/`);
  });

  it('answers 400 for a body that is not JSON and 404 off the track API', async () => {
    expect((await fetch(`${ai.origin}/v2.1/track`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await fetch(`${ai.origin}/QuickPulseService.svc/post`, { method: 'POST', body: '[]' })).status).toBe(404);
  });
});
