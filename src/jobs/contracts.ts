/**
 * The payload contract of every job: what other services may enqueue. Kept apart from the
 * processors so `mailjobs/client` and the JSON Schemas load no protocol code.
 */
import type { JobContract } from './types.js';

export const contracts = {} satisfies Record<string, JobContract>;

export type Contracts = typeof contracts;
export type JobName = keyof Contracts;
