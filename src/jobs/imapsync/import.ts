/**
 * Bulk import of ad-hoc tasks from CSV (`mailjobs sync import`, the Synchronization page's
 * import). The first line names the columns, in any order:
 *   localUser, host, username      required: the local user, the remote host and the remote user
 *   password                       the remote user's own password, or
 *   adminUser, adminPassword       a remote admin login (adminMethod: separator (default) | authzid)
 *   port, security, verifyCertificate   as in a task's `remote:` (tls | starttls | none; true | false)
 *   options                        the task's options as a JSON object, e.g. {"exclude":["^Junk$"]}
 * Empty lines and lines starting with `#` are skipped. Every bad line gives one error naming its
 * line number and column; the file is all or nothing: when any line is bad nothing is created.
 * Passwords are sealed at once (for their host, port and user); the text itself is never kept.
 */
import { z } from 'zod';
import type { SecretBox } from '../../core/crypto.js';
import { type AdhocForm, adhocForm, ONE_LOGIN, sealAdhocTask } from './adhoc-form.js';
import { type AdhocTask, adhocTarget } from './schema.js';

export const IMPORT_COLUMNS = [
  'localUser',
  'host',
  'username',
  'password',
  'adminUser',
  'adminPassword',
  'adminMethod',
  'port',
  'security',
  'verifyCertificate',
  'options',
] as const;
type Column = (typeof IMPORT_COLUMNS)[number];

/** One bad line: its number (1 = the header) and column, and what is wrong. */
export interface ImportError {
  line: number;
  field: string;
  message: string;
}

/** A good line, as the preview shows it: never its password. */
export interface ImportRow {
  line: number;
  target: string;
  localUser: string;
  remote: string;
  login: string;
}

export interface ImportPlan {
  rows: ImportRow[];
  errors: ImportError[];
  /** The forms of the good lines (passwords in plain text: seal them, never keep them). */
  forms: AdhocForm[];
}

/** The line as text: `line 7: port: must be 1 to 65535`. */
export const errorLine = (e: ImportError): string => `line ${e.line}: ${e.field}: ${e.message}`;

/** RFC 4180 records, each with the line it starts on; a quoted field may span lines. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let fieldStarted = false;
  const endRecord = () => {
    fields.push(field);
    records.push({ line: start, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  const body = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      fieldStarted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && body[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records.filter(
    (r) => !(r.fields.length === 1 && r.fields[0]!.trim() === '') && !r.fields[0]!.startsWith('#'),
  );
}

/** The column a form field's error belongs to. */
function columnOf(path: readonly PropertyKey[]): string {
  const [first, second] = path.map(String);
  if (first === 'admin')
    return (
      { user: 'adminUser', password: 'adminPassword', method: 'adminMethod' }[second ?? ''] ?? 'adminUser'
    );
  if (first === 'options') return ['options', ...path.slice(1).map(String)].join('.');
  return first ?? 'line';
}

const booleanText: Record<string, boolean> = {
  true: true,
  yes: true,
  '1': true,
  false: false,
  no: false,
  '0': false,
};

/** One line's cells into the form's shape; a cell that cannot be read is an error of its column. */
function formInput(cell: (c: Column) => string | undefined, errors: Omit<ImportError, 'line'>[]) {
  const input: Record<string, unknown> = {};
  for (const c of ['localUser', 'host', 'username'] as const)
    if (cell(c) === undefined) errors.push({ field: c, message: 'required' });
  for (const c of ['localUser', 'host', 'username', 'password', 'security'] as const) {
    const v = cell(c);
    if (v !== undefined) input[c] = v;
  }
  const port = cell('port');
  if (port !== undefined) {
    if (/^\d{1,5}$/.test(port.trim())) input.port = Number(port);
    else errors.push({ field: 'port', message: 'must be a whole number, 1 to 65535' });
  }
  const verify = cell('verifyCertificate');
  if (verify !== undefined) {
    const b = booleanText[verify.trim().toLowerCase()];
    if (b === undefined) errors.push({ field: 'verifyCertificate', message: 'must be true or false' });
    else input.verifyCertificate = b;
  }
  const [adminUser, adminPassword, adminMethod] = [
    cell('adminUser'),
    cell('adminPassword'),
    cell('adminMethod'),
  ];
  if (adminUser !== undefined || adminPassword !== undefined || adminMethod !== undefined) {
    input.admin = {
      user: adminUser ?? '',
      password: adminPassword ?? '',
      ...(adminMethod ? { method: adminMethod } : {}),
    };
  }
  const options = cell('options');
  if (options !== undefined) {
    try {
      input.options = JSON.parse(options) as unknown;
    } catch {
      errors.push({ field: 'options', message: 'must be a JSON object, e.g. {"exclude":["^Junk$"]}' });
    }
  }
  return input;
}

