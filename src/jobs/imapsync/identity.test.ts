import { describe, expect, it } from 'vitest';
import { fieldsIdentity, headerIdentity } from './identity.js';

const h = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'));

describe('message identity (imapsync rule)', () => {
  const base =
    'Message-ID: <a@b>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nReceived: from x by y; Mon, 1 Jan 2024\n\n';

  it('is the same when a server refolds or respaces the header', () => {
    const refolded =
      'Message-ID:   <a@b>\nDate: Mon, 1 Jan 2024\n  10:00:00 +0000\nReceived: from x\n\tby y; Mon, 1 Jan 2024\n\n';
    expect(fieldsIdentity(h(refolded))).toBe(fieldsIdentity(h(base)));
  });

  it('differs by Message-ID, Date or Received', () => {
    const id = fieldsIdentity(h(base));
    expect(fieldsIdentity(h(base.replace('<a@b>', '<c@b>')))).not.toBe(id);
    expect(fieldsIdentity(h(base.replace('10:00:00', '10:00:01')))).not.toBe(id);
    expect(fieldsIdentity(h(`${base.trimEnd()}\nReceived: from z by x; Sun\n\n`))).not.toBe(id);
  });

  it('needs a Message-ID; without one the whole header decides', () => {
    expect(fieldsIdentity(h('Date: Mon, 1 Jan 2024\n\n'))).toBeUndefined();
    const a = headerIdentity(h('From: a\nSubject: one\n\n'));
    expect(headerIdentity(h('From:  a\nSubject: one\n\n'))).toBe(a);
    expect(headerIdentity(h('From: a\nSubject: two\n\n'))).not.toBe(a);
    expect(a.startsWith('h')).toBe(true);
    expect(fieldsIdentity(h(base))!.startsWith('m')).toBe(true);
  });
});
