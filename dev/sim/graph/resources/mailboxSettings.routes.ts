// Mailbox settings: GET /users/{u}/mailboxSettings and its timeZone (a Windows zone name).
import type { RouteContext, RouteRegistrar } from '../routing.js';
import { json, type Responses } from './responses.js';

export function registerMailboxSettingsRoutes(r: RouteRegistrar, res: Responses): void {
  r.add('GET', 'users/{u}/mailboxSettings', 'mailboxSettings', 'read', (ctx) => json(200, mailboxSettings(ctx, res.base)));
  r.add('GET', 'users/{u}/mailboxSettings/timeZone', 'mailboxSettings', 'read', (ctx) =>
    json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users('${ctx.userSeg}')/mailboxSettings/timeZone`, value: ctx.mb.user.timeZone.windows }),
  );
}

function mailboxSettings(ctx: RouteContext, base: string): Record<string, unknown> {
  const tz = ctx.mb.user.timeZone.windows;
  const never = { dateTime: '2020-01-01T00:00:00.0000000', timeZone: 'UTC' };
  return {
    '@odata.context': `${base}/v1.0/$metadata#users('${ctx.userSeg}')/mailboxSettings`,
    archiveFolder: ctx.mb.mailFolders.get('deleteditems'),
    timeZone: tz,
    delegateMeetingMessageDeliveryOptions: 'sendToDelegateOutlookAndInformationToPrincipal',
    dateFormat: 'M/d/yyyy',
    timeFormat: 'h:mm tt',
    userPurpose: 'user',
    automaticRepliesSetting: { status: 'disabled', externalAudience: 'all', internalReplyMessage: '', externalReplyMessage: '', scheduledStartDateTime: never, scheduledEndDateTime: never },
    language: { locale: 'en-US', displayName: 'English (United States)' },
    workingHours: { daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'], startTime: '08:00:00.0000000', endTime: '17:00:00.0000000', timeZone: { name: tz } },
  };
}
