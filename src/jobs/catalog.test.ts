import { describe, expect, it } from 'vitest';
import { catalog, contractOf, findJob, loadJob, loadJobs } from './catalog.js';
import { registry } from './registry.js';

describe('job catalog', () => {
  it('lists the registry in its order, each entry by its contract, loading the same definition', async () => {
    expect(catalog.map((e) => e.name)).toEqual(registry.map((j) => j.name));
    for (const [i, entry] of catalog.entries()) {
      const def = await entry.load();
      expect(def).toBe(registry[i]);
      expect(entry.contract.schema).toBe(def.schema);
      expect(contractOf(entry)).toBe(entry.contract);
      expect(contractOf(def)).toBe(def);
      expect(await loadJob(def)).toBe(def);
    }
  });

  it('loads only the jobs named, and names the known ones for an unknown one', async () => {
    expect(await loadJobs(catalog, ['imapsync'])).toEqual([registry.find((j) => j.name === 'imapsync')]);
    expect(() => findJob(catalog, 'nope')).toThrow(/unknown job "nope"; known jobs: getmail, imapsync/);
  });
});
