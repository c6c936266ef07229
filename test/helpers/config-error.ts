/**
 * What an admin reads when a config is refused: the ConfigError's one line (file, field path,
 * reason). Fails the test when the config is accepted or refused with another error.
 */
import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';

export function configErrorOf(text: string, file: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}
