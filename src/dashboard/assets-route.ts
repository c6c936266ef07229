/**
 * Serves src/dashboard/assets/ (copied to dist/dashboard/assets/ by `npm run build`) at
 * `/assets/<name>`: our CSS and plain ES-module scripts, nothing from a CDN. Only flat file
 * names with a known extension are served, so no path can leave the folder.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The assets folder beside this module, under src/ (tsx, vitest) and dist/ alike. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

export function registerAssets(app: FastifyInstance): void {
  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    { config: { access: 'public' } },
    async (req, reply) => {
      const m = /^[a-z0-9][a-z0-9._-]*\.([a-z]+)$/.exec(req.params.name);
      const type = m ? TYPES[m[1]!] : undefined;
      if (!m || !type || req.params.name.includes('..')) return reply.code(404).send({ error: 'not found' });
      try {
        const body = await readFile(`${ASSETS_DIR}${req.params.name}`);
        return reply.header('content-type', type).header('cache-control', 'no-cache').send(body);
      } catch {
        return reply.code(404).send({ error: 'not found' });
      }
    },
  );
}
