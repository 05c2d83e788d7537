// Work messages of the periodic work: ids that make a redelivered sweep's sends duplicates, one session per mailbox,
// and an outstanding mark that lasts exactly as long as the message it waits for.
import { describe, expect, it } from 'vitest';
import { workQueue } from '../../../shared/servicebus/queues.js';
import { parseWorkMessage, workMessageId, workSessionId, type WorkMessage } from '../../../shared/servicebus/work.js';
import { outstandingMs } from '../../../shared/sync/work.js';

const run = '2026-12-02T06:00:00.000Z';
const work = (task: 'pollTodo' | 'reconcile', mailboxId: string): WorkMessage => ({ v: 1, type: 'mailbox', task, mailboxId, dueAt: run, run });

describe('work messages', () => {
  it('one mailbox\'s tasks share its session; two mailboxes never do; a task\'s sweep pages share one', () => {
    const a = '38E12577-AAC1-40F9-B11B-C026AE6B04BE';
    expect(workSessionId(work('pollTodo', a))).toBe(workSessionId(work('reconcile', a.toLowerCase())));
    expect(workSessionId(work('pollTodo', a))).not.toBe(workSessionId(work('pollTodo', '5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b')));
    expect(workSessionId({ v: 1, type: 'sweep', task: 'pollTodo', run, page: 0 })).toBe(workSessionId({ v: 1, type: 'sweep', task: 'pollTodo', run: '2026-12-02T06:01:00.000Z', page: 3, continuation: 'x' }));
    // The attention pass's pages share one session too, and one run's pages have their own ids.
    expect(workSessionId({ v: 1, type: 'attention', run, page: 0 })).toBe(workSessionId({ v: 1, type: 'attention', run: '2026-12-02T06:01:00.000Z', page: 2, continuation: 'x' }));
    expect(workMessageId({ v: 1, type: 'attention', run, page: 0 })).not.toBe(workMessageId({ v: 1, type: 'attention', run, page: 1 }));
  });

  it('the same run sends the same ids (a redelivered sweep is dropped as duplicates); another run does not', () => {
    expect(workMessageId(work('pollTodo', 'm1'))).toBe(workMessageId(work('pollTodo', 'M1')));
    expect(workMessageId(work('pollTodo', 'm1'))).not.toBe(workMessageId({ ...work('pollTodo', 'm1'), run: '2026-12-02T06:01:00.000Z' }));
    const long = 'x'.repeat(200);
    expect(workMessageId(work('pollTodo', long)).length).toBeLessThanOrEqual(128);
    expect(workSessionId(work('pollTodo', long)).length).toBeLessThanOrEqual(128);
  });

  it('refuses a body that is no work message, naming the field', () => {
    expect(() => parseWorkMessage({ v: 1, type: 'mailbox', task: 'backfill', mailboxId: 'm', dueAt: run, run })).toThrow(/task/);
    expect(() => parseWorkMessage(JSON.stringify({ v: 1, type: 'sweep', task: 'pollTodo', run: 'yesterday', page: 0 }))).toThrow(/run/);
  });

  it('outstanding work is kept from the sweeps exactly as long as its message lives (the queue\'s time to live)', () => {
    expect(workQueue.defaultMessageTimeToLive).toBe('PT1H');
    expect(outstandingMs).toBe(3600_000);
  });
});
