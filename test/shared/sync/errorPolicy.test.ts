// The mailbox error policy's table: which failures block a mailbox, which only pause it (with doubling back-off),
// and which stay the item's own (retries, then the dead-letter queue).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyncError } from '../../../shared/errors.js';
import { errorForStatus } from '../../../shared/http/retry.js';
import { translateGraphError } from '../../../shared/graph/client.js';
import { missingPrivilegeOf } from '../../../shared/dataverse/client.js';
import { GraphError } from '@microsoft/microsoft-graph-client';
import { classifyFailure, decideFailure, gateOf, MailboxFailure, mailboxFailure, nextPause, type FailureDecision, type FailureInput } from '../../../shared/sync/errorPolicy.js';
import { maxClaimWaits } from '../../../shared/sync/claim.js';

const settings = { maxAttempts: 3, pauseMinSeconds: 60, pauseMaxSeconds: 3600 };

function graphError(status: number, code: string, message: string): GraphError {
  const error = new GraphError(status, message);
  error.code = code;
  return error;
}

describe('classifyFailure', () => {
  it.each([
    ['a removed user (Graph 404 ErrorInvalidUser)', errorForStatus('Graph events', 404, { code: 'ErrorInvalidUser' }), 'graph.mailboxUnavailable'],
    ['a deleted mailbox (404 ErrorNonExistentMailbox)', errorForStatus('Graph events', 404, { code: 'ErrorNonExistentMailbox' }), 'graph.mailboxUnavailable'],
    ['an unlicensed mailbox (404 MailboxNotEnabledForRESTAPI)', errorForStatus('Graph events', 404, { code: 'MailboxNotEnabledForRESTAPI' }), 'graph.mailboxUnavailable'],
    ['an application access policy (403 "Access to OData is disabled")', translateGraphError(graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.'), 'events'), 'graph.accessPolicy'],
    ['a disabled Dataverse user (0x80040225)', errorForStatus('Dataverse POST appointments', 403, { code: '0x80040225' }), 'dataverse.userDisabled'],
    ['a missing Dataverse privilege (0x80040220)', errorForStatus('Dataverse POST appointments', 403, { code: '0x80040220' }), 'dataverse.noPrivilege'],
    ['a disabled user acted as (impersonated)', new SyncError('Forbidden', 'Dataverse POST appointments answered 403 0x80040225', { status: 403, serviceCode: '0x80040225', impersonated: true }), 'dataverse.userDisabled'],
  ])('%s blocks the mailbox', (_what, error, code) => {
    expect(classifyFailure(error)).toMatchObject({ class: 'block', code });
  });

  it.each([
    ['Graph 503', errorForStatus('Graph events', 503, { code: 'ServiceNotAvailable' })],
    ['Graph 504', errorForStatus('Graph events', 504)],
    ['a timeout (408)', errorForStatus('Dataverse GET appointments', 408)],
    ['Graph 429', errorForStatus('Graph events', 429, {}, '5')],
    ['Dataverse service protection (429)', errorForStatus('Dataverse PATCH appointments', 429, { code: '0x80072322' }, '20')],
    ['a connection reset', translateGraphError(new Error('socket hang up'), 'events')],
    ['an identity-provider outage (token not issued, transient)', new SyncError('Transient', 'token for https://graph.microsoft.com not issued: temporarily_unavailable')],
    ['an app-level 401', errorForStatus('Graph events', 401, { code: 'InvalidAuthenticationToken' })],
    ['the application user itself disabled (0x80040225, not impersonating)', new SyncError('Forbidden', 'Dataverse POST appointments answered 403 0x80040225', { status: 403, serviceCode: '0x80040225', impersonated: false })],
    ['the application user itself lacking a privilege (0x80040220, not impersonating)', new SyncError('Forbidden', 'Dataverse GET tasks answered 403 0x80040220', { status: 403, serviceCode: '0x80040220', impersonated: false })],
  ])('%s is an outage', (_what, error) => {
    expect(classifyFailure(error)).toEqual({ class: 'outage' });
  });

  it.each<[string, SyncError]>([
    ['a missing item (404 ErrorItemNotFound)', errorForStatus('Graph events', 404, { code: 'ErrorItemNotFound' })],
    ['a missing app role (403 ErrorAccessDenied with other text)', translateGraphError(graphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'), 'events')],
    ['a bad value (400)', errorForStatus('Dataverse POST appointments', 400, { code: '0x80040203' })],
    ['a programming error', new SyncError('Internal', 'bug')],
  ])('%s is the item\'s own failure', (_what, error) => {
    expect(classifyFailure(error)).toEqual({ class: 'item' });
  });

  it('a missing privilege names it in the block reason, taken from the PrivilegeDenied message and nothing else of it', () => {
    const message = 'Principal user (Id=6e0b4c1a-0000-4000-8000-000000000001, type=8) is missing prvCreateActivity privilege (Id=1f2e3d4c-0000-4000-8000-000000000002)';
    const privilege = missingPrivilegeOf('0x80040220', message);
    expect(privilege).toBe('prvCreateActivity');
    expect(missingPrivilegeOf('0x80040225', message)).toBeUndefined();
    expect(missingPrivilegeOf('0x80040220', 'is missing "Quarterly review" privilege')).toBeUndefined();
    const error = new SyncError('Forbidden', 'Dataverse POST appointments answered 403 0x80040220 (missing prvCreateActivity)', { status: 403, serviceCode: '0x80040220', impersonated: true, privilege });
    expect(classifyFailure(error)).toEqual({ class: 'block', code: 'dataverse.noPrivilege', reason: 'the Dataverse user lacks a privilege the sync needs (0x80040220 prvCreateActivity)' });
  });

  it('a block reason names the cause and the code the service answered (status, explain and the CLI show it)', () => {
    expect(classifyFailure(errorForStatus('Graph events', 404, { code: 'ErrorInvalidUser' }))).toEqual({ class: 'block', code: 'graph.mailboxUnavailable', reason: 'the mailbox is gone or has no Exchange license (ErrorInvalidUser)' });
    expect(classifyFailure(translateGraphError(graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled.'), 'events'))).toEqual({ class: 'block', code: 'graph.accessPolicy', reason: "an application access policy excludes the mailbox from the app's access (ErrorAccessDenied)" });
    // Without a service code the sync's own code stands in for it.
    expect(classifyFailure(new SyncError('MailboxUnavailable', 'mailbox gone'))).toEqual({ class: 'block', code: 'graph.mailboxUnavailable', reason: 'the mailbox is gone or has no Exchange license (MailboxUnavailable)' });
    // No privilege named: the code alone, nothing after it.
    expect(classifyFailure(new SyncError('Forbidden', 'Dataverse POST appointments answered 403 0x80040225', { status: 403, serviceCode: '0x80040225', impersonated: true }))).toEqual({ class: 'block', code: 'dataverse.userDisabled', reason: 'the Dataverse user is disabled (0x80040225)' });
  });

  it('a missing item stays NotFound while a missing mailbox does not: only the former may be read as "gone"', () => {
    expect(errorForStatus('Graph events', 404, { code: 'ErrorItemNotFound' }).code).toBe('NotFound');
    expect(errorForStatus('Graph events', 404, { code: 'ErrorInvalidUser' }).code).toBe('MailboxUnavailable');
    expect(errorForStatus('Graph events', 404, { code: 'MailboxNotEnabledForRESTAPI' }).retryable).toBe(false);
  });
});

describe('decideFailure', () => {
  const outage = { class: 'outage' } as const;
  it.each([
    ['an outage within the budget is retried', outage, { retryable: true, attempt: 1, probing: false, deferrals: 0 }, settings, 'retry'],
    ['an outage past the budget pauses the mailbox, never dead-letters', outage, { retryable: true, attempt: 3, probing: false, deferrals: 0 }, settings, 'pause'],
    ['a failed probe pauses again at once', outage, { retryable: true, attempt: 1, probing: true, deferrals: 0 }, settings, 'pause'],
    ['with pausing off (SYNC_PAUSE_MIN_SECONDS=0) an exhausted outage is dead-lettered', outage, { retryable: true, attempt: 3, probing: false, deferrals: 0 }, { ...settings, pauseMinSeconds: 0 }, 'deadLetter'],
    ['an item failure that is retryable is retried', { class: 'item' } as const, { retryable: true, attempt: 2, probing: false, deferrals: 0 }, settings, 'retry'],
    ['an item failure that is not retryable is dead-lettered', { class: 'item' } as const, { retryable: false, attempt: 1, probing: false, deferrals: 0 }, settings, 'deadLetter'],
    ['a block cause blocks on the first attempt', { class: 'block', code: 'graph.accessPolicy', reason: 'r' } as const, { retryable: false, attempt: 1, probing: false, deferrals: 0 }, settings, 'block'],
  ])('%s', (_what, failure, input, s, action) => {
    expect(decideFailure(failure, input, s).action).toBe(action);
  });

  // The per-item guard: a change that already waited out a pause of its mailbox and meets the outage again.
  it.each<[string, FailureInput, FailureDecision]>([
    ['the first exhaustion pauses without asking the mailbox', { retryable: true, attempt: 3, probing: false, deferrals: 0 }, { action: 'pause' }],
    ['a failed probe of a change put off before asks the mailbox first', { retryable: true, attempt: 1, probing: true, deferrals: 1 }, { action: 'checkMailbox' }],
    ['an exhausted change put off before asks the mailbox first', { retryable: true, attempt: 3, probing: false, deferrals: 2 }, { action: 'checkMailbox' }],
    ['the mailbox does not answer: an outage, the pause doubles', { retryable: true, attempt: 1, probing: true, deferrals: 1, mailboxAnswers: false }, { action: 'pause' }],
    ['the mailbox answers and the probe failed on its first attempt: the item is retried as an item', { retryable: true, attempt: 1, probing: true, deferrals: 1, mailboxAnswers: true }, { action: 'retry', itemFailing: true }],
    ['the mailbox answers and the item used its attempts: dead-lettered as an item', { retryable: true, attempt: 3, probing: false, deferrals: 1, mailboxAnswers: true }, { action: 'deadLetter', itemFailing: true }],
    ['the mailbox answers and the failure is not retryable: dead-lettered as an item, whatever attempts are left', { retryable: false, attempt: 1, probing: true, deferrals: 1, mailboxAnswers: true }, { action: 'deadLetter', itemFailing: true }],
    ['within its attempts on an active mailbox the change is retried without asking', { retryable: true, attempt: 2, probing: false, deferrals: 3 }, { action: 'retry' }],
  ])('%s', (_what, input, decision) => {
    expect(decideFailure({ class: 'outage' }, input, settings)).toEqual(decision);
  });

  it('an item failure and a block never ask the mailbox, whatever the deferrals', () => {
    const input = { retryable: true, attempt: 3, probing: true, deferrals: 4 };
    expect(decideFailure({ class: 'item' }, input, settings)).toEqual({ action: 'deadLetter' });
    expect(decideFailure({ class: 'block', code: 'dataverse.noPrivilege', reason: 'r' }, input, settings).action).toBe('block');
    expect(decideFailure({ class: 'outage' }, input, { ...settings, pauseMinSeconds: 0 })).toEqual({ action: 'deadLetter' });
  });
});

describe('a wait behind another change’s claim (Busy)', () => {
  const busy = classifyFailure(new SyncError('Busy', 'another change of this record is creating its item'));
  it('is its own class, neither an outage nor the item’s failure', () => {
    // Classified inside the test: `busy` is worked out once when the file loads, outside every test, so a change of
    // the classification would reach this test only through it.
    expect(classifyFailure(new SyncError('Busy', 'another change of this record is creating its item'))).toEqual({ class: 'wait' });
  });
  it('waits whatever the attempt, on a paused mailbox too, and never pauses or dead-letters', () => {
    for (const input of [
      { retryable: true, attempt: 1, probing: false, deferrals: 0, waits: 0 },
      { retryable: true, attempt: settings.maxAttempts, probing: false, deferrals: 0, waits: 7 },
      { retryable: true, attempt: 2, probing: true, deferrals: 2 },
    ]) expect(decideFailure(busy, input, settings)).toEqual({ action: 'wait' });
  });
  it('is decided without the mailbox: its state and answer change nothing (the worker reads no mailbox row for it)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: maxClaimWaits + 2 }), fc.boolean(), fc.constantFrom(true, false, undefined), (retryable, attempt, deferrals, waits, probing, mailboxAnswers) => {
        const withoutMailbox = decideFailure(busy, { retryable, attempt, probing: false, deferrals, waits }, settings);
        expect(decideFailure(busy, { retryable, attempt, probing, deferrals, waits, mailboxAnswers }, settings)).toEqual(withoutMailbox);
        expect(['wait', 'retry', 'deadLetter']).toContain(withoutMailbox.action);
      }),
    );
  });
  it('after maxClaimWaits waits (a claim that never ends) each further one counts as an attempt', () => {
    expect(decideFailure(busy, { retryable: true, attempt: 1, probing: false, deferrals: 0, waits: maxClaimWaits }, settings)).toEqual({ action: 'retry' });
    expect(decideFailure(busy, { retryable: true, attempt: settings.maxAttempts, probing: false, deferrals: 0, waits: maxClaimWaits }, settings)).toEqual({ action: 'deadLetter' });
  });
});

describe('nextPause', () => {
  const now = new Date('2026-12-02T10:00:00Z');
  it('starts at the minimum, doubles with each failed probe and stops at the maximum', () => {
    const seconds: number[] = [];
    let state: { state: string; pausedUntil?: string; pauseSeconds?: number } = { state: 'active' };
    for (let i = 0; i < 8; i += 1) {
      const next = nextPause(state, now, settings);
      seconds.push(next.pauseSeconds);
      // The probe runs once the pause is over.
      state = { state: 'paused', pausedUntil: new Date(now.getTime() - 1).toISOString(), pauseSeconds: next.pauseSeconds };
    }
    expect(seconds).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600]);
  });

  it('a mailbox already paused past now keeps its pause: one outage seen by many changes doubles it once', () => {
    const until = new Date(now.getTime() + 30_000).toISOString();
    expect(nextPause({ state: 'paused', pausedUntil: until, pauseSeconds: 120 }, now, settings)).toEqual({ pausedUntil: until, pauseSeconds: 120, extended: false });
  });

  it('the pause ends at now plus its length, and is a new pause (the caller writes it to the mailbox row)', () => {
    expect(nextPause({ state: 'active' }, now, settings)).toEqual({ pausedUntil: '2026-12-02T10:01:00.000Z', pauseSeconds: 60, extended: true });
  });

  it('a pause that ends exactly now is over: the probe that failed at that moment doubles it (gateOf lets it run then)', () => {
    const until = now.toISOString();
    expect(gateOf({ state: 'paused', pausedUntil: until, pauseSeconds: 120 }, now)).toEqual({ gate: 'go', probing: true });
    expect(nextPause({ state: 'paused', pausedUntil: until, pauseSeconds: 120 }, now, settings)).toEqual({ pausedUntil: '2026-12-02T10:04:00.000Z', pauseSeconds: 240, extended: true });
  });

  it('a paused row without its length is paused again from the minimum, not kept with no length', () => {
    const until = new Date(now.getTime() + 30_000).toISOString();
    expect(nextPause({ state: 'paused', pausedUntil: until }, now, settings)).toEqual({ pausedUntil: '2026-12-02T10:01:00.000Z', pauseSeconds: 60, extended: true });
  });

  it('only a paused mailbox doubles: any other state starts at the minimum, whatever pause its row still holds', () => {
    const until = new Date(now.getTime() + 30_000).toISOString();
    for (const state of ['active', 'blocked']) {
      expect(nextPause({ state, pausedUntil: until, pauseSeconds: 960 }, now, settings)).toEqual({ pausedUntil: '2026-12-02T10:01:00.000Z', pauseSeconds: 60, extended: true });
    }
  });

  it('a minimum raised above the doubled pause takes effect at once', () => {
    const before = new Date(now.getTime() - 1).toISOString();
    expect(nextPause({ state: 'paused', pausedUntil: before, pauseSeconds: 60 }, now, { ...settings, pauseMinSeconds: 600 }).pauseSeconds).toBe(600);
  });
});

describe('gateOf', () => {
  const now = new Date('2026-12-02T10:00:00Z');
  it.each([
    ['an active mailbox goes ahead', { state: 'active' }, { gate: 'go', probing: false }],
    ['a paused mailbox before its end waits for it', { state: 'paused', pausedUntil: '2026-12-02T10:05:00.000Z' }, { gate: 'wait', until: '2026-12-02T10:05:00.000Z' }],
    ['a paused mailbox past its end is probed', { state: 'paused', pausedUntil: '2026-12-02T09:59:00.000Z' }, { gate: 'go', probing: true }],
    ['a blocked mailbox is skipped with its reason', { state: 'blocked', stateReason: 'graph.accessPolicy: x' }, { gate: 'skip', reason: 'mailbox blocked: graph.accessPolicy: x' }],
    ['a blocked mailbox without a recorded reason is skipped, saying so', { state: 'blocked' }, { gate: 'skip', reason: 'mailbox blocked: no reason recorded' }],
    ['a paused mailbox with no end recorded is probed', { state: 'paused' }, { gate: 'go', probing: true }],
    ['a paused mailbox whose pause ends exactly now is probed', { state: 'paused', pausedUntil: '2026-12-02T10:00:00.000Z' }, { gate: 'go', probing: true }],
  ])('%s', (_what, mailbox, gate) => {
    expect(gateOf(mailbox, now)).toEqual(gate);
  });
});

describe('mailboxFailure', () => {
  it('ties a failure to the mailbox it was met for, as the SyncError the policy classifies', () => {
    const cause = errorForStatus('Graph events', 503);
    const failure = mailboxFailure('mailbox-1', cause);
    expect(failure).toBeInstanceOf(MailboxFailure);
    expect(failure).toMatchObject({ name: 'MailboxFailure', mailboxId: 'mailbox-1', message: cause.message });
    expect(failure.error).toBe(cause);
    expect(failure.cause).toBe(cause);
    expect(classifyFailure(failure.error)).toEqual({ class: 'outage' });
  });

  it('a failure already tied to a mailbox keeps its mailbox (an error met for the sender stays the sender’s)', () => {
    const first = mailboxFailure('mailbox-1', errorForStatus('Graph events', 404, { code: 'ErrorInvalidUser' }));
    expect(mailboxFailure('mailbox-2', first)).toBe(first);
  });
});
