/** `mailjobs status`: queue counts, recent failures, schedules with their next run. */
import { displayUrl } from '../core/redis.js';
import { openRuntime, redisWarnings } from '../runtime.js';
import type { StatusRow } from '../jobs/types.js';
import type { CliArgs, CliDeps } from './io.js';

export interface QueueStatus {
  queue: string;
  targets: StatusRow[];
  counts: Record<string, number>;
  failed: { jobId: string; reason: string; finishedAt?: string }[];
  schedules: { id: string; every?: string; cron?: string; next?: string }[];
}

export async function statusCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: deps.jobs,
    log: deps.log,
    startPrivateRedis: false,
  });
  try {
    const iso = (ms?: number) => (ms ? new Date(ms).toISOString() : undefined);
    const queues: QueueStatus[] = [];
    for (const def of rt.jobs) {
      const q = rt.queues.get(def.name)!;
      const [counts, failed, schedulers, targets] = await Promise.all([
        q.getJobCounts(),
        q.getFailed(0, 4),
        q.getJobSchedulers(0, -1, true),
        def.status?.({ config: rt.config, redis: rt.redis, key: rt.key }) ?? [],
      ]);
      queues.push({
        queue: def.name,
        targets,
        counts,
        failed: failed.map((j) => ({
          jobId: j.id ?? '',
          reason: j.failedReason,
          finishedAt: iso(j.finishedOn),
        })),
        schedules: schedulers.map((s) => ({
          id: s.key,
          ...(s.every ? { every: `${Number(s.every) / 1000}s` } : {}),
          ...(s.pattern ? { cron: s.pattern } : {}),
          next: iso(s.next),
        })),
      });
    }
    const warnings = await redisWarnings(rt);
    if (args.json) {
      deps.out(
        JSON.stringify(
          { redis: displayUrl(rt.redisSettings.url), prefix: rt.config.redis.prefix, warnings, queues },
          null,
          2,
        ),
      );
      return 0;
    }
    deps.out(`redis ${displayUrl(rt.redisSettings.url)}  prefix ${rt.config.redis.prefix}`);
    for (const w of warnings) deps.out(`warning: ${w}`);
    if (queues.length === 0) deps.out('no queues: no job is registered');
    for (const q of queues) {
      const c = q.counts;
      deps.out(
        `\n${q.queue}: waiting ${c.waiting ?? 0}  active ${c.active ?? 0}  delayed ${c.delayed ?? 0}  completed ${c.completed ?? 0}  failed ${c.failed ?? 0}`,
      );
      for (const t of q.targets) deps.out(`  ${t.alert ? '!' : ' '} ${t.target}  ${t.summary}`);
      for (const s of q.schedules)
        deps.out(`  schedule ${s.id}  ${s.cron ?? `every ${s.every}`}  next ${s.next ?? '-'}`);
      for (const f of q.failed) deps.out(`  failed ${f.jobId} at ${f.finishedAt ?? '?'}: ${f.reason}`);
    }
    return 0;
  } finally {
    await rt.close();
  }
}
