/**
 * Junk-job defaults shared by the config schema and `mailjobs-learn`. No imports: that program
 * runs once per message, and every import costs start-up time.
 */

/** Where Junk moves are spooled until a worker queues them (writable by Dovecot's mail user). */
export const DEFAULT_SPOOL_DIR = '/var/spool/mailjobs/learn';

/** Larger messages are not learned: Bayes needs text, and every queued message sits in Redis. */
export const DEFAULT_MAX_MESSAGE_KILOBYTES = 1024;

/** Hard ceiling of `bayesLearn.maxMessageKilobytes` and of a payload's message (Redis memory). */
export const MAX_MESSAGE_KILOBYTES_LIMIT = 32 * 1024;

/** The system group whose members may train, when it exists (`getent group`). */
export const DEFAULT_TRAINERS_GROUP = 'spamtrainers';

/** Where the config lives when `--config` and `MAILJOBS_CONFIG` are not given. */
export const DEFAULT_LEARN_CONFIG = '/etc/mailjobs/mailjobs.yaml';
