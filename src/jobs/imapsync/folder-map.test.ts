import { describe, expect, it } from 'vitest';
import { MAX_MATCHED_NAME } from '../../config/regex-cost.js';
import type { ListedFolder, NamespaceInfo } from '../../mail/imap-sync-list.js';
import { mapFolders } from './folder-map.js';

const folder = (path: string, delimiter: string, ...flags: string[]): ListedFolder => ({
  path,
  delimiter,
  flags: new Set(flags),
});
const dovecot: NamespaceInfo = { prefix: '', delimiter: '/', otherPrefixes: [] };
const dovecotFolders = [
  folder('INBOX', '/'),
  folder('Sent', '/', '\\Sent'),
  folder('Drafts', '/', '\\Drafts'),
  folder('Junk', '/', '\\Junk'),
  folder('Trash', '/', '\\Trash'),
];
const rules = { exclude: [] as string[], otherNamespaces: false, trash: true };
const map = (
  source: ListedFolder[],
  ns: NamespaceInfo,
  extra: Partial<typeof rules> & { subfolder?: string; include?: string[] } = {},
) => mapFolders(source, ns, dovecotFolders, dovecot, { ...rules, ...extra });
const pairs = (r: ReturnType<typeof map>) =>
  Object.fromEntries(r.mappings.map((m) => [m.source, m.destination]));

describe('mapFolders', () => {
  const courier: NamespaceInfo = { prefix: 'INBOX.', delimiter: '.', otherPrefixes: ['#shared.', '#users.'] };
  const courierFolders = [
    folder('INBOX', '.', '\\HasChildren'),
    folder('INBOX.Sent Items', '.'),
    folder('INBOX.Gesendete Objekte', '.'),
    folder('INBOX.Deleted Items', '.'),
    folder('INBOX.Junk E-mail', '.'),
    folder('INBOX.Archiv', '.'),
    folder('INBOX.Projects', '.', '\\Noselect'),
    folder('INBOX.Projects.2024', '.'),
    folder('INBOX.Projects.Sent', '.'),
    folder('INBOX.a/b', '.'),
    folder('INBOX.Überprüfung', '.'),
    folder('#shared.team', '.'),
  ];

  it('strips the source prefix, translates the separator and maps special uses by name', () => {
    const r = map(courierFolders, courier);
    expect(pairs(r)).toEqual({
      INBOX: 'INBOX',
      'INBOX.Sent Items': 'Sent',
      // a second Sent candidate keeps its own name instead of merging into Sent
      'INBOX.Gesendete Objekte': 'Gesendete Objekte',
      'INBOX.Deleted Items': 'Trash',
      'INBOX.Junk E-mail': 'Junk',
      'INBOX.Archiv': 'Archive',
      'INBOX.Projects.2024': 'Projects/2024',
      // only top-level names are special
      'INBOX.Projects.Sent': 'Projects/Sent',
      // the destination separator inside a name stays one level
      'INBOX.a/b': 'a_b',
      'INBOX.Überprüfung': 'Überprüfung',
    });
    expect(r.excluded).toEqual([
      { source: 'INBOX.Projects', reason: 'not selectable' },
      { source: '#shared.team', reason: 'other namespace' },
    ]);
  });

  it('prefers the folder the server marks \\Sent over a known name', () => {
    const r = map([folder('Sent Items', '/'), folder('Gesendet', '/', '\\Sent')], dovecot);
    expect(pairs(r)).toEqual({ Gesendet: 'Sent', 'Sent Items': 'Sent Items' });
  });

  it('adds the destination prefix and maps to its own special folders', () => {
    const courierDest = [folder('INBOX', '.'), folder('INBOX.Gesendet', '.', '\\Sent')];
    const r = mapFolders(
      [
        folder('INBOX', '/'),
        folder('Sent', '/', '\\Sent'),
        folder('a/b.c', '/'),
        folder('Trash', '/', '\\Trash'),
      ],
      dovecot,
      courierDest,
      courier,
      rules,
    );
    expect(pairs(r)).toEqual({
      INBOX: 'INBOX',
      Sent: 'INBOX.Gesendet',
      'a/b.c': 'INBOX.a.b_c',
      Trash: 'INBOX.Trash',
    });
  });

  it('puts everything under a subfolder, INBOX as the subfolder itself, names unchanged', () => {
    const r = map(
      [folder('INBOX', '.'), folder('Sent Items', '.'), folder('x.y', '.')],
      { ...dovecot, delimiter: '.' },
      {
        subfolder: 'Imported/Old',
      },
    );
    expect(pairs(r)).toEqual({
      INBOX: 'Imported/Old',
      'Sent Items': 'Imported/Old/Sent Items',
      'x.y': 'Imported/Old/x/y',
    });
    expect(r.mappings.every((m) => m.specialUse === undefined)).toBe(true);
  });

  it('applies exclude, include, Trash off and other namespaces', () => {
    const src = [
      folder('INBOX', '/'),
      folder('Trash', '/', '\\Trash'),
      folder('Old/2019', '/'),
      folder('Old/2020', '/'),
      folder('Shared/x', '/'),
    ];
    const ns = { ...dovecot, otherPrefixes: ['Shared/'] };
    expect(pairs(map(src, ns, { exclude: ['^Old/2019$'], trash: false }))).toEqual({
      INBOX: 'INBOX',
      'Old/2020': 'Old/2020',
    });
    expect(pairs(map(src, ns, { include: ['^Old/'] }))).toEqual({
      'Old/2019': 'Old/2019',
      'Old/2020': 'Old/2020',
    });
    expect(pairs(map(src, ns, { otherNamespaces: true }))['Shared/x']).toBe('Shared/x');
  });

  it('reports a second folder that would land on the same destination', () => {
    const r = map([folder('a_b', '.'), folder('a/b', '.')], { ...dovecot, delimiter: '.' });
    expect(r.excluded).toEqual([{ source: 'a/b', reason: 'name collision' }]);
  });

  it('leaves out a name too long to match the patterns at a bounded cost, only when there are patterns', () => {
    const long = `Archive/${'a'.repeat(MAX_MATCHED_NAME)}`;
    const src = [folder('INBOX', '/'), folder(long, '/')];
    expect(map(src, dovecot, { exclude: ['^Old'] }).excluded).toEqual([
      { source: long, reason: 'name too long' },
    ]);
    expect(map(src, dovecot, { include: ['^Archive/'] }).excluded).toEqual([
      { source: 'INBOX', reason: 'not included' },
      { source: long, reason: 'name too long' },
    ]);
    expect(map(src, dovecot).excluded).toEqual([]);
  });
});

