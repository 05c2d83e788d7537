// The closed error set as the services' answers map onto it: the code decides retry, re-read, full round or
// success, so each ambiguous answer gets a row.
import { describe, expect, it } from 'vitest';
import { SyncError, toSyncError } from '../../../shared/errors.js';
import { errorForStatus } from '../../../shared/http/retry.js';

describe('errorForStatus: the service code, kept as data, decides before the status', () => {
  it.each([
    // [service, status, service code, expected code, why]
    ['Dataverse', 412, '0x80040237', 'AlreadyExists', 'a create-only upsert of a record that exists (DuplicateRecord)'],
    ['Dataverse', 412, '0x80060882', 'PreconditionFailed', 'a version mismatch on If-Match'],
    ['Dataverse', 400, '0x80044352', 'TokenExpired', 'an expired change-tracking token (ExpiredVersionStamp)'],
    ['Graph', 410, 'syncStateNotFound', 'TokenExpired', 'an evicted delta token'],
    ['Graph', 400, 'resyncRequired', 'TokenExpired', 'a delta round that must start over'],
    ['Graph', 409, 'ErrorIrresolvableConflict', 'PreconditionFailed', 'a concurrent change of the item'],
    ['Graph', 412, 'ErrorIrresolvableConflict', 'PreconditionFailed', 'a stale If-Match'],
    ['Graph', 409, undefined, 'AlreadyExists', 'a create of something that exists'],
    ['Graph', 404, 'ErrorItemNotFound', 'NotFound', 'a missing item'],
    ['Graph', 401, 'InvalidAuthenticationToken', 'Unauthorized', 'a token the service refuses'],
    ['Graph', 403, 'ErrorAccessDenied', 'Forbidden', 'a missing permission, apart from a bad token'],
    ['Dataverse', 429, '0x80072322', 'Throttled', 'service protection limits'],
    ['Dataverse', 503, undefined, 'Transient', 'a dependency failure that may pass'],
    ['Graph', 400, 'ErrorInvalidRequest', 'InvalidInput', 'a request the service rejects'],
  ] as const)('%s %i %s is %s (%s)', (service, status, serviceCode, expected, _why) => {
    const error = errorForStatus(service, status, serviceCode === undefined ? {} : { code: serviceCode });
    expect(error.code).toBe(expected);
    expect(error.status).toBe(status);
    expect(error.serviceCode).toBe(serviceCode);
  });

  it('does not keep a service code that is free text (it could quote an item)', () => {
    const error = errorForStatus('Graph', 400, { code: 'the subject "Secret plan" is too long' });
    expect(error.serviceCode).toBeUndefined();
    expect(error.message).not.toContain('Secret');
  });

  it('marks only a failed precondition retryable among the 4xx, and none of AlreadyExists, TokenExpired, Forbidden', () => {
    expect(errorForStatus('Graph', 412).retryable).toBe(true);
    for (const status of [409, 410, 403, 401, 404]) expect(errorForStatus('Graph', status).retryable).toBe(false);
  });
});

describe('toSyncError: anything thrown becomes a SyncError', () => {
  it('keeps a SyncError as it is', () => {
    const error = new SyncError('Throttled', 'slow down', { retryAfterMs: 5 });
    expect(toSyncError(error)).toBe(error);
  });
  it.each([[new TypeError('x is undefined')], ['a string'], [42], [undefined]])('turns %s into Internal, not retryable', (thrown) => {
    const error = toSyncError(thrown);
    expect(error).toBeInstanceOf(SyncError);
    expect(error.code).toBe('Internal');
    expect(error.retryable).toBe(false);
    expect(error.cause).toBe(thrown);
  });
});
