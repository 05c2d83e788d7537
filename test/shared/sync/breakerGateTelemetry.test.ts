// The hold metric the breaker's gate records (sync.breaker.holds, shared/sync/breakerGate.ts `hold`), through the
// Azure Monitor distribution to the Application Insights simulator: what the held write was is its `action`
// dimension (a create past the cap, a delete, or a cancellation that would notify attendees), so an operator's chart
// tells a duplicate flood from a mass delete. Separate from breakerGate.test.ts: telemetry is one per process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { startAppInsightsSimulator, type AppInsightsSimulator, type Envelope } from '../../../dev/sim/appinsights/index.js';
import { createLogger } from '../../../shared/log.js';
import { defaultBreaker } from '../../../shared/settings/index.js';
import { BreakerStore, type HeldEntry } from '../../../shared/storage/breakerStore.js';
import { PairStore } from '../../../shared/storage/pairStore.js';
import { createTables } from '../../../shared/storage/tables.js';
import { BreakerGate, thresholdsFromConfig } from '../../../shared/sync/breakerGate.js';
import { flushTelemetry, startTelemetry, stopTelemetry } from '../../../shared/telemetry/index.js';

const mailboxId = '0000000a-0000-4000-8000-00000000000b';
const props = (e: Envelope) => e.data.baseData.properties ?? {};
const isHolds = (e: Envelope) => e.data.baseType === 'MetricData' && (e.data.baseData.metrics ?? []).some((m) => m.name === 'sync.breaker.holds');

describe('the hold metric (Application Insights simulator)', () => {
  let azurite: StartedAzurite;
  let ai: AppInsightsSimulator;
  let gate: BreakerGate;
  const site = process.env.WEBSITE_SITE_NAME;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    ai = await startAppInsightsSimulator();
    // The distribution starts on the Functions platform only (shared/telemetry/index.ts startTelemetry).
    process.env.WEBSITE_SITE_NAME = 'breaker-gate-test';
    expect(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: ai.connectionString }, { exportIntervalMs: 250 })).toEqual({ enabled: true });
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'gatetelemetry' });
    await tables.ensureTables();
    gate = new BreakerGate(new BreakerStore(tables.client('breaker'), tables.client('quarantine')), new PairStore(tables.client('pairs')), () => Promise.resolve(thresholdsFromConfig(defaultBreaker)), createLogger(() => undefined));
  }, 60_000);
  afterAll(async () => {
    await stopTelemetry();
    if (site === undefined) delete process.env.WEBSITE_SITE_NAME;
    else process.env.WEBSITE_SITE_NAME = site;
    await ai?.close();
    await azurite?.close();
  });

  const entry = (over: Partial<HeldEntry>): HeldEntry => ({
    mailboxId,
    kind: 'appointment',
    direction: 'toExchange',
    op: 'delete',
    side: 'exchange',
    dataverseEntity: 'appointment',
    dataverseId: 'bbbbbbbb-0000-4000-8000-000000000001',
    exchangeId: 'AAMk-1',
    inferred: false,
    trigger: 'ratio',
    reason: 'deleted in Dynamics 365',
    firstSeen: '2026-12-08T08:00:00.000Z',
    lastSeen: '2026-12-08T08:00:00.000Z',
    ...over,
  });

  it('counts each held write under what it was: create, delete (also when the entry names no how) or cancel', async () => {
    await gate.hold(entry({ op: 'create', how: 'cancel', dataverseId: undefined, exchangeId: 'AAMk-new', trigger: 'createCap' }));
    await gate.hold(entry({ exchangeId: 'AAMk-2' }));
    await gate.hold(entry({ how: 'cancel', exchangeId: 'AAMk-3', trigger: 'hardCap' }));
    await flushTelemetry();
    const of = async (trigger: string, action: string) =>
      // Exports run every 250 ms: 10 s is ample, and a wrong dimension fails well within a test's time.
      (await ai.waitFor((e) => isHolds(e) && props(e).mailboxId === mailboxId && props(e).trigger === trigger && props(e).action === action, { timeoutMs: 10_000 }))[0]!.data.baseData.metrics![0]!.value;
    // A create is a create whatever `how` says: `how` is only what a delete would do.
    expect(await of('createCap', 'create')).toBe(1);
    expect(await of('ratio', 'delete')).toBe(1);
    expect(await of('hardCap', 'cancel')).toBe(1);
    const actions = new Set(ai.envelopes().filter((e) => isHolds(e) && props(e).mailboxId === mailboxId).map((e) => `${props(e).trigger}/${props(e).action}`));
    expect([...actions].sort()).toEqual(['createCap/create', 'hardCap/cancel', 'ratio/delete']);
  });
});