/** Reads the CSV text into the tasks it asks for, and every error, by line. */
export function planImport(text: string): ImportPlan {
  const records = parseCsv(text);
  const errors: ImportError[] = [];
  const rows: ImportRow[] = [];
  const forms: AdhocForm[] = [];
  const header = records.shift();
  if (!header)
    return {
      rows,
      errors: [
        {
          line: 1,
          field: 'header',
          message: `the file is empty; the first line names the columns: ${IMPORT_COLUMNS.join(',')}`,
        },
      ],
      forms,
    };
  const columns = header.fields.map((f) => f.trim());
  columns.forEach((c) => {
    if (!(IMPORT_COLUMNS as readonly string[]).includes(c))
      errors.push({
        line: header.line,
        field: c || '(empty)',
        message: `unknown column; columns: ${IMPORT_COLUMNS.join(', ')}`,
      });
  });
  for (const need of ['localUser', 'host', 'username'] as const)
    if (!columns.includes(need)) errors.push({ line: header.line, field: need, message: 'column missing' });
  if (errors.length > 0) return { rows, errors, forms };
  const seen = new Map<string, number>();
  for (const { line, fields } of records) {
    if (fields.length !== columns.length) {
      errors.push({
        line,
        field: 'line',
        message: `${fields.length} fields, the header names ${columns.length}`,
      });
      continue;
    }
    const cell = (c: Column) => {
      const i = columns.indexOf(c);
      return i < 0 || fields[i] === '' ? undefined : fields[i];
    };
    const lineErrors: Omit<ImportError, 'line'>[] = [];
    const parsed = adhocForm.safeParse(formInput(cell, lineErrors));
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        lineErrors.push({ field: columnOf(issue.path), message: issue.message });
    } else if ((parsed.data.password === undefined) === (parsed.data.admin === undefined)) {
      lineErrors.push({ field: 'password', message: ONE_LOGIN });
    }
    if (lineErrors.length > 0 || !parsed.success) {
      // One line per bad line: its first problem (fix it, import again).
      errors.push({ line, ...lineErrors[0]! });
      continue;
    }
    const f = parsed.data;
    const target = adhocTarget({
      localUser: f.localUser,
      remote: { host: f.host, username: f.username },
    } as AdhocTask);
    const twin = seen.get(target);
    if (twin !== undefined) {
      errors.push({
        line,
        field: 'localUser',
        message: `the same local user and remote account as line ${twin}`,
      });
      continue;
    }
    seen.set(target, line);
    forms.push(f);
    rows.push({
      line,
      target,
      localUser: f.localUser,
      remote: `${f.username}@${f.host}`,
      login: f.admin ? `admin ${f.admin.user} (${f.admin.method})` : 'password',
    });
  }
  if (records.length === 0 && errors.length === 0)
    errors.push({ line: header.line, field: 'line', message: 'no task: the file has a header only' });
  return { rows, errors, forms };
}

/** The tasks of a plan without errors, their passwords sealed. */
export async function sealPlan(plan: ImportPlan, box: SecretBox): Promise<AdhocTask[]> {
  if (plan.errors.length > 0) throw new Error('sealPlan: the plan has errors');
  return Promise.all(plan.forms.map((f) => sealAdhocTask(box, f)));
}

/** The schema of the page's import request: the file's text (never stored) and whether to create. */
export const importRequest = z.strictObject({
  csv: z.string().min(1, 'the file is empty').max(1_000_000, 'at most 1 MB a file: split it'),
  create: z.boolean().default(false),
});
