import { describe, expect, it } from 'vitest';
import { isTrackedInExchange, trackedCategory, withTrackedCategory } from '../../shared/mapping/index.js';

describe('only tracked Exchange items sync: the "Tracked to Dynamics 365" category, or already paired', () => {
  it.each<[{ categories?: string[] }, boolean, boolean, string]>([
    [{ categories: ['Tracked to Dynamics 365'] }, false, true, 'tracked category'],
    [{ categories: ['Red', 'tracked to dynamics 365'] }, false, true, 'category in other case'],
    [{ categories: ['Red'] }, false, false, 'other categories only'],
    [{ categories: ['  Tracked to Dynamics 365 '] }, false, true, 'category with blanks around it'],
    [{ categories: [] }, false, false, 'no categories'],
    [{}, false, false, 'categories absent'],
    [{}, true, true, 'paired without category'],
    [{ categories: ['Red'] }, true, true, 'paired with other categories'],
  ])('%o, paired %s -> %s (%s)', (item, paired, expected) => {
    expect(isTrackedInExchange(item, paired)).toBe(expected);
  });

  it('the category constant is the one Outlook shows', () => {
    expect(trackedCategory).toBe('Tracked to Dynamics 365');
  });

  it('adding the tracked category keeps the user categories and never doubles it', () => {
    expect(withTrackedCategory(['Red'])).toEqual(['Red', trackedCategory]);
    expect(withTrackedCategory(['TRACKED TO DYNAMICS 365'])).toEqual(['TRACKED TO DYNAMICS 365']);
    // An item without categories gets only the tracked one.
    expect(withTrackedCategory(undefined)).toEqual([trackedCategory]);
    expect(withTrackedCategory(null)).toEqual([trackedCategory]);
  });
});
