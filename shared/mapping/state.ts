// How the engine applies state changes to Dataverse activities. statecode is not valid on create
// (IsValidForCreate False in the activity table references), and completed or canceled activities are read-only
// ("Completed and canceled ... are read-only and can't be edited", statecode descriptions in the same references).
import { ActivityState } from '../wire/dataverse.js';

/** True when an activity is Completed or Canceled: Dataverse refuses edits until it is reopened. */
export function isClosedActivity(record: { statecode?: number | null }): boolean {
  return record.statecode === ActivityState.Completed || record.statecode === ActivityState.Canceled;
}

/**
 * Splits statecode/statuscode off a body. Create: POST `fields`, then PATCH `state`. Update: when `state` reopens
 * a closed record, PATCH `state` first, then `fields`; when it closes an open one, both go in one PATCH (the
 * platform updates the other columns, then the state), so the close cannot be left half done.
 */
export function separateStateChange<T extends { statecode?: number; statuscode?: number }>(
  body: T,
): { fields: Omit<T, 'statecode' | 'statuscode'>; state: { statecode: number; statuscode?: number } | null } {
  const { statecode, statuscode, ...fields } = body;
  if (statecode === undefined) return { fields, state: null };
  return { fields, state: statuscode === undefined ? { statecode } : { statecode, statuscode } };
}
