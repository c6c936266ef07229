/**
 * A Redis that a test can stop and start again on the same port, to see what happens to work
 * in flight while Redis is away (test/fixtures/redis.ts picks a new port on every start).
 */
import path from 'node:path';
import { freePort } from '../fixtures/ports.js';
import { redisCommand } from '../fixtures/redis.js';
import {
  makeTempDir,
  removeTempDir,
  requireBinary,
  startDaemon,
  type RunningDaemon,
} from '../fixtures/service.js';

export interface RestartableRedis {
  url: string;
  /** Stops the server; clients see connection refused until `start()`. */
  down(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRestartableRedis(): Promise<RestartableRedis> {
  const binary = requireBinary('redis-server');
  const dir = await makeTempDir('redis-restart');
  const port = await freePort();
  let daemon: RunningDaemon | undefined;
  const up = async () => {
    daemon = await startDaemon({
      name: 'redis-server',
      command: binary,
      // prettier-ignore
      args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
        '--logfile', path.join(dir, 'redis.log')],
      foreground: true,
      logFile: path.join(dir, 'redis.log'),
      ready: async () => (await redisCommand(port, 'PING').catch(() => '')) === '+PONG',
    });
  };
  await up();
  return {
    url: `redis://127.0.0.1:${port}`,
    up,
    async down() {
      await daemon?.stop();
      daemon = undefined;
    },
    async stop() {
      await daemon?.stop();
      await removeTempDir(dir);
    },
  };
}
