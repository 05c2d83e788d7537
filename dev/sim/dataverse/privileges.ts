// What RetrieveUserPrivileges answers: the privileges a user holds through its roles, each with its depth
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges, RolePrivilege:
// Depth, PrivilegeId, BusinessUnitId, PrivilegeName). It keeps, per user, the set an administrator gave it, so a
// client can read it. A user nobody set holds the set a security role for the sync grants (docs/deploy.md step 3),
// so the default deployment is complete. With enforcement on (option enforcePrivileges, or the admin API), Web API
// writes of activities and contacts are checked too: the user the write runs as (the impersonated one) needs the
// Create, Write or Delete privilege of the table, and an application user that impersonates needs
// prvActOnBehalfOfAnotherUser. Depth is not checked (any depth grants). A missing one answers as Dataverse does:
// 403, 0x80040220 PrivilegeDenied
// (https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes), with the
// message "Principal user (Id=<id>, type=8) is missing <privilege> privilege (Id=<id>)" as Microsoft's support
// articles quote it (KB 4015092 "PrivilegeDenied error occurs when using Server-Side Synchronization"; KB 4456770
// "Permission error 80040220 when importing or deleting solution"). Newer services add roleCount and accessMode
// to the parenthesis; the product reads only the privilege's name.
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

/** The privilege a write of a table needs ('Activity' for every activity table, as Dataverse's roles have it). */
export function writePrivilege(action: 'Create' | 'Write' | 'Delete', table: { logicalName: string; isActivity: boolean }): string | undefined {
  if (table.isActivity) return `prv${action}Activity`;
  if (table.logicalName === 'contact') return `prv${action}Contact`;
  return undefined;
}

export class PrivilegeBook {
  private readonly byUser = new Map<string, readonly HeldPrivilege[]>();
  private enforced: boolean;

  constructor(private readonly enforcedByDefault = false) {
    this.enforced = enforcedByDefault;
  }

  /** Whether Web API writes are checked against the privileges (see the top of this file). */
  get enforcing(): boolean {
    return this.enforced;
  }

  setEnforcing(on: boolean): void {
    this.enforced = on;
  }

  /** Whether the user holds the privilege, at any depth. */
  holds(userId: string, name: string): boolean {
    const wanted = name.toLowerCase();
    return this.of(userId).some((p) => p.name.toLowerCase() === wanted);
  }

  of(userId: string): readonly HeldPrivilege[] {
    return this.byUser.get(userId.toLowerCase()) ?? defaultPrivileges;
  }

  set(userId: string, privileges: readonly HeldPrivilege[]): void {
    this.byUser.set(userId.toLowerCase(), [...privileges]);
  }

  reset(): void {
    this.byUser.clear();
    this.enforced = this.enforcedByDefault;
  }
}
