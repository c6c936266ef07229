import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contracts } from '../jobs/contracts.js';
import { jsonSchemas, renderSchema } from './json-schemas.js';

const dir = join(process.cwd(), 'schemas');

describe('committed JSON Schemas', () => {
  it('match the zod contracts (run `npm run schemas` after changing a payload)', () => {
    const expected = jsonSchemas();
    expect(Object.keys(expected).sort()).toEqual(
      Object.keys(contracts)
        .map((n) => `${n}.json`)
        .sort(),
    );
    const committed = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .sort()
      : [];
    expect(committed).toEqual(Object.keys(expected).sort());
    for (const [file, schema] of Object.entries(expected)) {
      expect(readFileSync(join(dir, file), 'utf8'), `schemas/${file} is stale`).toBe(renderSchema(schema));
    }
  });
});
