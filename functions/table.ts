// Every function of the app, in one table that both @azure/functions (functions/index.ts) and the local host
// (dev/host/) read, so what runs locally is what is deployed. Handlers live in shared/handlers/.
import type { HttpHandler, ServiceBusQueueHandler, TimerHandler } from '@azure/functions';
import { status, statusPage } from '../shared/handlers/status.js';
import { pollTodo, reconcile, renewSubscriptions } from '../shared/handlers/timers.js';
import { dataverseWebhook, graphNotifications } from '../shared/handlers/webhooks.js';
import { mailboxWorker } from '../shared/handlers/work.js';
import { syncWorker } from '../shared/handlers/worker.js';
import { changesQueue, legacyChangesQueue, serviceBusConnectionName, workQueue } from '../shared/servicebus/queues.js';

export type FunctionDefinition =
  | { kind: 'http'; name: string; route: string; methods: ('GET' | 'POST')[]; authLevel: 'function' | 'anonymous'; handler: HttpHandler }
  | { kind: 'serviceBusQueue'; name: string; queueName: string; connection: string; isSessionsEnabled: boolean; handler: ServiceBusQueueHandler }
  | { kind: 'timer'; name: string; schedule: string; handler: TimerHandler };

export const functionTable: readonly FunctionDefinition[] = [
  // Graph posts change and lifecycle notifications here (notificationUrl and lifecycleNotificationUrl, ?code=<key>).
  { kind: 'http', name: 'graphNotifications', route: 'graph/notifications', methods: ['POST'], authLevel: 'function', handler: graphNotifications },
  // The Dataverse service endpoint (Webhook contract, HttpHeader auth) posts here.
  { kind: 'http', name: 'dataverseWebhook', route: 'dataverse/webhook', methods: ['POST'], authLevel: 'function', handler: dataverseWebhook },
  { kind: 'http', name: 'status', route: 'status', methods: ['GET'], authLevel: 'function', handler: status },
  // The same report as an HTML page for a browser (shared/status/page.ts), behind the same function key.
  { kind: 'http', name: 'statusPage', route: 'status/page', methods: ['GET', 'POST'], authLevel: 'function', handler: statusPage },
  {
    kind: 'serviceBusQueue',
    name: 'syncWorker',
    queueName: changesQueue.name,
    connection: serviceBusConnectionName,
    isSessionsEnabled: changesQueue.requiresSession,
    handler: syncWorker,
  },
  // Drains the changes queue of the previous release (sessions) with the same worker (queues.ts legacyChangesQueue).
  {
    kind: 'serviceBusQueue',
    name: 'legacyChangesWorker',
    queueName: legacyChangesQueue.name,
    connection: serviceBusConnectionName,
    isSessionsEnabled: legacyChangesQueue.requiresSession,
    handler: syncWorker,
  },
  // The periodic work, one session per mailbox, on every instance (the timers below only send sweeps).
  {
    kind: 'serviceBusQueue',
    name: 'mailboxWorker',
    queueName: workQueue.name,
    connection: serviceBusConnectionName,
    isSessionsEnabled: workQueue.requiresSession,
    handler: mailboxWorker,
  },
  // NCRONTAB with seconds, in UTC (Flex Consumption has no WEBSITE_TIME_ZONE). Each sends one sweep of the mailboxes
  // due (shared/sync/work.ts): the poll's interval adapts per mailbox, reconciliation spreads mailboxes over its
  // period (SYNC_RECONCILE_PERIOD_MINUTES), so both sweep every minute.
  { kind: 'timer', name: 'pollTodo', schedule: '0 */1 * * * *', handler: pollTodo },
  // Each mailbox is checked every SYNC_RENEW_CHECK_MINUTES; sweeping every 5 minutes keeps that close and spread.
  { kind: 'timer', name: 'renewSubscriptions', schedule: '0 */5 * * * *', handler: renewSubscriptions },
  // Repairs dropped notifications within one period.
  { kind: 'timer', name: 'reconcile', schedule: '0 */1 * * * *', handler: reconcile },
];
