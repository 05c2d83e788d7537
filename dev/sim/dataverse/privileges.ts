// What RetrieveUserPrivileges answers: the privileges a user holds through its roles, each with its depth
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges, RolePrivilege:
// Depth, PrivilegeId, BusinessUnitId, PrivilegeName). The simulator does not check privileges on requests; it keeps,
// per user, the set an administrator gave it, so a client can read it. A user nobody set holds the set a security
// role for the sync grants (docs/deploy.md step 3), so the default deployment is complete.
import { createHash } from 'node:crypto';

export const privilegeDepths = ['Basic', 'Local', 'Deep', 'Global'] as const;
export type PrivilegeDepth = (typeof privilegeDepths)[number];

export interface HeldPrivilege {
  name: string;
  depth: PrivilegeDepth;
}

const tables = ['Activity', 'Contact'];
/** The privileges of the deployment guide's role, all at Organization (Global) depth. */
export const defaultPrivileges: readonly HeldPrivilege[] = [
  ...tables.flatMap((t) => ['Create', 'Read', 'Write', 'Delete', 'Append', 'AppendTo'].map((a) => ({ name: `prv${a}${t}`, depth: 'Global' as const }))),
  ...['prvReadAccount', 'prvAppendToAccount', 'prvReadLead', 'prvAppendToLead', 'prvReadUser', 'prvReadUserSettings', 'prvActOnBehalfOfAnotherUser'].map((name) => ({ name, depth: 'Global' as const })),
];

/** A privilege's id: stable per name, as privilege ids are per organization. */
export function privilegeId(name: string): string {
  const h = createHash('sha256').update(`privilege|${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class PrivilegeBook {
  private readonly byUser = new Map<string, readonly HeldPrivilege[]>();

  of(userId: string): readonly HeldPrivilege[] {
    return this.byUser.get(userId.toLowerCase()) ?? defaultPrivileges;
  }

  set(userId: string, privileges: readonly HeldPrivilege[]): void {
    this.byUser.set(userId.toLowerCase(), [...privileges]);
  }

  reset(): void {
    this.byUser.clear();
  }
}
