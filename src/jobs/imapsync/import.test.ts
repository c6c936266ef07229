import { describe, expect, it } from 'vitest';
import { errorLine, parseCsv, planImport } from './import.js';

const header = 'localUser,host,username,password,adminUser,adminPassword,port,security,options';

describe('sync import CSV', () => {
  it('reads quoted fields, doubled quotes, CRLF and a field spanning lines, each record with its first line', () => {
    const records = parseCsv('a,b\r\n"x,1","he said ""hi"""\n# comment\n\n"two\nlines",z\n');
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x,1', 'he said "hi"'] },
      { line: 5, fields: ['two\nlines', 'z'] },
    ]);
  });

  it('plans one task per good line: a password or an admin login, options per line', () => {
    const plan = planImport(
      [
        header,
        'john,imap.example.com,john@example.com,s3cret,,,,,',
        'jane,imap.example.com,jane@example.com,,admin,adm1n,143,starttls,"{""exclude"":[""^Junk$""]}"',
      ].join('\n'),
    );
    expect(plan.errors).toEqual([]);
    expect(plan.rows).toEqual([
      {
        line: 2,
        target: 'adhoc:john<john@example.com@imap.example.com',
        localUser: 'john',
        remote: 'john@example.com@imap.example.com',
        login: 'password',
      },
      {
        line: 3,
        target: 'adhoc:jane<jane@example.com@imap.example.com',
        localUser: 'jane',
        remote: 'jane@example.com@imap.example.com',
        login: 'admin admin (separator)',
      },
    ]);
    expect(plan.forms[1]).toMatchObject({
      port: 143,
      security: 'starttls',
      options: { exclude: ['^Junk$'] },
    });
  });

  it('names the line and the column of every bad line, never a password', () => {
    const plan = planImport(
      [
        header,
        'ok,imap.example.com,ok,pw1,,,,,',
        ',imap.example.com,u1,pw2,,,,,',
        'u2,imap.example.com,u2,,,,,,',
        'u3,imap.example.com,u3,pw3,,,99999,,',
        'u4,imap.example.com,u4,pw4,,,,ssl,',
        'u5,imap.example.com,u5,pw5,,,,,{nope',
        'u6,imap.example.com,u6,pw6,,,,,"{""exclude"":[""(""]}"',
        'u7,-bad,u7,pw7,,,,,',
        'ok,imap.example.com,ok,pw8,,,,,',
        'u9,imap.example.com,u9,pw9',
        'u10,imap.example.com,u10,pw10,adm,,,,',
      ].join('\n'),
    );
    expect(plan.errors.map(errorLine)).toEqual([
      'line 3: localUser: required',
      'line 4: password: give either the user password or an admin login',
      'line 5: port: Too big: expected number to be <=65535',
      'line 6: security: Invalid option: expected one of "tls"|"starttls"|"none"',
      'line 7: options: must be a JSON object, e.g. {"exclude":["^Junk$"]}',
      expect.stringMatching(/^line 8: options\.exclude\.0: invalid regular expression/),
      expect.stringMatching(/^line 9: host: /),
      'line 10: localUser: the same local user and remote account as line 2',
      'line 11: line: 4 fields, the header names 9',
      'line 12: adminPassword: Too small: expected string to have >=1 characters',
    ]);
    expect(JSON.stringify(plan.errors)).not.toMatch(/pw\d/);
  });

  it('refuses an unknown or missing column on the header line, and an empty file', () => {
    expect(planImport('localUser,host,user,password\n').errors.map(errorLine)).toEqual([
      'line 1: user: unknown column; columns: localUser, host, username, password, adminUser, adminPassword, adminMethod, port, security, verifyCertificate, options',
      'line 1: username: column missing',
    ]);
    expect(planImport('').errors[0]).toMatchObject({ line: 1, field: 'header' });
    expect(planImport(`${header}\n`).errors.map(errorLine)).toEqual([
      'line 1: line: no task: the file has a header only',
    ]);
  });
});
