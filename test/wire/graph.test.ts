import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSyncError, type SyncError } from '../../shared/errors.js';
import { parseGraphContact, parseGraphEvent, parseGraphTodoTask } from '../../shared/wire/index.js';

function sample(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/microsoft/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

function rejection(parse: () => unknown): SyncError {
  try {
    parse();
  } catch (error) {
    if (isSyncError(error, 'InvalidInput')) return error;
    throw error;
  }
  throw new Error('expected an InvalidInput SyncError');
}

describe('Graph wire schemas accept the documented payloads', () => {
  it('event: the created-event response (Windows zone, 7-digit fractions)', () => {
    const e = parseGraphEvent(sample('graph-event-create-response.json'));
    expect(e.start).toMatchObject({ dateTime: '2017-04-15T11:00:00.0000000', timeZone: 'Pacific Standard Time' });
    expect(e.showAs).toBe('busy');
  });

  it('event: every item of a calendarView delta page', () => {
    const page = sample('graph-event-calendarview-delta-page.json') as { value: unknown[] };
    expect(page.value.map((e) => parseGraphEvent(e).subject)).toEqual(['Plan shopping list', 'Pick up car']);
  });

  it('todoTask: the created task and a delta page item', () => {
    expect(parseGraphTodoTask(sample('graph-todotask.json')).status).toBe('notStarted');
    const page = sample('graph-todotask-delta-page.json') as { value: unknown[] };
    expect(parseGraphTodoTask(page.value[0]).title).toBe('empty task3');
  });

  it('contact: the full contact with null scalars and {} addresses', () => {
    expect(parseGraphContact(sample('graph-contact.json')).businessAddress).toEqual({});
  });
});

describe('Graph wire schemas reject malformed items, naming the field and the value', () => {
  it('event without start', () => {
    const { start: _s, ...noStart } = sample('graph-event-create-response.json');
    expect(rejection(() => parseGraphEvent(noStart))).toMatchObject({ field: 'start', value: undefined });
  });

  it('event with a malformed dateTime', () => {
    const e = { ...sample('graph-event-create-response.json'), end: { dateTime: '2017-04-15 12:00', timeZone: 'UTC' } };
    const error = rejection(() => parseGraphEvent(e));
    expect(error).toMatchObject({ field: 'end.dateTime', value: '2017-04-15 12:00' });
    // Free text is described, not quoted, in the message (it reaches logs and dead letters; test/shared/errors.test.ts).
    expect(error.message).toContain('end.dateTime (text of 16 characters)');
  });

  it('event with an unknown showAs', () => {
    expect(rejection(() => parseGraphEvent({ ...sample('graph-event-create-response.json'), showAs: 'sleeping' }))).toMatchObject({ field: 'showAs', value: 'sleeping' });
  });

  it('todoTask without status, or with an unknown one', () => {
    const { status: _s, ...noStatus } = sample('graph-todotask.json');
    expect(rejection(() => parseGraphTodoTask(noStatus))).toMatchObject({ field: 'status', value: undefined });
    expect(rejection(() => parseGraphTodoTask({ ...noStatus, status: 'done' }))).toMatchObject({ field: 'status', value: 'done' });
  });

  it('contact with a malformed birthday', () => {
    expect(rejection(() => parseGraphContact({ ...sample('graph-contact.json'), birthday: '22/07/1974' }))).toMatchObject({ field: 'birthday', value: '22/07/1974' });
  });
});
