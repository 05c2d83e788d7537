// The sync window: how far back and ahead appointments and tasks are synced (backfill and reconciliation agree).
import type { Runtime } from '../runtime.js';

export interface SyncWindow {
  start: Date;
  end: Date;
}

/** The sync window from the settings: SYNC_WINDOW_PAST_DAYS back, SYNC_WINDOW_FUTURE_DAYS ahead. */
export function syncWindow(rt: Pick<Runtime, 'settings' | 'now'>): SyncWindow {
  const now = rt.now().getTime();
  return { start: new Date(now - rt.settings.SYNC_WINDOW_PAST_DAYS * 86400_000), end: new Date(now + rt.settings.SYNC_WINDOW_FUTURE_DAYS * 86400_000) };
}
