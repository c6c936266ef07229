import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';

const file = '/etc/mailjobs/mailjobs.yaml';
const dashboard = (yaml: string) => parseConfig(`dashboard: { ${yaml} }\n`, file, {}).dashboard;

describe('dashboard config', () => {
  it("trustProxy: the proxies' addresses or CIDRs; true is refused, naming the field and the fix", () => {
    expect(dashboard('').trustProxy).toBe(false);
    expect(dashboard('trustProxy: [127.0.0.1, "10.0.0.0/8", "::1", loopback]').trustProxy).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
      'loopback',
    ]);
    expect(() => dashboard('trustProxy: true')).toThrow(
      /dashboard\.trustProxy: true would believe the X-Forwarded-For a client sends; list the reverse proxies' addresses instead, e\.g\. \[127\.0\.0\.1\]/,
    );
    expect(() => dashboard('trustProxy: ["10.0.0.0/33"]')).toThrow(
      /dashboard\.trustProxy\[0\]: not an IP address/,
    );
    expect(() => dashboard('trustProxy: [proxy.example.org]')).toThrow(/dashboard\.trustProxy\[0\]/);
  });

  it('allowedHosts: host names without a port; none by default', () => {
    expect(dashboard('').allowedHosts).toEqual([]);
    expect(dashboard('allowedHosts: [mail.example.org]').allowedHosts).toEqual(['mail.example.org']);
    expect(() => dashboard('allowedHosts: ["mail.example.org:8080"]')).toThrow(
      /dashboard\.allowedHosts\[0\]: a host name without port/,
    );
  });

  it('loginLimits: per address, and the longest delay per user name', () => {
    expect(dashboard('').loginLimits).toEqual({ perAddress: 20, windowMinutes: 15, maxUserDelaySeconds: 30 });
  });
});
