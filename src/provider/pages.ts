/**
 * The provider's few HTML pages: plain, escaped, no script (but the one auto-submitting form, with
 * a per-response nonce), never framed, never cached. They show no internals: an error page
 * carries a correlation id that finds the audit record, and nothing else.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}button{margin-right:.5rem}';

export const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
} as const;

function csp(scriptNonce?: string): string {
  const script = scriptNonce ? `script-src 'nonce-${scriptNonce}'` : "script-src 'none'";
  return `default-src 'none'; style-src 'unsafe-inline'; ${script}; base-uri 'none'; frame-ancestors 'none'`;
}

function document(title: string, body: string, scriptNonce?: string): string {
  const script = scriptNonce ? `<script nonce="${scriptNonce}">document.forms[0].submit()</script>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}${script}</body></html>`;
}

export function page(status: number, title: string, body: string, headers: HeadersInit = {}, scriptNonce?: string): Response {
  const h = new Headers({ ...PAGE_HEADERS, 'Content-Security-Policy': csp(scriptNonce) });
  for (const [name, value] of new Headers(headers)) h.append(name, value);
  return new Response(document(title, body, scriptNonce), { status, headers: h });
}

/** A refused request or a failed login: what happened in one sentence, and the correlation id. */
export function errorPage(status: number, message: string, correlationId: string, headers: HeadersInit = {}): Response {
  return page(
    status,
    'Sign-in error',
    `<h1>Sign-in could not continue</h1><p>${escapeHtml(message)}</p><p>If you contact support, quote this reference: <code>${escapeHtml(correlationId)}</code></p>`,
    headers,
  );
}

function hiddenFields(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
}

/** IdP discovery could not decide: the user picks a connection. Each link restarts /authorize with it. */
export function chooserPage(options: { label: string; href: string }[], headers: HeadersInit = {}): Response {
  const items = options.map((o) => `<li><a href="${escapeHtml(o.href)}">${escapeHtml(o.label)}</a></li>`).join('');
  return page(200, 'Choose how to sign in', `<h1>Choose how to sign in</h1><ul>${items}</ul>`, headers);
}

export function consentPage(input: { clientName: string; scopes: string[]; action: string; fields: Record<string, string> }, headers: HeadersInit = {}): Response {
  const scopes = input.scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('');
  return page(
    200,
    'Allow access?',
    `<h1>${escapeHtml(input.clientName)} asks to sign you in</h1><p>It will receive:</p><ul>${scopes}</ul>` +
      `<form method="post" action="${escapeHtml(input.action)}">${hiddenFields(input.fields)}` +
      '<button type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny">Deny</button></form>',
    headers,
  );
}

export function logoutConfirmPage(input: { action: string; fields: Record<string, string> }, headers: HeadersInit = {}): Response {
  return page(
    200,
    'Sign out?',
    `<h1>Sign out of the broker?</h1><form method="post" action="${escapeHtml(input.action)}">${hiddenFields(input.fields)}<button type="submit">Sign out</button></form>`,
    headers,
  );
}

export function messagePage(title: string, message: string, headers: HeadersInit = {}): Response {
  return page(200, title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`, headers);
}

/** SAML HTTP-POST binding: a form the browser submits to the IdP. */
export function autoPostPage(action: string, fields: Record<string, string>, scriptNonce: string, headers: HeadersInit = {}): Response {
  return page(
    200,
    'Continue to sign in',
    `<form method="post" action="${escapeHtml(action)}">${hiddenFields(fields)}<noscript><button type="submit">Continue</button></noscript></form>`,
    headers,
    scriptNonce,
  );
}
