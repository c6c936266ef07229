import { describe, expect, it } from 'vitest';
import { configErrorOf } from '../../test/helpers/config-error.js';
import { parseConfig } from './load.js';

const file = '/x/mailjobs.yaml';
const quarantine = (yaml: string) => parseConfig(`quarantine: { ${yaml} }\n`, file, {}).quarantine;
const errorOf = (yaml: string): string => configErrorOf(`quarantine: { ${yaml} }\n`, file, {});

describe('quarantine config', () => {
  it('fills every default: off, mailbox quarantine, one mail each to postmaster, 30 days', () => {
    expect(parseConfig('{}', file, {}).quarantine).toEqual({
      enabled: false,
      mailbox: 'quarantine',
      notify: 'each',
      notifyTo: 'postmaster',
      digestCron: '0 8 * * *',
      retentionDays: 30,
      recipientDigest: false,
    });
  });

  it('takes a digest with its cron, another mailbox and retention', () => {
    expect(
      quarantine(
        'enabled: true, mailbox: spambox, notify: digest, digestCron: "30 7 * * 1-5", retentionDays: 7',
      ),
    ).toMatchObject({
      enabled: true,
      mailbox: 'spambox',
      notify: 'digest',
      digestCron: '30 7 * * 1-5',
      retentionDays: 7,
    });
  });

  it('refuses recipientDigest: true in one line saying it is not supported yet', () => {
    const msg = errorOf('recipientDigest: true');
    expect(msg).toBe(
      `${file}: quarantine.recipientDigest: not supported yet: set it to false (only the postmaster is notified)`,
    );
  });

  it('names the field of a bad value', () => {
    expect(errorOf('notify: always')).toMatch(/^\/x\/mailjobs\.yaml: quarantine\.notify: /);
    expect(errorOf('digestCron: "every day"')).toContain('quarantine.digestCron: invalid cron expression');
    expect(errorOf('mailbox: "a*b"')).toContain('quarantine.mailbox: a user name without "*"');
    expect(errorOf('retentionDays: 0')).toContain('quarantine.retentionDays');
    expect(errorOf('notifyTo: "<pm@x>"')).toContain('quarantine.notifyTo: must be one address');
    expect(errorOf('bogus: 1')).toContain('quarantine');
  });
});
