// Which Exchange items sync to Dataverse. Exchange -> Dynamics 365 only for items created or tracked through the
// Dynamics 365 App for Outlook or carrying the "Tracked to Dynamics 365" category; once linked, sync is two-way
// (docs/reference/platform-facts.md section 7; https://learn.microsoft.com/power-platform/admin/sync-logic).

/** The Outlook category that marks an item as tracked to Dynamics 365. */
export const trackedCategory = 'Tracked to Dynamics 365';

function isTrackedName(category: string): boolean {
  // Outlook category names compare case-insensitively (the master category list cannot hold two that differ by case).
  return category.trim().toLowerCase() === trackedCategory.toLowerCase();
}

/** Rule: an Exchange item syncs to Dataverse when it carries the tracked category or is already paired with a record. */
export function isTrackedInExchange(item: { categories?: string[] | null }, paired: boolean): boolean {
  return paired || (item.categories ?? []).some(isTrackedName);
}

/** The item's categories with the tracked category added once (kept: the user's own categories). */
export function withTrackedCategory(categories: readonly string[] | null | undefined): string[] {
  const existing = [...(categories ?? [])];
  return existing.some(isTrackedName) ? existing : [...existing, trackedCategory];
}
