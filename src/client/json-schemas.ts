/**
 * JSON Schemas of every job payload, generated from the zod contracts, for producers in
 * other languages. `npm run schemas` writes them to schemas/; a test fails when stale.
 */
import { z } from 'zod';
import { contracts } from '../jobs/contracts.js';
import type { JobContract } from '../jobs/types.js';

/** `{ "<job>.json": schema }` for every job. */
export function jsonSchemas(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const def of Object.values(contracts as Record<string, JobContract>)) {
    out[`${def.name}.json`] = {
      $id: `mailjobs/${def.name}.json`,
      title: `mailjobs ${def.name} payload`,
      description: def.summary,
      ...z.toJSONSchema(def.schema, { io: 'input', unrepresentable: 'any' }),
    };
  }
  return out;
}

export function renderSchema(schema: object): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
