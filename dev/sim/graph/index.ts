// Public surface of the Microsoft Graph simulator (see README.md in this folder).
export { startGraphSimulator, GRAPH_AUDIENCE, type GraphSimulator, type GraphSimulatorOptions } from './simulator.js';
export { GraphSimAdmin } from './admin.js';
export { GraphSimAdminClient, GraphSimAdminError } from './adminClient.js';
export { GraphSimAdminBase, type GraphSimAdminApi, type PersonAction, type SeedUser, type SimUserView, type InspectedItem, type SubscriptionView } from './adminTypes.js';
export type { FaultPlan, ScriptedFault } from './faults.js';
export type { GraphSimLimits, MailBehaviour, NotificationPolicy, PartialLimits } from './options.js';
export { DEFAULT_LIMITS, DEFAULT_NOTIFICATION_POLICY } from './options.js';
export type { InvitationRecord } from './invitations.js';
export type { DeliveryRecord } from './notifier.js';
export type { SentMailRecord } from './resources/messages.js';
export type { RequestStats, GraphRequest, GraphResponse, RequestHold } from './graphApi.js';
export type { TimeSource } from './clock.js';
export type { HandledRequest } from '../common/https.js';
