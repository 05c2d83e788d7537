// Every setting the app reads, named as the Azure app settings that infra/ sets, parsed once with one schema.
// A missing or invalid setting fails at start with one error that lists every problem by name.
import { z } from 'zod';
import { guidPattern } from './guid.js';

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** https, or plain http to a loopback address (the local host and simulators of `npm start`). */
const url = (what: string) =>
  z
    .string({ error: `must be the ${what} (an https URL)` })
    .trim()
    .refine(
      (v) => {
        if (!URL.canParse(v)) return false;
        const u = new URL(v);
        return u.protocol === 'https:' || (u.protocol === 'http:' && loopback.has(u.hostname));
      },
      { message: `must be the ${what} (an https URL)` },
    )
    .transform((v) => v.replace(/\/+$/, ''));

const guid = (what: string) =>
  z
    .string({ error: `must be the ${what} (a GUID)` })
    .trim()
    .regex(guidPattern, { message: `must be the ${what} (a GUID)` })
    .transform((v) => v.toLowerCase());

const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', 'True', 'False', '1', '0'], { error: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === 'True' || v === '1'));

const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

export const budgetModes = ['shared', 'local', 'off'] as const;

const settingName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { message: 'must name an app setting (letters, digits, _)' });

/** One more application user (DATAVERSE_APPLICATION_USERS): its app registration and where its credential is. */
export const applicationUserSchema = z
  .object({
    clientId: z.string().trim().regex(guidPattern, { message: 'must be the application (client) id (a GUID)' }).transform((v) => v.toLowerCase()),
    secretSetting: settingName.optional(),
    certificateSetting: settingName.optional(),
    applicationUserId: z.string().trim().regex(guidPattern, { message: 'must be the systemuserid (a GUID)' }).transform((v) => v.toLowerCase()).optional(),
  })
  .strict()
  .refine((u) => (u.secretSetting === undefined) !== (u.certificateSetting === undefined), { message: 'needs exactly one of secretSetting or certificateSetting' });
const applicationUsersSchema = z.array(applicationUserSchema).max(50);
export type ApplicationUserSetting = z.output<typeof applicationUserSchema>;

/** Conflict policy for a field changed on both sides since the last sync. */
export const conflictPolicies = ['lastModifiedWins', 'dataverseWins', 'exchangeWins'] as const;
export type ConflictPolicy = (typeof conflictPolicies)[number];

/**
 * The schema, keyed by app-setting name. Secrets (client secret, certificate, webhook keys) arrive as Key Vault
 * references in Azure, which the platform resolves before the app sees them.
 */
