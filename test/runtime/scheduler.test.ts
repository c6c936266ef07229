/**
 * Scheduler reconciliation against a private Redis: add, change, remove, and two
 * schedulers at once creating nothing twice.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { registry } from '../../src/jobs/registry.js';
import type { AnyJob } from '../../src/jobs/types.js';
import { desiredSchedules, stableOffset } from '../../src/scheduler/desired.js';
import { reconcileSchedules } from '../../src/scheduler/reconcile.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { configFor, freshPrefix, silentLog } from '../helpers/runtime.js';
import { testJobs } from '../helpers/test-jobs.js';

const srv = usePrivateRedis();

const connectors = (list: { id: string; interval: number }[]) =>
  `connectors:\n${list
    .map(
      (c) =>
        `  - { id: ${c.id}, protocol: imap, host: h, username: u, password: p, deliverTo: u, intervalMinutes: ${c.interval} }`,
    )
    .join('\n')}\n`;

async function reconcileWith(prefix: string, yaml: string, jobs: readonly AnyJob[] = testJobs) {
  const config = configFor(srv.url, prefix, yaml);
  const queues = openQueues(jobs, srv.url, prefix);
  try {
    const report = await reconcileSchedules(desiredSchedules(jobs, config), {
      queues,
      jobs,
      redis: srv.redis,
      prefix,
      log: silentLog,
    });
    const schedulers = (await queues.get('echo')?.getJobSchedulers(0, -1, true)) ?? [];
    const delayed = (await queues.get('echo')?.getJobCounts('delayed', 'waiting')) ?? {};
    return { report, schedulers, delayed };
  } finally {
    await closeQueues(queues);
  }
}

describe('scheduler', () => {
  it('adds, leaves unchanged, changes and removes schedules as the config changes', async () => {
    const prefix = freshPrefix();
    const a = await reconcileWith(
      prefix,
      connectors([
        { id: 'a@x', interval: 30 },
        { id: 'b@x', interval: 30 },
      ]),
    );
    expect(a.report.added.sort()).toEqual(['config:echo', 'config:echo:a@x', 'config:echo:b@x']);
    expect(a.schedulers.map((s) => s.key).sort()).toEqual([
      'config:echo',
      'config:echo:a@x',
      'config:echo:b@x',
    ]);
    const nightly = a.schedulers.find((s) => s.key === 'config:echo')!;
    expect(nightly.pattern).toBe('0 3 * * *');
    expect(Number(a.schedulers.find((s) => s.key === 'config:echo:a@x')!.every)).toBe(30 * 60_000);

    const same = await reconcileWith(
      prefix,
      connectors([
        { id: 'a@x', interval: 30 },
        { id: 'b@x', interval: 30 },
      ]),
    );
    expect(same.report).toEqual({ added: [], changed: [], removed: [], unchanged: 3 });

    const changed = await reconcileWith(
      prefix,
      connectors([{ id: 'a@x', interval: 10 }]) + 'schedules:\n  echo: { enabled: false }\n',
    );
    expect(changed.report.changed).toEqual(['config:echo:a@x']);
    expect(changed.report.removed.sort()).toEqual(['config:echo', 'config:echo:b@x']);
    expect(changed.schedulers.map((s) => [s.key, Number(s.every)])).toEqual([
      ['config:echo:a@x', 10 * 60_000],
    ]);
  });

  it("reports no change when nothing changed, the jobs' own default schedules included (empty payloads)", async () => {
    const prefix = freshPrefix();
    const first = await reconcileWith(prefix, '', registry);
    expect(first.report.added.sort()).toEqual([
      'config:alerts',
      'config:bayes-stats',
      'config:freshclam',
      'config:quarantine',
      'config:queue-monitor',
      'config:spam-expunge',
    ]);
    const again = await reconcileWith(prefix, '', registry);
    expect(again.report).toEqual({ added: [], changed: [], removed: [], unchanged: 6 });
  });

  it('two schedulers reconciling at once create each schedule and each first job once', async () => {
    const prefix = freshPrefix();
    const yaml = connectors(Array.from({ length: 20 }, (_, i) => ({ id: `u${i}@x`, interval: 30 })));
    const [one, two] = await Promise.all([reconcileWith(prefix, yaml), reconcileWith(prefix, yaml)]);
    expect(one.report.added.length + two.report.added.length).toBe(21);
    expect(one.report.unchanged + two.report.unchanged).toBe(21);
    const after = await reconcileWith(prefix, yaml);
    expect(after.schedulers).toHaveLength(21);
    // one pending job per schedule, and one immediate run per new target: not two of either
    expect(after.delayed.delayed).toBe(21);
    expect(after.delayed.waiting).toBe(20);
  });

  it('names an unknown job in schedules:', () => {
    const config = configFor(srv.url, freshPrefix(), 'schedules:\n  nope: { cron: "0 1 * * *" }\n');
    expect(() => desiredSchedules(testJobs, config)).toThrow(ConfigError);
    expect(() => desiredSchedules(testJobs, config)).toThrow('schedules.nope: unknown job; known jobs: echo');
  });

  it('spreads targets on the same interval with a stable offset', () => {
    const period = 30 * 60_000;
    const offsets = Array.from({ length: 500 }, (_, i) => stableOffset(`user${i}@example.com`, period));
    expect(stableOffset('user1@example.com', period)).toBe(offsets[1]);
    expect(Math.min(...offsets)).toBeGreaterThan(0);
    expect(Math.max(...offsets)).toBeLessThan(period);
    expect(new Set(offsets).size).toBeGreaterThan(300); // 500 targets over 1800 one-second slots
  });
});
