/**
 * The `auth:` block of a connector or a sync task's remote side when it logs in with OAuth 2.0
 * instead of a password (Microsoft 365 and Gmail accept nothing else for IMAP and POP3).
 * `provider` fills in the endpoints and scopes; `custom` takes them from the block itself.
 */
import { z } from 'zod';
import type { SecretField } from './schema.js';
import type { Secret } from './secret.js';

/** Where and as which registered application to ask for tokens, every default filled in. */
export interface OAuthSettings {
  provider: 'microsoft' | 'google' | 'custom';
  clientId: string;
  /** Confidential clients only; public clients (the usual for device login) have none. */
  clientSecret?: Secret | undefined;
  tokenUrl: string;
  deviceAuthorizationUrl: string;
  scopes: string[];
}

/** The protocol the token is for: Microsoft grants IMAP and POP access under different scopes. */
export type OAuthProtocol = 'pop3' | 'imap';

const MICROSOFT_SCOPE: Record<OAuthProtocol, string> = {
  imap: 'https://outlook.office.com/IMAP.AccessAsUser.All',
  pop3: 'https://outlook.office.com/POP.AccessAsUser.All',
};

/** An endpoint URL: https, or plain http to a token server on this host only. */
const endpointUrl = z.url({ protocol: /^https?$/ }).refine((u) => {
  const url = new URL(u);
  return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}, 'must be https (plain http only on 127.0.0.1, localhost or [::1])');

/** The `auth:` block as written; see {@link resolveOAuth} for the defaults. */
export function oauthAuthSchema(secretFile: SecretField) {
  return z
    .strictObject({
      method: z.literal('oauth2'),
      provider: z.enum(['microsoft', 'google', 'custom']),
      clientId: z.string().min(1),
      clientSecretFile: secretFile.optional(),
      /** Microsoft Entra ID tenant (a GUID or domain); `common` by default. */
      tenant: z
        .string()
        .regex(/^[A-Za-z0-9.-]+$/, 'letters, digits, "." and "-" only')
        .optional(),
      scopes: z.array(z.string().min(1)).min(1).optional(),
      tokenUrl: endpointUrl.optional(),
      deviceAuthorizationUrl: endpointUrl.optional(),
    })
    .superRefine((a, ctx) => {
      if (a.provider === 'custom') {
        for (const field of ['tokenUrl', 'deviceAuthorizationUrl'] as const) {
          if (!a[field])
            ctx.addIssue({ code: 'custom', path: [field], message: 'required for provider custom' });
        }
        if (!a.scopes)
          ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'required for provider custom' });
      }
      if (a.tenant !== undefined && a.provider !== 'microsoft') {
        ctx.addIssue({ code: 'custom', path: ['tenant'], message: 'only for provider microsoft' });
      }
    });
}

export type OAuthAuthInput = z.output<ReturnType<typeof oauthAuthSchema>>;

/** The block with the provider's endpoints and scopes filled in where it leaves them out. */
export function resolveOAuth(a: OAuthAuthInput, protocol: OAuthProtocol): OAuthSettings {
  const base = { provider: a.provider, clientId: a.clientId, clientSecret: a.clientSecretFile };
  if (a.provider === 'microsoft') {
    const root = `https://login.microsoftonline.com/${a.tenant ?? 'common'}/oauth2/v2.0`;
    return {
      ...base,
      tokenUrl: a.tokenUrl ?? `${root}/token`,
      deviceAuthorizationUrl: a.deviceAuthorizationUrl ?? `${root}/devicecode`,
      // offline_access: without it Microsoft hands out no refresh token.
      scopes: a.scopes ?? [MICROSOFT_SCOPE[protocol], 'offline_access'],
    };
  }
  if (a.provider === 'google') {
    return {
      ...base,
      tokenUrl: a.tokenUrl ?? 'https://oauth2.googleapis.com/token',
      deviceAuthorizationUrl: a.deviceAuthorizationUrl ?? 'https://oauth2.googleapis.com/device/code',
      scopes: a.scopes ?? ['https://mail.google.com/'],
    };
  }
  return {
    ...base,
    tokenUrl: a.tokenUrl!,
    deviceAuthorizationUrl: a.deviceAuthorizationUrl!,
    scopes: a.scopes!,
  };
}
