import type { Context, Hono } from 'hono';
import { CONSOLE_MAX_PENDING, MAX_DECISION_REASON_CHARS } from '../constants.js';
import { longestApproval, mayDecide } from '../governance/approvers.js';
import { GovernanceError, type GovernanceErrorKind } from '../governance/errors.js';
import { approveAccessRequest, denyAccessRequest, effectiveStatus, type Approver } from '../governance/tasks.js';
import type { BrokerServices } from '../grants/services.js';
import { readForm, type FormParams } from '../http/form.js';
import { identityOfPrincipal } from '../mapping/identity.js';
import type { Identity } from '../mapping/resolve.js';
import { OAuthError } from '../oauth/errors.js';
import { formatDuration, parseDuration } from '../policy/duration.js';
import type { RequestableRule } from '../policy/types.js';
import type { BrowserSession, BrowserSignIn } from '../provider/index.js';
import type { AccessRequestRecord } from '../store/ports.js';
import { CONSOLE_ICON_PATH, CONSOLE_MAX_FORM_BYTES, CONSOLE_PATH, CONSOLE_SIGN_IN_PATH, CONSOLE_STYLESHEET_MAX_AGE, CONSOLE_STYLESHEET_PATH, TASK_ID } from './limits.js';
import { checkCsrfToken, CONSOLE_PAGE_HEADERS, csrfToken, sameOriginPost } from './security.js';
import { detailPage, ICON, messagePage, pendingPage, STYLESHEET, type DecisionForms, type Notice, type RequestView } from './views.js';

/**
 * The approval console (docs/console.md): where approvers see the pending access requests they may
 * decide and approve or deny them. A thin layer over governance/tasks.ts: who the approver is
 * comes only from the browser's broker session (the broker's own upstream login); every decision
 * is a same-origin POST with a CSRF token bound to that session; a refused POST changes nothing.
 */

export interface ConsoleDeps {
  services: BrokerServices;
  /** Seconds since epoch. */
  clock: () => number;
  /** The provider's session and login (mountProvider's result). */
  signIn: BrowserSignIn;
}

interface SignedIn {
  session: BrowserSession;
  approver: Approver;
}

/** Governance refusals as the console answers them: the status, and the detail (safe to show) in a sentence. */
const STATUS_OF: Record<GovernanceErrorKind, number> = {
  invalid_request: 400,
  not_requestable: 409,
  expired_denial: 400,
  invalid_denial_binding: 400,
  duplicate_request: 409,
  unknown_task: 404,
  task_expired: 409,
  invalid_task_state: 409,
  not_an_approver: 403,
};

function sentence(text: string): string {
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

function messageOf(err: GovernanceError): string {
  if (err.kind === 'not_an_approver' && err.detail.startsWith('not an approver')) return sentence(`You are ${err.detail}`);
  return sentence(err.detail);
}

/** What approvers are shown as: a believed, verified email, else the name, else the principal id. */
function labelOf(identity: Identity): string {
  const { email, email_verified: verified, name } = identity.claims;
  if (typeof email === 'string' && verified === true) return email;
  if (typeof name === 'string' && name.trim() !== '') return name;
  return identity.principalId;
}

/** Step: the approver, from the browser's broker session and the principal it names; nothing else. */
async function signedIn(d: ConsoleDeps, request: Request, now: number): Promise<SignedIn | undefined> {
  const session = await d.signIn.session(request, now);
  if (!session) return undefined;
  const principal = await d.services.store.principals.get(session.record.principalId);
  if (!principal) return undefined;
  const identity = identityOfPrincipal(principal, d.services.trust);
  return { session, approver: { identity, label: labelOf(identity) } };
}

function rulesOf(task: AccessRequestRecord, s: BrokerServices): Array<{ id: string; rule: RequestableRule | undefined }> {
  return task.policies.map((id) => ({ id, rule: s.policy.requestable?.get(id) }));
}

function viewOf(task: AccessRequestRecord, s: BrokerServices, now: number): RequestView {
  const client = s.settings.clients.find((c) => c.client_id === task.clientId);
  const destination = s.settings.destinations.find((dest) => dest.id === task.destination);
  return {
    id: task.id,
    who: task.subjectLabel,
    app: client?.name ?? task.clientId,
    appId: task.clientId,
    destination: task.destination,
    ...(destination ? { destinationIssuer: destination.issuer } : {}),
    scopes: task.scopes,
    ...(task.justification !== undefined ? { justification: task.justification } : {}),
    policies: task.policies,
    ...(task.requestedDuration !== undefined ? { requestedDuration: task.requestedDuration } : {}),
    createdAt: task.createdAt,
    expiresAt: task.expiresAt,
    status: effectiveStatus(task, now),
    ...(task.decidedByLabel !== undefined ? { decidedByLabel: task.decidedByLabel } : {}),
    ...(task.decidedAt !== undefined ? { decidedAt: task.decidedAt } : {}),
    ...(task.reason !== undefined ? { reason: task.reason } : {}),
    ...(task.approval ? { approvedUntil: task.approval.approvedUntil } : {}),
  };
}

function html(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...CONSOLE_PAGE_HEADERS, ...headers } });
}

