// What an InvalidInput message may repeat of the value it rejects: it reaches logs, dead-letter records and status,
// so item text is described, never quoted.
import { describe, expect, it } from 'vitest';
import { invalidInput } from '../../shared/errors.js';

describe('invalidInput messages name the problem without quoting item content', () => {
  it.each([
    ['a subject', 'subject', 'Quarterly merger with Fabrikam', '(text of 30 characters)'],
    ['an e-mail address', 'emailaddress1', 'mallory@fabrikam.example', '(text of 24 characters)'],
    ['a body', 'body.content', 'x'.repeat(300), '(text of 300 characters)'],
    ['an object', 'start', { dateTime: 'Secret meeting' }, '(object)'],
    ['a list', 'attendees', ['a@b.example'], '(a list of 1)'],
  ])('%s is described by its shape', (_what, field, value, shown) => {
    const error = invalidInput(field, value, 'is not valid');
    expect(error.message).toBe(`${field} ${shown} is not valid`);
    // The value is still on the error for code that needs it.
    expect(error.value).toEqual(value);
  });

  it.each([
    ['a table name', '@odata.type', 'email', '"email"'],
    ['a GUID', 'PrimaryEntityId', '5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b', '"5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b"'],
    ['a date-time', 'end', '2026-12-01T09:00:00+01:00', '"2026-12-01T09:00:00+01:00"'],
    ['a number', 'statuscode', 42, '42'],
    ['a boolean', 'isAllDay', true, 'true'],
    ['null', 'subject', null, 'null'],
    ['nothing', 'subject', undefined, '(missing)'],
  ])('%s is shown, since it names the problem', (_what, field, value, shown) => {
    expect(invalidInput(field, value, 'is not valid').message).toBe(`${field} ${shown} is not valid`);
  });
});
