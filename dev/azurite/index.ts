// Azurite's Table service started in-process (docs/reference/local-tooling.md, probe 2): `require('azurite')` pulls in vscode, so
// the table server is deep-imported; port 0 gives an ephemeral port that the server then reports.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

interface AzuriteTableServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}
type TableServerCtor = new (config: unknown) => AzuriteTableServer;
type TableConfigurationCtor = new (...args: unknown[]) => unknown;

const require = createRequire(import.meta.url);

/** Azurite's well-known development account key (public, documented; not a secret). */
export const devStorageAccountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface StartedAzurite {
  port: number;
  /** Connection string for @azure/data-tables (TableClient.fromConnectionString(..., { allowInsecureConnection: true })). */
  connectionString: string;
  close(): Promise<void>;
}

/** Starts Azurite's Table service on 127.0.0.1; in memory unless `folder` is given. */
export async function startAzuriteTables(options: { port?: number; folder?: string } = {}): Promise<StartedAzurite> {
  const serverModule = require('azurite/dist/src/table/TableServer.js') as { default: TableServerCtor };
  const configModule = require('azurite/dist/src/table/TableConfiguration.js') as { default: TableConfigurationCtor };
  const inMemory = options.folder === undefined;
  if (options.folder) mkdirSync(options.folder, { recursive: true });
  const dbPath = options.folder ? join(options.folder, '__azurite_db_table__.json') : 'unused';
  // (host, port, keepAliveTimeout, dbPath, debugLog, accessLog, accessLogStream, debugLogPath, loose,
  //  skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, isMemoryPersistence)
  const config = new configModule.default('127.0.0.1', options.port ?? 0, 5, dbPath, false, false, undefined, undefined, false, true, '', '', '', undefined, false, inMemory);
  const server = new serverModule.default(config);
  await server.start();
  const port = Number(new URL(server.getHttpServerAddress()).port);
  return {
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
    close: () => server.close(),
  };
}
