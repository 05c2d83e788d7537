// The Update steps' filtering attributes follow the configured directions (shared/onboarding/webhooks.ts,
// shared/settings fieldsFlowingToExchange): a field stays while any scope lets it flow to Exchange.
import { describe, expect, it } from 'vitest';
import { filteringAttributes } from '../../../shared/onboarding/webhooks.js';
import { fieldsFlowingToExchange, type ConfigEntries } from '../../../shared/settings/index.js';

describe('filtering attributes from the configured directions', () => {
  it('without configuration they are the field table\'s own', () => {
    expect(filteringAttributes('appointment', fieldsFlowingToExchange({}, []))).toEqual(filteringAttributes('appointment'));
  });

  it.each<[string, ConfigEntries, ConfigEntries[], boolean]>([
    ['set toDataverse globally: left out', { 'fields.appointment.location.direction': 'toDataverse' }, [], false],
    ['set none globally: left out', { 'fields.appointment.location.direction': 'none' }, [], false],
    ['set toExchange globally: kept', { 'fields.appointment.location.direction': 'toExchange' }, [], true],
    ['toDataverse globally, but one mailbox sets it back to both: kept', { 'fields.appointment.location.direction': 'toDataverse' }, [{}, { 'fields.appointment.location.direction': 'both' }], true],
    ['one mailbox sets toDataverse, the global default still flows: kept', {}, [{ 'fields.appointment.location.direction': 'toDataverse' }], true],
  ])('%s', (_what, global, mailboxes, kept) => {
    const columns = filteringAttributes('appointment', fieldsFlowingToExchange(global, mailboxes));
    expect(columns.includes('location')).toBe(kept);
    // What decides scope and state is always there, whatever the directions.
    expect(columns).toEqual(expect.arrayContaining(['statecode', 'statuscode', 'ownerid']));
  });

  it('a task field set off (body, the description column) leaves the column on every table of the task kind', () => {
    const flowing = fieldsFlowingToExchange({ 'fields.task.body.direction': 'toDataverse' }, []);
    for (const table of ['task', 'phonecall', 'letter', 'fax'] as const) {
      expect(filteringAttributes(table).includes('description'), table).toBe(true);
      expect(filteringAttributes(table, flowing).includes('description'), table).toBe(false);
    }
  });
});
