import { describe, expect, it } from 'vitest';
import { groupMembers } from './unix-group.js';

describe('groupMembers (getent)', () => {
  it('is undefined for a group that does not exist', async () => {
    expect(await groupMembers('mailjobs-no-such-group')).toBeUndefined();
  });

  it('lists the members of an existing group (possibly none)', async () => {
    const members = await groupMembers('root');
    expect(Array.isArray(members)).toBe(true);
  });
});
