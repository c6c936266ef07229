/** `npm run schemas`: writes schemas/<job>.json from the zod contracts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas, renderSchema } from './json-schemas.js';

const dir = join(process.cwd(), 'schemas');
mkdirSync(dir, { recursive: true });
for (const [file, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(join(dir, file), renderSchema(schema));
  process.stdout.write(`wrote schemas/${file}\n`);
}
