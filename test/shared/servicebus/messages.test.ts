// The change message constructors: every producer (webhooks, reconciliation, backfill, lifecycle, retries, dead-letter
// replay) builds its messages through them, so each message passes the schema and carries only what is set.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  changeMessageSchema,
  dataverseChange,
  exchangeChange,
  lifecycleChange,
  messageIdOf,
  waitOf,
  replayOf,
  retryOf,
  versionOfEtag,
} from '../../../shared/servicebus/messages.js';

const receivedAt = '2026-12-01T10:00:00.000Z';
const recordId = '0A1B2C3D-0000-0000-0000-00000000ABCD';

describe('change message constructors', () => {
  it('build messages the schema accepts, leaving out the optional fields that are not set', () => {
    const ex = exchangeChange({ mailboxId: 'm', resource: 'event', itemId: 'AAMk=', changeType: 'updated', etag: undefined, listId: undefined, dataverseId: undefined }, { receivedAt });
    expect(Object.keys(ex).sort()).toEqual(['changeType', 'correlationId', 'itemId', 'mailboxId', 'receivedAt', 'resource', 'source', 'v']);
    const dv = dataverseChange({ entity: 'task', recordId, message: 'Update', version: '42', ownerId: undefined, image: undefined }, { receivedAt });
    expect(dv).toMatchObject({ v: 1, source: 'dataverse', recordId: recordId.toLowerCase(), version: '42' });
    expect(Object.keys(dv)).not.toContain('ownerId');
    const lc = lifecycleChange({ subscriptionId: 's-1', lifecycleEvent: 'missed' }, { receivedAt });
    for (const message of [ex, dv, lc]) expect(changeMessageSchema.safeParse(message).success, JSON.stringify(message)).toBe(true);
  });

  it('have no SetState change: state changes arrive as Update (no SetState step is registered)', () => {
    const setState = { ...dataverseChange({ entity: 'task', recordId, message: 'Update' }, { receivedAt }), message: 'SetState' };
    expect(changeMessageSchema.safeParse(setState).success).toBe(false);
  });

  it('keep the source\'s correlation id when it fits the schema, and make a fresh one otherwise', () => {
    const fields = { entity: 'appointment', recordId, message: 'Create' } as const;
    expect(dataverseChange(fields, { receivedAt, correlationId: 'c-7' }).correlationId).toBe('c-7');
    const long = dataverseChange(fields, { receivedAt, correlationId: 'x'.repeat(129) }).correlationId;
    expect(long).not.toBe('x'.repeat(129));
    expect(changeMessageSchema.safeParse(dataverseChange(fields, { receivedAt, correlationId: '' })).success).toBe(true);
  });

  it('give one version of a record one message id, whoever produced it (webhook, change tracking, backfill)', () => {
    const a = changeMessageSchema.parse(dataverseChange({ entity: 'contact', recordId, message: 'Reconcile', version: versionOfEtag('W/"1234"') }, { receivedAt }));
    const b = changeMessageSchema.parse(dataverseChange({ entity: 'contact', recordId: recordId.toLowerCase(), message: 'Reconcile', version: '1234' }, { receivedAt: '2026-12-01T11:00:00.000Z' }));
    expect(messageIdOf(a)).toBe(messageIdOf(b));
    expect(versionOfEtag(undefined)).toBeUndefined();
  });

  it('retry with the next attempt and a bounded reason; replay from attempt 1 without the old reason', () => {
    const first = changeMessageSchema.parse(lifecycleChange({ subscriptionId: 's-2', lifecycleEvent: 'subscriptionRemoved' }, { receivedAt }));
    const retry = retryOf(first, `Transient: ${'e'.repeat(2000)}`);
    expect(retry.attempt).toBe(2);
    expect(retry.lastError).toHaveLength(1024);
    expect(changeMessageSchema.safeParse(retry).success).toBe(true);
    const replay = replayOf(retryOf(retry, 'Throttled: again'));
    expect(replay.attempt).toBe(1);
    expect(replay).not.toHaveProperty('lastError');
    expect(messageIdOf(replay)).toBe(messageIdOf(first));
  });

  it('wait behind a claim as the same attempt with one wait more, under a message id of its own; replay forgets the waits', () => {
    const first = changeMessageSchema.parse(dataverseChange({ entity: 'task', recordId, message: 'Update', version: '7' }, { receivedAt }));
    const waited = waitOf(first, 'Busy: another change of this record is creating its item');
    expect([waited.attempt, waited.waits]).toEqual([1, 1]);
    const again = waitOf(retryOf(waited, 'Transient: 503'), 'Busy: again');
    expect([again.attempt, again.waits]).toEqual([2, 2]);
    expect(changeMessageSchema.safeParse(again).success).toBe(true);
    const ids = [first, waited, retryOf(first, 'x'), again, waitOf(waited, 'x')].map(messageIdOf);
    expect(new Set(ids).size).toBe(ids.length);
    expect(messageIdOf(replayOf(again))).toBe(messageIdOf(first));
  });

  it('are the only way the product builds a change message (no hand-built { v: 1, source: ... } literals)', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk('shared');
    const handBuilt = files
      .filter((f) => f !== 'shared/servicebus/messages.ts')
      .filter((f) => {
        const text = readFileSync(join(root, f), 'utf8');
        return /\bv:\s*1\b/.test(text) && /\bsource:\s*'(exchange|dataverse|lifecycle)'\s*[,}]/.test(text);
      });
    expect(handBuilt).toEqual([]);
  });
});
