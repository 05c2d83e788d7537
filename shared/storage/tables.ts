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

/** Table keys may not contain / \ # ? or control characters; Graph ids contain / + =. base64url is safe and reversible. */
export function encodeKey(value: string): string {
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
  try {
    return await client.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if (tableStatus(error) === 404) return undefined;
    throw translateTableError(error);
  }
}

/** Maps a Tables failure onto the closed error set: 412/409 are optimistic-concurrency conflicts, 5xx transient. */
export function translateTableError(error: unknown): Error {
  const status = tableStatus(error);
  if (status === 412 || status === 409) return new SyncError('Conflict', `table storage: concurrent update (${status})`, { status, cause: error });
  if (status === 404) return new SyncError('NotFound', 'table storage: entity not found', { status, cause: error });
  if (status === undefined || status >= 500 || status === 429) return new SyncError('Transient', 'table storage unavailable', { ...(status === undefined ? {} : { status }), cause: error });
  return error instanceof Error ? error : new Error(String(error));
}
