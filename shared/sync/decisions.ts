// What the planner decided for one change, as the decision record keeps it (shared/storage/decisionStore.ts): the
// decisive action with its reason, and how the executor's run ended. Pure; the engine writes the record.
import type { Outcome } from './execute.js';
import type { Action } from './plan.js';

export interface DecisionSummary {
  decision: string;
  reason: string;
}

/** The action that decided the change (the first one that is not bookkeeping) and its reason in words. */
export function summarizeDecision(actions: readonly Action[], outcome: Outcome | undefined): DecisionSummary {
  // The breaker stood between the plan and the write (shared/sync/breakerGate.ts): the write waits in the quarantine.
  if (outcome?.kind === 'held') return { decision: 'Held', reason: outcome.detail ?? 'held by the mass-delete breaker' };
  const decisive = actions.find((a) => a.type !== 'ResolveConflict') ?? actions[0];
  if (!decisive) return { decision: 'Ignore', reason: 'nothing to do' };
  const conflicts = actions.find((a): a is Extract<Action, { type: 'ResolveConflict' }> => a.type === 'ResolveConflict');
  const conflictText = conflicts ? `; conflict on ${conflicts.conflicts.map((c) => `${c.field} (${c.winner} won)`).join(', ')}` : '';
  const detail = outcome?.detail ? ` (${outcome.detail})` : '';
  switch (decisive.type) {
    case 'Ignore':
    case 'Echo':
    case 'Await':
    case 'Unlink':
    case 'Delete':
      return { decision: decisive.type, reason: decisive.reason };
    case 'Create':
      return { decision: 'Create', reason: `not paired: create in ${decisive.side === 'exchange' ? 'Exchange' : 'Dynamics 365'}${detail}` };
    case 'Link':
      return { decision: 'Link', reason: `an existing item of the same ${decisive.mirror ? 'meeting (mirrored attendee copy)' : 'record'} was linked` };
    case 'Update': {
      const fields = Object.keys(decisive.fields);
      const to = decisive.side === 'exchange' ? 'Exchange' : 'Dynamics 365';
      return { decision: 'Update', reason: `${fields.length ? `write ${fields.join(', ')} to ${to}` : `nothing to write to ${to}`}${conflictText}` };
    }
    case 'ResolveConflict':
      return { decision: 'Update', reason: conflictText.slice(2) };
    case 'SyncParts':
      return { decision: 'SyncParts', reason: `compare the series' exceptions and cancelled occurrences${detail}` };
    case 'Convert':
      return { decision: 'Convert', reason: `${decisive.reason}: converted in Dynamics 365${detail}` };
  }
}
