/**
 * Where an ad-hoc task may connect. Its host comes from whoever can queue a job, so it must not
 * reach what only this machine can: loopback, link-local (cloud metadata services live at
 * 169.254.169.254) and this host's own addresses are refused, and so is `imapsync.adhoc.deny`,
 * unless `imapsync.adhoc.allow` names the address. The name is resolved as the connection
 * will resolve it (getaddrinfo: /etc/hosts, then DNS) and every address it yields is checked.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { parseAddressRange } from '../../config/host.js';
import { PermanentJobError } from '../../core/errors.js';
import { SyncConnectionError } from './outcome.js';

/** `imapsync.adhoc` of the config. */
export interface AdhocHostRules {
  allow: readonly string[];
  deny: readonly string[];
}

/** Resolves a host name to every address it has (`dns.lookup` with `all`; injectable for tests). */
export type ResolveAll = (host: string) => Promise<string[]>;

const resolveAll: ResolveAll = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

function listOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const r = parseAddressRange(entry);
    if (r) list.addSubnet(r.address, r.prefix, r.family);
  }
  return list;
}

/** The refused ranges, each with the word an error names it by. */
function refusedRanges(rules: AdhocHostRules): [string, BlockList][] {
  // 0.0.0.0 and :: connect to this host on Linux.
  const own = ['0.0.0.0/8', '::/128'];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) own.push(a.address.replace(/%.*$/, ''));
  }
  return [
    ['loopback', listOf(['127.0.0.0/8', '::1/128'])],
    ['link-local', listOf(['169.254.0.0/16', 'fe80::/10'])],
    ["this host's own address", listOf(own)],
    ['imapsync.adhoc.deny', listOf(rules.deny)],
  ];
}

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * Resolves `host` and refuses it (`PermanentJobError` `EHOSTREFUSED`, naming the address and
 * why) when any of its addresses is refused; a name that does not resolve is a connection
 * failure of the source (retried). Returns the address to connect to: the first one, checked,
 * so a name that resolves differently a moment later (DNS rebinding) changes nothing.
 */
export async function checkAdhocHost(
  host: string,
  rules: AdhocHostRules,
  resolve: ResolveAll = resolveAll,
): Promise<string> {
  let addresses: string[];
  try {
    addresses = isIP(host) !== 0 ? [host] : await resolve(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SyncConnectionError('source', new Error(`cannot resolve ${host}: ${code}`));
  }
  const allow = listOf(rules.allow);
  const ranges = refusedRanges(rules);
  for (const address of addresses) {
    if (allow.check(address, family(address))) continue;
    const hit = ranges.find(([, list]) => list.check(address, family(address)));
    if (hit) {
      const via = address === host ? '' : ` (${host} resolves to ${address})`;
      throw new PermanentJobError(
        `adhoc.remote.host: ${address}${via} is refused for ad-hoc tasks: ${hit[0]}; an admin may allow it in imapsync.adhoc.allow`,
        'EHOSTREFUSED',
      );
    }
  }
  if (addresses[0] === undefined) {
    throw new SyncConnectionError('source', new Error(`cannot resolve ${host}: no address`));
  }
  return addresses[0];
}