function seeOther(location: string, status = 302): Response {
  return new Response(null, { status, headers: { Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'same-origin' } });
}

/** Where sign-in returns: the list, or one request's page; nothing else (no open redirect). */
function returnTarget(value: string | undefined): string {
  if (value !== undefined && (value === CONSOLE_PATH || new RegExp(`^${CONSOLE_PATH}/requests/arq_[A-Za-z0-9_-]{43}$`).test(value))) return value;
  return CONSOLE_PATH;
}

function signInLocation(base: string, then: string): string {
  return `${base}${CONSOLE_SIGN_IN_PATH}?${new URLSearchParams({ then })}`;
}

export function mountConsole(app: Hono, d: ConsoleDeps): void {
  const s = d.services;
  const base = s.settings.issuer.replace(/\/$/, '');
  const origin = new URL(s.settings.issuer).origin;

  /** The detail page's forms: the default duration is what was asked for, capped by the policy, else the policy's maximum. */
  const formsFor = async (task: AccessRequestRecord, session: BrowserSession, typed: { duration?: string; reason?: string } = {}): Promise<DecisionForms | undefined> => {
    const rules = rulesOf(task, s);
    if (rules.some((r) => r.rule === undefined)) return undefined;
    const max = longestApproval(rules.map((r) => r.rule!));
    return {
      csrf: await csrfToken(session, task.id),
      duration: typed.duration ?? formatDuration(Math.min(task.requestedDuration ?? max, max)),
      maxDuration: max,
      ...(typed.reason !== undefined ? { reason: typed.reason } : {}),
      maxReasonChars: MAX_DECISION_REASON_CHARS,
    };
  };

  /** A task's page for this approver: 404 unknown, 403 when they may not decide it, the forms while it is pending. */
  const detail = async (id: string, who: SignedIn, now: number, notice?: Notice, status = 200, typed: { duration?: string; reason?: string } = {}): Promise<Response> => {
    const task = TASK_ID.test(id) ? await s.store.accessRequests.get(id) : undefined;
    if (!task) return html(messagePage({ title: 'No such access request', text: 'There is no such access request.', approver: who.approver.label }), 404);
    const check = mayDecide(who.approver.identity, rulesOf(task, s), task.principalId);
    if (!check.ok) {
      const err = new GovernanceError('not_an_approver', check.why);
      return html(messagePage({ title: 'Not yours to decide', text: messageOf(err), approver: who.approver.label }), 403);
    }
    const forms = effectiveStatus(task, now) === 'pending' ? await formsFor(task, who.session, typed) : undefined;
    return html(detailPage({ approver: who.approver.label, request: viewOf(task, s, now), now, ...(forms ? { forms } : {}), ...(notice ? { notice } : {}) }), status);
  };

  /** After a decision (PRG): what the list says, from the task itself, only to the approver who decided it. */
  const doneNotice = async (query: URLSearchParams, who: SignedIn, now: number): Promise<Notice | undefined> => {
    const id = query.get('request') ?? '';
    const done = query.get('done');
    if (!TASK_ID.test(id) || (done !== 'approved' && done !== 'denied')) return undefined;
    const task = await s.store.accessRequests.get(id);
    if (!task || task.status !== done || task.decidedBy !== who.approver.identity.principalId) return undefined;
    const what = `${task.subjectLabel}'s request for ${task.scopes.join(', ')} at ${task.destination}`;
    if (task.status === 'denied') return { kind: 'status', text: `Denied ${what}.` };
    const until = task.approval ? ` until ${new Date(task.approval.approvedUntil * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
    return { kind: 'status', text: `Approved ${what}${until}.` };
  };

  const refuse = (status: number, title: string, text: string, who?: SignedIn, reason?: string) => {
    s.logger.info({ reason: reason ?? title, status, ...(who ? { principalId: who.approver.identity.principalId } : {}) }, 'approval console refused a request');
    return html(messagePage({ title, text, ...(who ? { approver: who.approver.label } : { signIn: true }) }), status);
  };

  /** POST /console/requests/:id/approve|deny, as ordered steps; any refusal before the last step writes nothing. */
  const decide = async (c: Context, action: 'approve' | 'deny'): Promise<Response> => {
    const now = d.clock();
    const id = c.req.param('id') ?? '';
    // Step: a form from the console itself, before anything is read.
    if (!sameOriginPost(c.req.raw.headers, origin)) return refuse(403, 'Request refused', 'This form was not sent from the approval console. Open the console and try again.', undefined, 'cross_origin');
    // Step: the approver, from the session only.
    const who = await signedIn(d, c.req.raw, now);
    if (!who) return refuse(403, 'Sign in again', 'Your sign-in session has ended. Sign in and try again.', undefined, 'no_session');
    // Step: a bounded form, then its CSRF token, bound to this session and this request.
    let form: FormParams;
    let csrf: string | undefined;
    try {
      form = await readForm(c.req.raw, CONSOLE_MAX_FORM_BYTES);
      csrf = form.get('csrf');
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return refuse(err.status, 'Request refused', sentence(err.description ?? 'the form is not valid'), who, err.reason);
    }
    if (!TASK_ID.test(id) || !(await checkCsrfToken(csrf, who.session, id))) {
      return refuse(403, 'Request refused', 'The form could not be verified. Reload the request and try again.', who, 'csrf_invalid');
    }
    // Step: the decision, by the governance core (eligibility, state, limits); its refusals re-show the page.
    const typed: { duration?: string; reason?: string } = {};
    const requestId = crypto.randomUUID();
    try {
      if (action === 'approve') {
        const text = form.get('duration')?.trim();
        if (text !== undefined) typed.duration = text;
        const seconds = text === undefined ? undefined : parseDuration(text);
        if (text !== undefined && seconds === undefined) throw new GovernanceError('invalid_request', 'the duration must be an ISO 8601 duration such as PT8H or P2D');
        await approveAccessRequest(id, who.approver, seconds, s, now, requestId);
      } else {
        const reason = form.get('reason') ?? '';
        typed.reason = reason;
        await denyAccessRequest(id, who.approver, reason, s, now, requestId);
      }
    } catch (err) {
      const refusal = err instanceof GovernanceError ? err : err instanceof OAuthError ? new GovernanceError('invalid_request', err.description ?? 'the form is not valid') : undefined;
      if (!refusal) throw err;
      s.logger.info({ reason: refusal.kind, requestId, principalId: who.approver.identity.principalId, accessRequest: id }, 'approval console refused a decision');
      return detail(id, who, now, { kind: 'error', text: messageOf(refusal) }, STATUS_OF[refusal.kind], typed);
    }
    return seeOther(`${base}${CONSOLE_PATH}?${new URLSearchParams({ done: action === 'approve' ? 'approved' : 'denied', request: id })}`, 303);
  };

  const asset = (body: string, type: string) => () => new Response(body, { headers: { 'Content-Type': type, 'Cache-Control': `public, max-age=${CONSOLE_STYLESHEET_MAX_AGE}`, 'X-Content-Type-Options': 'nosniff' } });
  app.get(CONSOLE_STYLESHEET_PATH, asset(STYLESHEET, 'text/css; charset=utf-8'));
  app.get(CONSOLE_ICON_PATH, asset(ICON, 'image/svg+xml'));

  app.get(CONSOLE_SIGN_IN_PATH, async (c) => {
    const then = returnTarget(c.req.query('then'));
    if (await d.signIn.session(c.req.raw, d.clock())) return seeOther(`${base}${then}`);
    const connection = c.req.query('connection');
    return d.signIn.start(c.req.raw, {
      returnTo: then,
      ...(connection !== undefined ? { connection } : {}),
      chooserHref: (id) => `${base}${CONSOLE_SIGN_IN_PATH}?${new URLSearchParams({ then, connection: id })}`,
    });
  });

  app.get(CONSOLE_PATH, async (c) => {
    const now = d.clock();
    const who = await signedIn(d, c.req.raw, now);
    if (!who) return seeOther(signInLocation(base, CONSOLE_PATH));
    const pending = await s.store.accessRequests.pending(now, CONSOLE_MAX_PENDING);
    // Only what this approver may decide: other people's requests (and their own) are not theirs to read.
    const mine = pending.filter((task) => mayDecide(who.approver.identity, rulesOf(task, s), task.principalId).ok);
    const notice = await doneNotice(new URL(c.req.url).searchParams, who, now);
    return html(pendingPage({ approver: who.approver.label, requests: mine.map((t) => viewOf(t, s, now)), now, truncated: pending.length >= CONSOLE_MAX_PENDING, ...(notice ? { notice } : {}) }));
  });

  app.get(`${CONSOLE_PATH}/requests/:id`, async (c) => {
    const now = d.clock();
    const id = c.req.param('id');
    const who = await signedIn(d, c.req.raw, now);
    if (!who) return seeOther(signInLocation(base, returnTarget(`${CONSOLE_PATH}/requests/${id}`)));
    return detail(id, who, now);
  });

  app.post(`${CONSOLE_PATH}/requests/:id/approve`, (c) => decide(c, 'approve'));
  app.post(`${CONSOLE_PATH}/requests/:id/deny`, (c) => decide(c, 'deny'));
}
