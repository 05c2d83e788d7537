// The columns the Update steps filter on and the images carry, per table: a column the kind's mapping reads is asked
// for only on the tables that have it (Dataverse refuses a $select or filtering attribute a table lacks).
import { describe, expect, it } from 'vitest';
import { imageColumns, mappedColumns } from '../../../shared/sync/columns.js';

describe('mappedColumns', () => {
  it.each([
    ['task', true],
    ['phonecall', false],
    ['letter', false],
    ['fax', false],
  ] as const)('%s: percentcomplete is read: %s', (table, expected) => {
    expect(mappedColumns(table).includes('percentcomplete')).toBe(expected);
    expect(imageColumns(table).includes('percentcomplete')).toBe(expected);
  });

  it('every table carries its state, owner and the parties that decide scope', () => {
    expect(mappedColumns('appointment')).toEqual(expect.arrayContaining(['statecode', 'statuscode', 'ownerid', 'requiredattendees', 'instancetypecode']));
    expect(mappedColumns('phonecall')).toEqual(expect.arrayContaining(['from', 'to']));
    expect(mappedColumns('contact')).not.toContain('requiredattendees');
  });
});
