// Table Storage access: one TableClient per table, identity-based in Azure (SYNC_TABLES_URL + managed identity),
// connection string locally (Azurite). Tables are created on first use, idempotently.
import { TableClient, type TableEntityResult } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { SyncError } from '../errors.js';
import { tableName, tableSuffixes, type TableKey } from './tableNames.js';

export interface TableSettings {
  SYNC_TABLES_URL?: string | undefined;
  SYNC_TABLES_CONNECTION_STRING?: string | undefined;
  SYNC_TABLE_PREFIX: string;
  AZURE_CLIENT_ID?: string | undefined;
}

export interface Tables {
  client(key: TableKey): TableClient;
  /** Creates every table the app uses (idempotent). */
  ensureTables(): Promise<void>;
}

/** Builds the table clients from the settings. */
export function createTables(settings: TableSettings, credential?: TokenCredential): Tables {
  const clients = new Map<TableKey, TableClient>();
  const make = (key: TableKey): TableClient => {
    const name = tableName(settings.SYNC_TABLE_PREFIX, key);
    if (settings.SYNC_TABLES_CONNECTION_STRING) {
      const local = /UseDevelopmentStorage=true|127\.0\.0\.1|localhost/i.test(settings.SYNC_TABLES_CONNECTION_STRING);
      return TableClient.fromConnectionString(settings.SYNC_TABLES_CONNECTION_STRING, name, { allowInsecureConnection: local });
    }
    if (!settings.SYNC_TABLES_URL) throw new SyncError('Internal', 'no table storage configured (SYNC_TABLES_URL or SYNC_TABLES_CONNECTION_STRING)');
    const cred =
      credential ?? (settings.AZURE_CLIENT_ID ? new ManagedIdentityCredential({ clientId: settings.AZURE_CLIENT_ID }) : new DefaultAzureCredential());
    return new TableClient(settings.SYNC_TABLES_URL, name, cred);
  };
  return {
    client(key) {
      let client = clients.get(key);
      if (!client) {
        client = make(key);
        clients.set(key, client);
      }
      return client;
    },
    async ensureTables() {
      await Promise.all((Object.keys(tableSuffixes) as TableKey[]).map((key) => this.client(key).createTable()));
    },
  };
}

/**
 * Why a value cannot be a PartitionKey or RowKey, or undefined when it can. Table Storage refuses keys over 1 KiB
 * (UTF-16, so 512 code units) and keys with / \ # ? or the control characters U+0000-U+001F and U+007F-U+009F
 * (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#characters-disallowed-in-key-fields);
 * a lone surrogate is not text at all and cannot even be put in the request URL. The SDK sends such a key anyway
 * and fails in ways that are not 4xx, so every store checks its keys with this before any call.
 */
export function tableKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'is empty';
  if (key.length > 512) return `is ${key.length} characters long (at most 512)`;
  if (hasLoneSurrogate(key)) return 'contains a lone surrogate (not valid Unicode)';
  // eslint-disable-next-line no-control-regex
  if (/[/\\#?\u0000-\u001f\u007f-\u009f]/.test(key)) return 'contains a character Table Storage does not allow in keys (/ \\ # ? or a control character)';
  return undefined;
}

/** In a `u` regular expression a surrogate pair is one code point, so only a lone surrogate matches \p{Cs}. */
function hasLoneSurrogate(value: string): boolean {
  return /\p{Cs}/u.test(value);
}

/** The key itself when Table Storage can take it; InvalidInput naming what it is for otherwise (a 4xx, never sent). */
export function checkedKey(key: string, what: string): string {
  const problem = tableKeyProblem(key);
  if (problem) throw new SyncError('InvalidInput', `${what} cannot be a table key: it ${problem}`, { field: what });
  return key;
}

/** Table keys may not contain / \ # ? or control characters; Graph ids contain / + =. base64url is safe and reversible. */
export function encodeKey(value: string): string {
  // A lone surrogate would be written as U+FFFD, so two different values would share one key.
  if (hasLoneSurrogate(value)) throw new SyncError('InvalidInput', 'a table key value contains a lone surrogate (not valid Unicode)', { field: 'key' });
  return Buffer.from(value, 'utf8').toString('base64url');
}

export function decodeKey(key: string): string {
  return Buffer.from(key, 'base64url').toString('utf8');
}

/** Status code of a failed Tables call (the SDK puts it on `statusCode`). */
export function tableStatus(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** Reads one entity, or undefined when it does not exist (404 is the only expected failure). */
export async function getEntityOrUndefined<T extends object>(client: TableClient, partitionKey: string, rowKey: string): Promise<TableEntityResult<T> | undefined> {
  checkedKey(partitionKey, 'partition key');
  checkedKey(rowKey, 'row key');
  try {
    return await client.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if (tableStatus(error) === 404) return undefined;
    throw translateTableError(error);
  }
}

/** Maps a Tables failure onto the closed error set: 412 a failed etag check, 409 an entity that exists, 5xx transient. */
export function translateTableError(error: unknown): Error {
  if (error instanceof SyncError) return error;
  const status = tableStatus(error);
  if (status === 412) return new SyncError('PreconditionFailed', 'table storage: concurrent update (412)', { status, cause: error });
  if (status === 409) return new SyncError('AlreadyExists', 'table storage: entity already exists (409)', { status, cause: error });
  if (status === 404) return new SyncError('NotFound', 'table storage: entity not found', { status, cause: error });
  if (status === undefined || status >= 500 || status === 429) return new SyncError('Transient', 'table storage unavailable', { ...(status === undefined ? {} : { status }), cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Work done once per deployment, such as building an index a table of an earlier release lacks: `build` runs unless
 * `marker`'s row exists, and the row is written after it, so every later process skips it. The function answers
 * one promise to every caller of this process; a build that fails is tried again by the next call. Two processes
 * building at once do the same work, so `build` must be idempotent.
 */
export function buildOnce(table: () => TableClient, marker: { partitionKey: string; rowKey: string }, build: () => Promise<void>, now: () => Date = () => new Date()): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= (async () => {
      if (await getEntityOrUndefined(table(), marker.partitionKey, marker.rowKey)) return;
      await build();
      try {
        await table().upsertEntity({ ...marker, builtOn: now().toISOString() }, 'Replace');
      } catch (error) {
        throw translateTableError(error);
      }
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
}
