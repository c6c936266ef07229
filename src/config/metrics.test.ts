import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-metrics-config-'));
const file = join(dir, 'mailjobs.yaml');
const metrics = (yaml: string) => parseConfig(`metrics: { ${yaml} }\n`, file, {}).metrics;
writeFileSync(join(dir, 'token'), 'a-long-enough-token-0123456789\n');
writeFileSync(join(dir, 'short'), 'abc\n');

describe('metrics config', () => {
  it('nothing by default: /metrics for logged-in users only, no listener of its own', () => {
    expect(metrics('')).toEqual({ bind: '127.0.0.1' });
  });

  it('tokenFile is read relative to the config file, without its newline, and masked', () => {
    const m = metrics('tokenFile: token, port: 9464');
    expect(m.tokenFile?.reveal()).toBe('a-long-enough-token-0123456789');
    expect(JSON.stringify(m)).not.toContain('0123456789');
    expect(m.port).toBe(9464);
  });

  it('refuses a listener without a token, a short token and a missing file, naming the field', () => {
    expect(() => metrics('port: 9464')).toThrow(/metrics\.tokenFile: required with metrics\.port/);
    expect(() => metrics('tokenFile: short')).toThrow(
      /metrics\.tokenFile: the token must be at least 16 characters/,
    );
    expect(() => metrics('tokenFile: missing')).toThrow(
      /metrics\.tokenFile: cannot read secret file .*ENOENT/,
    );
  });
});
