import type { MailSecurity } from './tls.js';

/**
 * The standard ports of the mail protocols we speak as clients: implicit TLS on its own port
 * (RFC 8314: 993 IMAP, 995 POP3), otherwise the cleartext port (STARTTLS/STLS or none).
 */
export function defaultMailPort(protocol: 'pop3' | 'imap', security: MailSecurity): number {
  if (protocol === 'pop3') return security === 'tls' ? 995 : 110;
  return security === 'tls' ? 993 : 143;
}
