// The key checks every store makes before a Table Storage call (shared/storage/tables.ts), and the mapping of the
// SDK's failures onto the closed error set. Pure: no Azurite (the stores' own tests use it).
import { createServer } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { devStorageAccountKey } from '../../../dev/azurite/index.js';
import { SyncError } from '../../../shared/errors.js';
import { checkedKey, createTables, decodeKey, encodeKey, getEntityOrUndefined, tableKeyProblem, tableStatus, translateTableError } from '../../../shared/storage/tables.js';

/** A local port nothing listens on (taken from the OS, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
const connectionString = (port: number) => `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;

describe('table keys', () => {
  it('takes any text up to 512 UTF-16 code units without / \\ # ? or control characters, surrogate pairs included', () => {
    for (const key of ['a', 'AAMkAGI2T+abc==', 'x'.repeat(512), 'kick-off 😀 ü', '\u00a0\u00ff', 'a\u007e']) expect(tableKeyProblem(key)).toBeUndefined();
  });

  it('names why a key cannot be one', () => {
    expect(tableKeyProblem('')).toBe('is empty');
    expect(tableKeyProblem('x'.repeat(513))).toBe('is 513 characters long (at most 512)');
    expect(tableKeyProblem('a\ud800b')).toBe('contains a lone surrogate (not valid Unicode)');
    expect(tableKeyProblem('\udc00')).toBe('contains a lone surrogate (not valid Unicode)');
    for (const bad of ['a/b', 'a\\b', 'a#b', 'a?b', '\u0000', 'a\u001fb', '\u007f', 'a\u009fb', '\tx']) {
      expect(tableKeyProblem(bad)).toBe('contains a character Table Storage does not allow in keys (/ \\ # ? or a control character)');
    }
  });

  it('checkedKey returns a good key and throws InvalidInput naming the field for a bad one', () => {
    expect(checkedKey('abc', 'row key')).toBe('abc');
    let thrown: unknown;
    try {
      checkedKey('a/b', 'subscription id');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SyncError);
    expect(thrown).toMatchObject({ code: 'InvalidInput', field: 'subscription id', message: 'subscription id cannot be a table key: it contains a character Table Storage does not allow in keys (/ \\ # ? or a control character)' });
  });

  it('encodeKey makes any valid text a key and decodeKey gives it back; a lone surrogate is refused, not merged into U+FFFD', () => {
    for (const value of ['AAMkAGI2T/+abc==', 'a#b?c\\d', '😀', 'x'.repeat(300)]) {
      const key = encodeKey(value);
      expect(tableKeyProblem(key)).toBeUndefined();
      expect(decodeKey(key)).toBe(value);
    }
    expect(() => encodeKey('a\ud800')).toThrow(expect.objectContaining({ code: 'InvalidInput', field: 'key', message: 'a table key value contains a lone surrogate (not valid Unicode)' }));
  });

  it('a point read checks both keys before any request, naming which one is bad', async () => {
    // No server behind the port: a request would fail otherwise than with InvalidInput.
    const client = TableClient.fromConnectionString(connectionString(await closedPort()), 'keys', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await expect(getEntityOrUndefined(client, 'a/b', 'ok')).rejects.toMatchObject({ code: 'InvalidInput', field: 'partition key' });
    await expect(getEntityOrUndefined(client, 'ok', 'a#b')).rejects.toMatchObject({ code: 'InvalidInput', field: 'row key' });
  });
});

describe('table clients', () => {
  it('gives one client per table, made once, named with the prefix', () => {
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: connectionString(10000), SYNC_TABLE_PREFIX: 'unit' });
    const client = tables.client('mailboxes');
    expect(tables.client('mailboxes')).toBe(client);
    expect(tables.client('pairs')).not.toBe(client);
  });

  it('refuses to run without table storage configured, naming both settings', () => {
    expect(() => createTables({ SYNC_TABLE_PREFIX: 'unit' }).client('mailboxes')).toThrow(
      expect.objectContaining({ code: 'Internal', message: 'no table storage configured (SYNC_TABLES_URL or SYNC_TABLES_CONNECTION_STRING)' }),
    );
  });
});

describe('table failures', () => {
  const sdkError = (statusCode: unknown) => Object.assign(new Error('sdk'), { statusCode });

  it('reads the status of an SDK error, and nothing else as one', () => {
    expect(tableStatus(sdkError(412))).toBe(412);
    expect(tableStatus(sdkError('412'))).toBeUndefined();
    expect(tableStatus(new Error('x'))).toBeUndefined();
    expect(tableStatus(null)).toBeUndefined();
    expect(tableStatus('412')).toBeUndefined();
  });

  it('a point read that fails otherwise than with 404 is an error, not a missing entity: an unreachable service is Transient', async () => {
    const client = TableClient.fromConnectionString(connectionString(await closedPort()), 'unreachable', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await expect(getEntityOrUndefined(client, 'p', 'r')).rejects.toMatchObject({ code: 'Transient', message: 'table storage unavailable' });
  });

  it('each mapped failure says what happened in the table store, naming its status and nothing of the entity', () => {
    expect(translateTableError(sdkError(412)).message).toBe('table storage: concurrent update (412)');
    expect(translateTableError(sdkError(409)).message).toBe('table storage: entity already exists (409)');
    expect(translateTableError(sdkError(404)).message).toBe('table storage: entity not found');
    expect(translateTableError(sdkError(500)).message).toBe('table storage unavailable');
  });

  it('maps 412, 409 and 404 to their codes, 429, 5xx and no status to Transient, and passes other errors through', () => {
    expect(translateTableError(sdkError(412))).toMatchObject({ code: 'PreconditionFailed', status: 412 });
    expect(translateTableError(sdkError(409))).toMatchObject({ code: 'AlreadyExists', status: 409 });
    expect(translateTableError(sdkError(404))).toMatchObject({ code: 'NotFound', status: 404 });
    expect(translateTableError(sdkError(429))).toMatchObject({ code: 'Transient', status: 429 });
    expect(translateTableError(sdkError(500))).toMatchObject({ code: 'Transient', status: 500 });
    expect(translateTableError(sdkError(503))).toMatchObject({ code: 'Transient' });
    const unknown = translateTableError(new Error('socket hang up'));
    expect(unknown).toMatchObject({ code: 'Transient' });
    expect(unknown).not.toHaveProperty('status', expect.anything());
    const forbidden = sdkError(403);
    expect(translateTableError(forbidden)).toBe(forbidden);
    expect(translateTableError(sdkError(499))).not.toBeInstanceOf(SyncError);
    const own = new SyncError('InvalidInput', 'x');
    expect(translateTableError(own)).toBe(own);
    expect(translateTableError(Object.assign({ statusCode: 400 }, {}))).toEqual(new Error('[object Object]'));
  });
});
