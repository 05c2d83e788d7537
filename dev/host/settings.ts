import { readFileSync } from 'node:fs';

/** The Service Bus trigger settings of host.json, so the local host behaves as the deployed trigger is configured. */
export function hostServiceBusSettings(): { maxConcurrentSessions: number; sessionIdleTimeoutMs: number; maxConcurrentCalls: number } {
  const host = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8')) as {
    extensions?: { serviceBus?: { maxConcurrentSessions?: number; sessionIdleTimeout?: string; maxConcurrentCalls?: number } };
  };
  const sb = host.extensions?.serviceBus ?? {};
  const match = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(sb.sessionIdleTimeout ?? '');
  const idle = match ? (Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])) * 1000 : 1000;
  // The extension's defaults when host.json says nothing: 8 sessions, 16 calls per core.
  return { maxConcurrentSessions: sb.maxConcurrentSessions ?? 8, sessionIdleTimeoutMs: idle, maxConcurrentCalls: sb.maxConcurrentCalls ?? 16 };
}