export const settingsSchema = z
  .object({
    /** Entra tenant (directory) id of the synced Microsoft 365 tenant. */
    SYNC_TENANT_ID: guid('Entra tenant id'),
    /** Application (client) id of the Entra app registration the sync uses for Graph and Dataverse. */
    SYNC_CLIENT_ID: guid('application (client) id of the sync app registration'),
    /** Client secret of that app (a Key Vault reference in Azure). One of SYNC_CLIENT_SECRET or SYNC_CLIENT_CERTIFICATE. */
    SYNC_CLIENT_SECRET: z.string().min(1).optional(),
    /** PEM private key and certificate of that app (a Key Vault reference in Azure). */
    SYNC_CLIENT_CERTIFICATE: z.string().includes('PRIVATE KEY', { message: 'must be a PEM bundle with the private key' }).optional(),
    /** Entra authority host; the sovereign clouds and the local simulators change it. */
    SYNC_AUTHORITY_HOST: url('Entra authority host').default('https://login.microsoftonline.com'),
    /** Microsoft Graph base URL, without the version segment. */
    GRAPH_BASE_URL: url('Microsoft Graph base URL').default('https://graph.microsoft.com'),
    /** Dataverse environment URL, e.g. https://contoso.crm.dynamics.com. */
    DATAVERSE_URL: url('Dataverse environment URL'),
    /** systemuserid of the sync's application user in Dataverse: its writes are recognised as the sync's own. Read with WhoAmI when absent. */
    DATAVERSE_APPLICATION_USER_ID: guid('systemuserid of the application user').optional(),
    /** Value of the HTTP header the Dataverse service endpoint sends (HttpHeader auth); a Key Vault reference in Azure. */
    DATAVERSE_WEBHOOK_KEY: z.string().min(32, { message: 'must be at least 32 characters' }),
    /** Function key of graphNotifications: Graph cannot send headers, so notification URLs carry it as ?code= (a Key Vault reference in Azure). */
    GRAPH_NOTIFICATION_FUNCTION_KEY: z.string().min(1).optional(),
    /** Public base URL of this app's HTTP functions, e.g. https://<app>.azurewebsites.net/api. */
    WEBHOOK_BASE_URL: url('public base URL of the HTTP functions'),
    /** Azure Table Storage: the table service URL (identity-based, production) ... */
    SYNC_TABLES_URL: url('Table service URL').optional(),
    /** ... or a connection string (Azurite, local development). */
    SYNC_TABLES_CONNECTION_STRING: z.string().min(1).optional(),
    /** Prefix of every table the app creates, so several deployments can share one account. */
    SYNC_TABLE_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,19}$/, { message: 'must be 1-20 letters or digits, starting with a letter' }).default('sync'),
    /** Service Bus connection used by the trigger and the sender: the namespace (identity-based, production) ... */
    ServiceBusConnection__fullyQualifiedNamespace: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a host name such as <namespace>.servicebus.windows.net' })
      .optional(),
    /** ... or a connection string (the local Service Bus simulator). */
    ServiceBusConnection: z.string().includes('Endpoint=', { message: 'must be a Service Bus connection string' }).optional(),
    /** Client id of the user-assigned managed identity (identity-based Storage, Service Bus). */
    AZURE_CLIENT_ID: guid('client id of the managed identity').optional(),
    /** Field changed on both sides since the last sync: which side wins (default: the later modification). */
    SYNC_CONFLICT_POLICY: z.enum(conflictPolicies).default('lastModifiedWins'),
    /** Propagate a Dataverse appointment cancellation to Exchange (server-side sync's SSSPropagateAppointmentCancellationsToExchange; off by default). */
    SYNC_PROPAGATE_CANCELLATIONS: boolean(false),
    /** Sync window for backfill and calendar delta: days back ... */
    SYNC_WINDOW_PAST_DAYS: integer(30, 0, 3650),
    /** ... and days ahead. */
    SYNC_WINDOW_FUTURE_DAYS: integer(365, 1, 3650),
    /** Attempts of one change before it is dead-lettered with its reason. */
    SYNC_MAX_ATTEMPTS: integer(8, 1, 50),
    /**
     * An outage (5xx, timeouts, 429, token endpoint down, app-level 401) that outlasts SYNC_MAX_ATTEMPTS pauses the
     * mailbox for this long, doubling with each failed probe up to SYNC_PAUSE_MAX_SECONDS; its changes wait on
     * Service Bus and are never dead-lettered for it. 0 turns pausing off (such a change is dead-lettered).
     */
    SYNC_PAUSE_MIN_SECONDS: integer(60, 0, 86_400),
    SYNC_PAUSE_MAX_SECONDS: integer(3600, 1, 86_400),
    /**
     * Tracked email: the category that tracks a message (server-side sync's "Tracked to Dynamics 365",
     * https://learn.microsoft.com/power-platform/admin/use-outlook-category-track-appointments-emails).
     */
    SYNC_EMAIL_CATEGORY: z.string().trim().min(1).max(255).default('Tracked to Dynamics 365'),
    /**
     * Sends per sender mailbox per window: Exchange Online accepts 30 messages a minute per mailbox
     * (https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits).
     */
    SYNC_EMAIL_SENDS_PER_WINDOW: integer(30, 1, 10_000),
    /** The window of that limit in milliseconds (a minute; shorter only for tests). */
    SYNC_EMAIL_SEND_WINDOW_MS: integer(60_000, 100, 3_600_000),
    /**
     * Adaptive To Do polling (shared/sync/schedule.ts): a mailbox whose poll found changes, or that had a change synced
     * either way, is polled again after the minimum; each quiet poll doubles the interval up to the maximum, as
     * server-side synchronization backs off idle mailboxes. 0 and 0 poll every mailbox at every timer run.
     */
    SYNC_TODO_POLL_MIN_SECONDS: integer(60, 0, 3600),
    SYNC_TODO_POLL_MAX_SECONDS: integer(900, 0, 86400),
    /** Reconciliation period; each mailbox's round is at its own place in it (0: every mailbox at every run). */
    SYNC_RECONCILE_PERIOD_MINUTES: integer(15, 0, 1440),
    /** How often each mailbox's subscriptions are checked for renewal (0: at every run of the renewal timer). */
    SYNC_RENEW_CHECK_MINUTES: integer(30, 0, 720),
    /** Mailboxes per page of a sweep (one Table Storage query page, one batch of work messages). */
    SYNC_SWEEP_PAGE_SIZE: integer(100, 1, 1000),
    /** Decisions kept per item and mailbox for explain (the newest; the newest write per direction is kept beside them). */
    SYNC_DECISIONS_KEEP: integer(10, 1, 100),
    /** Days an item's decisions in a mailbox are kept once it is no longer paired there (the daily retention pass). */
    SYNC_DECISIONS_DROP_AFTER_DAYS: integer(30, 1, 3650),
    /**
     * Per-mailbox Graph budget (shared/budget/): `shared` keeps each mailbox within Graph's 4 concurrent requests and
     * 10,000 requests per 10 minutes per app and mailbox across every instance with a lease in the Budget table;
     * `local` paces within this instance only (one instance); `off` does not pace (Graph's 429s and Retry-After only).
     */
    SYNC_GRAPH_BUDGET: z.enum(budgetModes, { error: 'must be shared, local or off' }).default('shared'),
    /** The same for the Dataverse budget: `shared` divides it by the instances alive (heartbeats in the Budget table). */
    SYNC_DATAVERSE_BUDGET: z.enum(budgetModes, { error: 'must be shared, local or off' }).default('shared'),
    /**
     * Dataverse requests per 5 minutes per application user, all instances together: 90% of the default service
     * protection limit of 6,000 (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits).
     */
    SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES: integer(5_400, 1, 1_000_000),
    /** Concurrent Dataverse requests per application user, all instances together: 92% of the default limit of 52. */
    SYNC_DATAVERSE_CONCURRENT_REQUESTS: integer(47, 1, 10_000),
    /**
     * Calls waiting for the Dataverse budget go out together as one $batch of at most this many (1: never batched).
     * A batch is one request for the service protection request count, its parts' execution time still counts
     * (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits); the Web API takes up to 1000
     * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api),
     * and the limits page advises small batches ("start with a small batch size of 10").
     */
    SYNC_DATAVERSE_BATCH_MAX: integer(20, 1, 1000),
    /**
     * More application users to spread the Dataverse load over, each an app registration with its own service
     * protection budget: a JSON list of {"clientId": "<guid>", "secretSetting": "<app setting name>"} (or
     * "certificateSetting"), naming the app setting that holds the secret (a Key Vault reference in Azure), never the
     * secret itself; optional "applicationUserId" (its systemuserid, else read with WhoAmI). SYNC_CLIENT_ID is always the first.
     */
    DATAVERSE_APPLICATION_USERS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v.trim() === '') return [];
        let json: unknown;
        try {
          json = JSON.parse(v);
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON list of {"clientId", "secretSetting" or "certificateSetting"}' });
          return z.NEVER;
        }
        const parsed = applicationUsersSchema.safeParse(json);
        if (!parsed.success) {
          ctx.addIssue({ code: 'custom', message: parsed.error.issues.map((i) => `${i.path.length ? `[${i.path.join('].')}${i.path.length > 1 ? '' : ']'}: ` : ''}${i.message}`).join('; ') });
          return z.NEVER;
        }
        return parsed.data;
      }),
    /**
     * Backfill pace per mailbox: its changes are scheduled on the queue at this many per second, so mailboxes enabled
     * one after another interleave and each stays near its Graph budget (0: everything at once).
     */
    SYNC_BACKFILL_CHANGES_PER_SECOND: integer(5, 0, 1000),
    /** Application Insights: traces, metrics and log records through OpenTelemetry (shared/telemetry); off when absent. Not a secret. */
    APPLICATIONINSIGHTS_CONNECTION_STRING: z
      .string()
      .regex(/(^|;)\s*InstrumentationKey\s*=\s*[0-9a-fA-F-]{36}\s*(;|$)/, { message: 'must be an Application Insights connection string (InstrumentationKey=<guid>;IngestionEndpoint=...)' })
      .optional(),
    /** Identity-based ingestion: `Authorization=AAD;ClientId=<client id of the managed identity>` (Monitoring Metrics Publisher on the component). */
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z
      .string()
      .regex(/^(?=.*(^|;)\s*Authorization\s*=\s*AAD\s*(;|$))[^;]+(;[^;]+)*;?$/i, { message: 'must be Authorization=AAD;ClientId=<client id of the managed identity>' })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (!s.SYNC_CLIENT_SECRET && !s.SYNC_CLIENT_CERTIFICATE) {
      ctx.addIssue({ code: 'custom', path: ['SYNC_CLIENT_SECRET'], message: 'one of SYNC_CLIENT_SECRET or SYNC_CLIENT_CERTIFICATE must be set' });
    }
    if (s.SYNC_TODO_POLL_MAX_SECONDS < s.SYNC_TODO_POLL_MIN_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['SYNC_TODO_POLL_MAX_SECONDS'], message: `must be at least SYNC_TODO_POLL_MIN_SECONDS (${s.SYNC_TODO_POLL_MIN_SECONDS})` });
    }
    if (s.SYNC_PAUSE_MAX_SECONDS < s.SYNC_PAUSE_MIN_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['SYNC_PAUSE_MAX_SECONDS'], message: `must be at least SYNC_PAUSE_MIN_SECONDS (${s.SYNC_PAUSE_MIN_SECONDS})` });
    }
    if (!s.SYNC_TABLES_URL && !s.SYNC_TABLES_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: ['SYNC_TABLES_URL'], message: 'one of SYNC_TABLES_URL or SYNC_TABLES_CONNECTION_STRING must be set' });
    }
    if (!s.ServiceBusConnection__fullyQualifiedNamespace && !s.ServiceBusConnection) {
      ctx.addIssue({
        code: 'custom',
        path: ['ServiceBusConnection__fullyQualifiedNamespace'],
        message: 'one of ServiceBusConnection__fullyQualifiedNamespace or ServiceBusConnection must be set',
      });
    }
  });

