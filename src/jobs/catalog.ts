/**
 * Every job by its contract, its definition (processor, schedules, status, background task)
 * loaded on demand with a dynamic import. A command that runs one job loads that job's modules
 * only, `--help` none; long-running roles load them all. `registry.ts` is the same list loaded
 * eagerly, for code that wants the definitions at once.
 */
import { PermanentJobError } from '../core/errors.js';
import { type Contracts, type JobName, contracts } from './contracts.js';
import type { AnyJob, JobContract, JobDefinition } from './types.js';

/** A job known by its contract; `load()` imports its definition (once). */
export interface JobEntry<N extends JobName = JobName> {
  readonly name: N;
  readonly contract: Contracts[N];
  load(): Promise<AnyJob>;
}

/** A loaded definition or an entry to load it from: what the CLI accepts. */
export type JobSource = AnyJob | JobEntry;

/** The definition module of each job; its schema must be its contract's. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loaders = { [N in JobName]: () => Promise<JobDefinition<Contracts[N]['schema'], any>> };

const loaders: Loaders = {
  getmail: async () => (await import('./getmail/index.js')).getmailJob,
  imapsync: async () => (await import('./imapsync/index.js')).imapsyncJob,
  'spam-expunge': async () => (await import('./spam-expunge/index.js')).spamExpungeJob,
  'bayes-learn': async () => (await import('./bayes-learn/index.js')).bayesLearnJob,
  'bayes-stats': async () => (await import('./bayes-stats/index.js')).bayesStatsJob,
  'bayes-bootstrap': async () => (await import('./bayes-bootstrap/index.js')).bayesBootstrapJob,
  freshclam: async () => (await import('./freshclam/index.js')).freshclamJob,
  'queue-monitor': async () => (await import('./queue-monitor/index.js')).queueMonitorJob,
  alerts: async () => (await import('./alerts/index.js')).alertsJob,
  quarantine: async () => (await import('./quarantine/index.js')).quarantineJob,
};

function entry<N extends JobName>(name: N): JobEntry<N> {
  let loading: Promise<AnyJob> | undefined;
  return {
    name,
    contract: contracts[name],
    load: () =>
      (loading ??= loaders[name]().then((def) => {
        if (def.name !== name) throw new Error(`job module of "${name}" defines "${def.name}"`);
        return def as AnyJob;
      })),
  };
}

/** Every job, in the registry's order. */
export const catalog: readonly JobEntry[] = (Object.keys(contracts) as JobName[]).map((n) => entry(n));

/** The contract of a job or entry. */
export function contractOf(job: JobSource): JobContract {
  return 'load' in job ? job.contract : job;
}

/** The definition of a job or entry, loading it when needed. */
export async function loadJob(job: JobSource): Promise<AnyJob> {
  return 'load' in job ? job.load() : job;
}

/** The definitions of `jobs` (all of them, or those named), loaded side by side, in order. */
export async function loadJobs(jobs: readonly JobSource[], names?: readonly string[]): Promise<AnyJob[]> {
  const wanted = names ? names.map((n) => findJob(jobs, n)) : jobs;
  return Promise.all(wanted.map(loadJob));
}

/** The job or entry named `name`; an unknown name fails loudly, listing the known ones. */
export function findJob<J extends { readonly name: string }>(jobs: readonly J[], name: string): J {
  const def = jobs.find((j) => j.name === name);
  if (!def) {
    throw new PermanentJobError(
      `unknown job "${name}"; known jobs: ${jobs.map((j) => j.name).join(', ') || '(none)'}`,
      'EUNKNOWNJOB',
    );
  }
  return def;
}
