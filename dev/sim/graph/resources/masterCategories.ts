// The mailbox's master category list (https://learn.microsoft.com/graph/api/resources/outlookcategory): categories
// with a displayName and a preset color. Items carry categories by display name; "You can apply a category to an
// item by assigning the displayName"; the displayName "cannot be changed" once created, only the color. A new
// mailbox starts with Outlook's six colour categories (the list example of outlookuser-list-mastercategories).
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import { parseBody, rejectUnknownProperties } from './common.js';

const COLORS = ['none', ...Array.from({ length: 25 }, (_, i) => `preset${i}`)] as const;
const color = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(COLORS));

export interface OutlookCategory {
  id: string;
  displayName: string;
  color: string;
}

const DEFAULT_CATEGORIES: [string, string][] = [
  ['Red category', 'preset0'],
  ['Orange category', 'preset1'],
  ['Yellow category', 'preset3'],
  ['Green category', 'preset4'],
  ['Blue category', 'preset7'],
  ['Purple category', 'preset8'],
];

/** Master categories per mailbox, seeded on first use. */
export class MasterCategories {
  private readonly byUser = new Map<string, OutlookCategory[]>();

  constructor(private readonly guid: () => string) {}

  reset(): void {
    this.byUser.clear();
  }

  list(userId: string): OutlookCategory[] {
    return this.of(userId).map((c) => ({ ...c }));
  }

  get(userId: string, id: string): OutlookCategory {
    const c = this.of(userId).find((x) => x.id === id.toLowerCase());
    if (!c) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return { ...c };
  }

  create(userId: string, body: unknown): OutlookCategory {
    if (body && typeof body === 'object' && !Array.isArray(body)) rejectUnknownProperties(body as Record<string, unknown>, new Set(['displayName', 'color', 'id']), 'outlookCategory');
    const input = parseBody(z.object({ displayName: z.string().trim().min(1, 'displayName is required'), color: color.optional() }), body, 'outlookCategory');
    const list = this.of(userId);
    // Outlook keeps category names unique, case-insensitively; Graph's exact error for a duplicate is not documented.
    if (list.some((c) => c.displayName.toLowerCase() === input.displayName.toLowerCase())) {
      throw new GraphError(409, 'ErrorDuplicateName', `A category named '${input.displayName}' already exists.`);
    }
    const c: OutlookCategory = { id: this.guid(), displayName: input.displayName, color: input.color ?? 'none' };
    list.push(c);
    return { ...c };
  }

  update(userId: string, id: string, body: unknown): OutlookCategory {
    const c = this.of(userId).find((x) => x.id === id.toLowerCase());
    if (!c) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    if (body && typeof body === 'object' && 'displayName' in body && body.displayName !== c.displayName) {
      throw new GraphError(400, 'ErrorInvalidRequest', "The displayName of a category cannot be changed; only 'color' can be updated.");
    }
    const input = parseBody(z.object({ color: color.optional(), displayName: z.string().optional() }), body, 'outlookCategory');
    if (input.color) c.color = input.color;
    return { ...c };
  }

  delete(userId: string, id: string): void {
    const list = this.of(userId);
    const i = list.findIndex((x) => x.id === id.toLowerCase());
    if (i < 0) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    list.splice(i, 1);
  }

  private of(userId: string): OutlookCategory[] {
    let list = this.byUser.get(userId);
    if (!list) {
      list = DEFAULT_CATEGORIES.map(([displayName, c]) => ({ id: this.guid(), displayName, color: c }));
      this.byUser.set(userId, list);
    }
    return list;
  }
}
