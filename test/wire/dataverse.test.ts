import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSyncError, type SyncError } from '../../shared/errors.js';
import { parseDataverseRecord, statusCodesByState } from '../../shared/wire/index.js';

const base = {
  activityid: 'a983a612-3ffc-e511-80d2-00155db07c77',
  subject: 'Sample Task 1',
  statecode: 0,
  statuscode: 2,
};

function rejection(parse: () => unknown): SyncError {
  try {
    parse();
  } catch (error) {
    if (isSyncError(error, 'InvalidInput')) return error;
    throw error;
  }
  throw new Error('expected an InvalidInput SyncError');
}

describe('Dataverse wire schemas', () => {
  it('accept the documented expanded tasks once their state columns are selected', () => {
    const account = JSON.parse(readFileSync(new URL('../fixtures/microsoft/dataverse-task.json', import.meta.url), 'utf8')) as { Account_Tasks: Record<string, unknown>[] };
    for (const task of account.Account_Tasks) {
      expect(parseDataverseRecord('task', { ...task, statecode: 0, statuscode: 2 }).scheduledstart).toMatch(/^2016-04-1\dT15:00:00Z$/);
    }
  });

  it('reject a record without its key, naming the field', () => {
    const { activityid: _id, ...noKey } = base;
    expect(rejection(() => parseDataverseRecord('task', noKey))).toMatchObject({ field: 'activityid', value: undefined });
  });

  it('reject an unknown statuscode, and one that does not belong to the statecode', () => {
    const unknown = rejection(() => parseDataverseRecord('task', { ...base, statuscode: 42 }));
    expect(unknown).toMatchObject({ field: 'statuscode', value: 42 });
    expect(unknown.message).toBe('statuscode 42 is not a valid task status reason');
    const mismatched = rejection(() => parseDataverseRecord('task', { ...base, statecode: 1, statuscode: 2 }));
    expect(mismatched.message).toBe('statuscode 2 does not belong to task statecode 1');
    expect(rejection(() => parseDataverseRecord('appointment', { ...base, scheduledstart: '2024-01-01T00:00:00Z', scheduledend: '2024-01-01T00:00:00Z', statecode: 9, statuscode: 1 }))).toMatchObject({ field: 'statecode', value: 9 });
  });

  it('reject a malformed date, naming the column', () => {
    for (const bad of ['2024-02-30T10:00:00Z', '2024-01-01 10:00', '2024-01-01T10:00:00', 'yesterday']) {
      expect(rejection(() => parseDataverseRecord('task', { ...base, scheduledend: bad }))).toMatchObject({ field: 'scheduledend', value: bad });
    }
  });

  it('know the documented status reasons of every synced activity table', () => {
    // Letter and fax from the table references (docs/reference/platform-facts.md marks them UNCONFIRMED).
    expect(statusCodesByState.letter).toEqual({ 0: [1, 2], 1: [3, 4], 2: [5] });
    expect(statusCodesByState.fax).toEqual({ 0: [1], 1: [2, 3, 4], 2: [5] });
    expect(parseDataverseRecord('fax', { ...base, statecode: 1, statuscode: 3 }).statuscode).toBe(3);
  });
});