describe('mapFolders: folder control', () => {
  const courier: NamespaceInfo = { prefix: 'INBOX.', delimiter: '.', otherPrefixes: [] };
  const src = [
    folder('INBOX', '.'),
    folder('INBOX.Entwürfe', '.'),
    folder('INBOX.Kunden', '.'),
    folder('INBOX.Projekte.2019', '.'),
    folder('INBOX.Sent Items', '.'),
  ];
  const control = (extra: Record<string, unknown>) =>
    mapFolders(src, courier, dovecotFolders, dovecot, { ...rules, ...extra });

  it('automap off keeps every name; on, each mapping says which use chose it', () => {
    const off = control({ automap: false });
    expect(off.mappings.find((m) => m.source === 'INBOX.Entwürfe')).toEqual({
      source: 'INBOX.Entwürfe',
      destination: 'Entwürfe',
    });
    const on = control({});
    expect(on.mappings.find((m) => m.source === 'INBOX.Entwürfe')).toMatchObject({
      destination: 'Drafts',
      by: 'automap \\Drafts',
    });
  });

  it('names (by source levels joined by "/") override automap; rewrites apply to the result', () => {
    const r = control({
      folderMap: {
        names: { Kunden: 'Clients/Current', 'Sent Items': 'Old/Sent' },
        rewrite: [
          { match: '^Projekte/(\\d+)$', replace: 'Archive/Projects $1' },
          { match: '^Old/(.*)$', replace: 'Legacy/$1' },
          { match: '^INBOX$', replace: '' }, // an empty result is ignored
        ],
      },
    });
    const by = Object.fromEntries(r.mappings.map((m) => [m.source, [m.destination, m.by]]));
    expect(by).toMatchObject({
      INBOX: ['INBOX', undefined],
      'INBOX.Kunden': ['Clients/Current', 'folderMap'],
      'INBOX.Projekte.2019': ['Archive/Projects 2019', 'rewrite ^Projekte/(\\d+)$'],
      'INBOX.Sent Items': ['Legacy/Sent', 'rewrite ^Old/(.*)$'],
    });
  });

  it("skips Gmail's Important and Starred views when asked, by attribute or by name", () => {
    const gmail: NamespaceInfo = { prefix: '', delimiter: '/', otherPrefixes: [] };
    const tree = [
      folder('INBOX', '/'),
      folder('[Gmail]', '/', '\\Noselect'),
      folder('[Gmail]/All Mail', '/', '\\All'),
      folder('[Gmail]/Important', '/', '\\Important'),
      folder('[Gmail]/Starred', '/'),
      folder('Label', '/'),
    ];
    const r = mapFolders(tree, gmail, dovecotFolders, dovecot, { ...rules, skipGmailViews: true });
    expect(r.excluded).toEqual(
      expect.arrayContaining([
        { source: '[Gmail]/Important', reason: 'gmail view' },
        { source: '[Gmail]/Starred', reason: 'gmail view' },
      ]),
    );
    expect(r.mappings.map((m) => m.source)).toEqual(['INBOX', '[Gmail]/All Mail', 'Label']);
    const kept = mapFolders(tree, gmail, dovecotFolders, dovecot, rules);
    expect(kept.mappings.map((m) => m.source)).toContain('[Gmail]/Starred');
  });
});
