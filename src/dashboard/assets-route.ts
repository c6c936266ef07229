/**
 * Serves src/dashboard/assets/ (copied to dist/dashboard/assets/ by `npm run build`) at
 * `/assets/<name>`: our CSS and plain ES-module scripts, nothing from a CDN. The folder is read
 * once at registration (files with a known extension only); a name not in it is a 404.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The assets folder beside this module, under src/ (tsx, vitest) and dist/ alike. */
const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

/** name → content type and body of every servable file of the assets folder. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const entry of readdirSync(ASSETS_DIR, { withFileTypes: true })) {
    const type = entry.isFile() ? TYPES[extname(entry.name).slice(1)] : undefined;
    if (type) assets.set(entry.name, { type, body: readFileSync(`${ASSETS_DIR}${entry.name}`) });
  }
  return assets;
}

export function registerAssets(app: FastifyInstance): void {
  const assets = loadAssets();
  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    { config: { access: 'public' } },
    async (req, reply) => {
      const asset = assets.get(req.params.name);
      if (!asset) return reply.code(404).send({ error: 'not found' });
      return reply.header('content-type', asset.type).header('cache-control', 'no-cache').send(asset.body);
    },
  );
}
