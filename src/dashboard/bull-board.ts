/**
 * Bull Board at `/queues`, one board entry per queue of the runtime. Job data, return values
 * and progress go through `redact`. Access (session, admin role, same origin for its mutating
 * calls) is the gate's (auth.ts), which also refuses Bull Board's writes of job data.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { assetUrl } from './layout.js';
import { redact } from './redact.js';

export const BULL_BOARD_PATH = '/queues';

/**
 * Bull Board's "add job" (and "duplicate") and "update data" store what they are given as job
 * data: no payload validation and no sealing of passwords, unlike `enqueue` and the pages.
 * Bull Board 9.10 has no option to turn off just these, so the gate refuses their routes.
 */
const JOB_DATA_WRITES = new Set([
  `POST ${BULL_BOARD_PATH}/api/queues/:queueName/add`,
  `PATCH ${BULL_BOARD_PATH}/api/queues/:queueName/:jobId/update-data`,
]);

export function writesJobData(method: string, route: string): boolean {
  return JOB_DATA_WRITES.has(`${method} ${route}`);
}

export async function registerBullBoard(app: FastifyInstance, rt: Runtime): Promise<void> {
  const adapters = [...rt.queues.entries()].map(([name, queue]) => {
    const def = rt.jobs.find((j) => j.name === name);
    const adapter = new BullMQAdapter(queue, { description: def?.summary ?? '' });
    adapter.setFormatter('data', (data: unknown) => redact(data));
    adapter.setFormatter('returnValue', (value: unknown) => redact(value));
    adapter.setFormatter('progress', (value: unknown) => redact(value));
    return adapter;
  });
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'mailjobs',
        hideDocsLink: true,
        miscLinks: [{ text: 'Admin pages', url: '/' }],
        favIcon: { default: assetUrl('favicon.svg'), alternative: assetUrl('favicon.svg') },
      },
    },
  });
  // (Added before the plugin, so its routes inherit it.) Its page links Google Fonts: this server
  // may have no internet, and the CSP refuses it anyway. Its only link back (`miscLinks`) hides
  // in the user menu, so the page gets a visible one too.
  app.addHook('onSend', async (req, reply, payload) => {
    const route = req.routeOptions.url ?? '';
    if (!route.startsWith(BULL_BOARD_PATH) || typeof payload !== 'string') return payload;
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload;
    return payload
      .replace(/<link[^>]+fonts\.(googleapis|gstatic)\.com[^>]*>/g, '')
      .replace('</head>', `<link rel="stylesheet" href="${assetUrl('bull-board.css')}"></head>`)
      .replace(/<body[^>]*>/, (body) => `${body}<a id="mailjobs-home" href="/">← Admin pages</a>`);
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
