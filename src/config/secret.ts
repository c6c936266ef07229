/**
 * A secret value read from the config or a secret file. It never serialises or prints
 * its value: JSON, `util.inspect`, template strings and pino all see `[secret]`.
 */
import { inspect } from 'node:util';

const MASK = '[secret]';

export class Secret {
  readonly #value: string;

  constructor(
    value: string,
    /** Where it came from (`file:/path` or `inline`), safe to show. */
    readonly source: string,
  ) {
    this.#value = value;
  }

  /** The secret itself; call only where it is sent to a server. */
  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return `${MASK} (${this.source})`;
  }

  toString(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}