export type Settings = z.output<typeof settingsSchema>;

/** Every setting name the schema reads. */
export const settingNames: readonly string[] = Object.keys(settingsSchema.shape);

/**
 * Settings the Functions platform reads itself (identity-based host storage, Service Bus trigger identity). The app
 * never reads them, but infra/ sets them and they are not unknown. (The Application Insights settings are in the
 * schema: the app reads them for OpenTelemetry.)
 */
export const platformSettingNames: readonly string[] = [
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'ServiceBusConnection__credential',
  'ServiceBusConnection__clientId',
];

/**
 * The app settings infra/ writes for the credentials of DATAVERSE_APPLICATION_USERS (Key Vault references, empty
 * when unused): the app reads them only through the names that list gives, so they are not in the schema.
 */
export const applicationUserSecretSettingNames: readonly string[] = [2, 3, 4, 5].map((n) => `SYNC_DATAVERSE_APP_${n}_SECRET`);

/** One error for every problem in the settings, each named by its app-setting name. */
export class ConfigurationError extends Error {
  constructor(readonly problems: readonly { setting: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

/** Parses and freezes the settings from an environment (process.env by default). */
export function loadSettings(env: Record<string, string | undefined> = process.env): Readonly<Settings> {
  const input: Record<string, string | undefined> = {};
  const unresolved: { setting: string; message: string }[] = [];
  for (const name of settingNames) {
    const value = env[name];
    // An empty app setting means "not set", as the portal shows it.
    input[name] = value === undefined || value.trim() === '' ? undefined : value;
    // App Service hands over the reference text itself when it cannot resolve a Key Vault reference.
    if (value?.trim().startsWith('@Microsoft.KeyVault(')) {
      unresolved.push({ setting: name, message: 'is a Key Vault reference that did not resolve (does the secret exist, and may the app identity read it?)' });
    }
  }
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success || unresolved.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues.filter((issue) => !unresolved.some((u) => u.setting === String(issue.path[0])));
    const problems = unresolved.concat(issues.map((issue) => ({
      setting: String(issue.path[0] ?? '(settings)'),
      message: issue.code === 'invalid_type' && input[String(issue.path[0])] === undefined ? 'is required but not set' : issue.message,
    })));
    throw new ConfigurationError(problems);
  }
  const referenced = credentialProblems(parsed.data, env);
  if (referenced.length > 0) throw new ConfigurationError(referenced);
  return Object.freeze(parsed.data);
}

/**
 * The app settings DATAVERSE_APPLICATION_USERS names must hold a credential: set, resolved (not a Key Vault
 * reference the platform could not resolve) and, for a certificate, a PEM bundle with its key. Only names are reported.
 */
function credentialProblems(settings: Settings, env: Record<string, string | undefined>): { setting: string; message: string }[] {
  const problems: { setting: string; message: string }[] = [];
  const seen = new Set([settings.SYNC_CLIENT_ID]);
  for (const [i, user] of settings.DATAVERSE_APPLICATION_USERS.entries()) {
    if (seen.has(user.clientId)) problems.push({ setting: 'DATAVERSE_APPLICATION_USERS', message: `[${i}] clientId ${user.clientId} is listed twice (SYNC_CLIENT_ID is always the first application user)` });
    seen.add(user.clientId);
    const name = user.secretSetting ?? user.certificateSetting!;
    const value = env[name]?.trim();
    if (!value) problems.push({ setting: name, message: `is required by DATAVERSE_APPLICATION_USERS[${i}] but not set` });
    else if (value.startsWith('@Microsoft.KeyVault(')) problems.push({ setting: name, message: 'is a Key Vault reference that did not resolve (does the secret exist, and may the app identity read it?)' });
    else if (user.certificateSetting && !value.includes('PRIVATE KEY')) problems.push({ setting: name, message: 'must be a PEM bundle with the private key' });
  }
  return problems;
}
