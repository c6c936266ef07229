/**
 * The payload contract of every job: what other services may enqueue. Kept apart from the
 * processors so `mailjobs/client` and the JSON Schemas load no protocol code.
 */
import { getmailContract } from './getmail/schema.js';
import type { JobContract } from './types.js';

export const contracts = {
  getmail: getmailContract,
} satisfies Record<string, JobContract>;

export type Contracts = typeof contracts;
export type JobName = keyof Contracts;
