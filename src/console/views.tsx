/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { formatDuration } from '../policy/duration.js';
import { CONSOLE_ICON_PATH, CONSOLE_PATH, CONSOLE_SIGN_IN_PATH, CONSOLE_STYLESHEET_PATH } from './limits.js';
import { age, humanDuration, utc } from './format.js';

/**
 * The console's pages, server-rendered with Hono JSX (every interpolated value is escaped by it).
 * Pure: data in, HTML out. Accessibility: `lang`, one h1 then h2s, a skip link, labelled inputs
 * with their hints tied by aria-describedby, a table with a caption and header cells, messages in
 * a live region; native controls only, so everything works from the keyboard (docs/console.md).
 */

/** One access request as an approver sees it. */
export interface RequestView {
  id: string;
  /** subjectLabel: the person the request is for. */
  who: string;
  /** The app (its name when configured) and its client id. */
  app: string;
  appId: string;
  destination: string;
  destinationIssuer?: string;
  scopes: string[];
  justification?: string;
  /** The `@requestable` forbids that denied. */
  policies: string[];
  requestedDuration?: number;
  createdAt: number;
  expiresAt: number;
  status: string;
  decidedByLabel?: string;
  decidedAt?: number;
  reason?: string;
  approvedUntil?: number;
}

export type Notice = { kind: 'status' | 'error'; text: string };

const Time = (props: { t: number }) => {
  const { text, iso } = utc(props.t);
  return <time datetime={iso}>{text}</time>;
};

const Duration = (props: { seconds: number }) => (
  <>
    {humanDuration(props.seconds)} <span class="muted">({formatDuration(props.seconds)})</span>
  </>
);

/** The status region is always in the page, so assistive technology announces what lands in it. */
const Messages = (props: { notice?: Notice | undefined }) => (
  <>
    <div role="status" class={props.notice?.kind === 'status' ? 'notice ok' : 'notice-empty'}>
      {props.notice?.kind === 'status' ? props.notice.text : ''}
    </div>
    {props.notice?.kind === 'error' ? (
      <div role="alert" class="notice error">
        {props.notice.text}
      </div>
    ) : null}
  </>
);

function Layout(props: { title: string; approver?: string | undefined; notice?: Notice | undefined; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Access approvals`}</title>
        <link rel="stylesheet" href={CONSOLE_STYLESHEET_PATH} />
        <link rel="icon" href={CONSOLE_ICON_PATH} type="image/svg+xml" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="bar">
          <a class="brand" href={CONSOLE_PATH}>
            Access approvals
          </a>
          {props.approver !== undefined ? (
            <p class="who">
              Signed in as <strong>{props.approver}</strong> · <a href="/logout">Sign out</a>
            </p>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          <Messages notice={props.notice} />
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function render(page: ReturnType<typeof Layout>): string {
  return `<!DOCTYPE html>${String(page)}`;
}

export function pendingPage(input: { approver: string; requests: RequestView[]; now: number; notice?: Notice; truncated: boolean }): string {
  const { requests, now } = input;
  return render(
    <Layout title="Pending access requests" approver={input.approver} notice={input.notice}>
      {requests.length === 0 ? (
        <p>There are no pending access requests for you to decide.</p>
      ) : (
        <table>
          <caption>
            {requests.length === 1 ? '1 request waits' : `${requests.length} requests wait`} for your decision, oldest first.
          </caption>
          <thead>
            <tr>
              <th scope="col">Who</th>
              <th scope="col">App</th>
              <th scope="col">Destination</th>
              <th scope="col">Scopes</th>
              <th scope="col">Justification</th>
              <th scope="col">Denied by policy</th>
              <th scope="col">Requested for</th>
              <th scope="col">Age</th>
              <th scope="col">
                <span class="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {requests.map((r) => (
              <tr>
                <th scope="row">{r.who}</th>
                <td>
                  {r.app}
                  {r.app !== r.appId ? <span class="muted"> ({r.appId})</span> : null}
                </td>
                <td>{r.destination}</td>
                <td>
                  <ScopeList scopes={r.scopes} />
                </td>
                <td class="text">{r.justification ?? <span class="muted">none given</span>}</td>
                <td>{r.policies.join(', ')}</td>
                <td>{r.requestedDuration !== undefined ? <Duration seconds={r.requestedDuration} /> : <span class="muted">not stated</span>}</td>
                <td>
                  <time datetime={utc(r.createdAt).iso}>{age(r.createdAt, now)}</time>
                </td>
                <td>
                  <a href={`${CONSOLE_PATH}/requests/${r.id}`}>
                    Review<span class="visually-hidden"> the request from {r.who}</span>
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {input.truncated ? <p class="muted">Only the oldest pending requests are listed; decide these to see more.</p> : null}
    </Layout>,
  );
}

const ScopeList = (props: { scopes: readonly string[] }) => (
  <ul class="plain">
    {props.scopes.map((s) => (
      <li>
        <code>{s}</code>
      </li>
    ))}
  </ul>
);

const Facts = (props: { r: RequestView; now: number }) => {
  const { r, now } = props;
  return (
    <dl class="facts">
      <dt>Who</dt>
      <dd>{r.who}</dd>
      <dt>App</dt>
      <dd>
        {r.app}
        {r.app !== r.appId ? <span class="muted"> ({r.appId})</span> : null}
      </dd>
      <dt>Destination</dt>
      <dd>
        {r.destination}
        {r.destinationIssuer !== undefined ? <span class="muted"> ({r.destinationIssuer})</span> : null}
      </dd>
      <dt>Scopes</dt>
      <dd>
        <ScopeList scopes={r.scopes} />
      </dd>
      <dt>Justification</dt>
      <dd class="text">{r.justification ?? <span class="muted">none given</span>}</dd>
      <dt>Denied by policy</dt>
      <dd>{r.policies.join(', ')}</dd>
      <dt>Requested for</dt>
      <dd>{r.requestedDuration !== undefined ? <Duration seconds={r.requestedDuration} /> : <span class="muted">not stated</span>}</dd>
      <dt>Submitted</dt>
      <dd>
        <Time t={r.createdAt} /> ({age(r.createdAt, now)})
      </dd>
      <dt>Status</dt>
      <dd>
        <strong>{r.status}</strong>
        {r.status === 'pending' ? (
          <>
            {' '}
            until <Time t={r.expiresAt} />
          </>
        ) : null}
      </dd>
      {r.decidedByLabel !== undefined ? (
        <>
          <dt>Decided by</dt>
          <dd>
            {r.decidedByLabel}
            {r.decidedAt !== undefined ? (
              <>
                {' '}
                at <Time t={r.decidedAt} />
              </>
            ) : null}
          </dd>
        </>
      ) : null}
      {r.approvedUntil !== undefined ? (
        <>
          <dt>Approved until</dt>
          <dd>
            <Time t={r.approvedUntil} />
          </dd>
        </>
      ) : null}
      {r.reason !== undefined ? (
        <>
          <dt>Reason</dt>
          <dd class="text">{r.reason}</dd>
        </>
      ) : null}
    </dl>
  );
};

/** The decision forms: what a pending request the approver may decide shows. */
export interface DecisionForms {
  csrf: string;
  /** The duration field's value (what was typed, or the default). */
  duration: string;
  /** The longest approval every denying policy allows (seconds). */
  maxDuration: number;
  /** What was typed as a reason, kept after a refusal. */
  reason?: string;
  maxReasonChars: number;
}

export function detailPage(input: { approver: string; request: RequestView; now: number; forms?: DecisionForms; notice?: Notice }): string {
  const { request: r, forms } = input;
  const base = `${CONSOLE_PATH}/requests/${r.id}`;
  return render(
    <Layout title={`Access request from ${r.who}`} approver={input.approver} notice={input.notice}>
      <Facts r={r} now={input.now} />
      {forms ? (
        <div class="decisions">
          <section aria-labelledby="approve-heading">
            <h2 id="approve-heading">Approve</h2>
            <form method="post" action={`${base}/approve`}>
              <input type="hidden" name="csrf" value={forms.csrf} />
              <label for="duration">Duration</label>
              <input id="duration" name="duration" type="text" required value={forms.duration} aria-describedby="duration-hint" autocomplete="off" spellcheck={false} />
              <p id="duration-hint" class="hint">
                An ISO 8601 duration, such as PT8H (8 hours) or P2D (2 days). At most {formatDuration(forms.maxDuration)} ({humanDuration(forms.maxDuration)}), as the policy allows.
              </p>
              <button type="submit">Approve</button>
            </form>
          </section>
          <section aria-labelledby="deny-heading">
            <h2 id="deny-heading">Deny</h2>
            <form method="post" action={`${base}/deny`}>
              <input type="hidden" name="csrf" value={forms.csrf} />
              <label for="reason">Reason (required)</label>
              <textarea id="reason" name="reason" required maxlength={forms.maxReasonChars} rows={3} aria-describedby="reason-hint">
                {forms.reason ?? ''}
              </textarea>
              <p id="reason-hint" class="hint">
                Up to {forms.maxReasonChars} characters. The requester's app is told the request was denied.
              </p>
              <button type="submit" class="secondary">
                Deny
              </button>
            </form>
          </section>
        </div>
      ) : null}
      <p>
        <a href={CONSOLE_PATH}>Back to pending requests</a>
      </p>
    </Layout>,
  );
}

/** A refusal without a request to show (unknown request, not an approver, refused form). */
export function messagePage(input: { title: string; text: string; approver?: string; signIn?: boolean }): string {
  return render(
    <Layout title={input.title} approver={input.approver} notice={{ kind: 'error', text: input.text }}>
      <p>{input.signIn ? <a href={CONSOLE_SIGN_IN_PATH}>Sign in</a> : <a href={CONSOLE_PATH}>Back to pending requests</a>}</p>
    </Layout>,
  );
}

/** A check mark: browsers ask for an icon, and the console answers rather than log a 404. */
export const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b4fa8"/><path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>';

/** One stylesheet for every page (CSP `style-src 'self'`: no inline styles). Contrast ≥ 4.5:1 throughout. */
export const STYLESHEET = `
:root{color-scheme:light;--fg:#1a1a1a;--muted:#4d4d4d;--bg:#ffffff;--line:#c4c4c4;--accent:#0b4fa8;--ok-bg:#e6f4ea;--ok-fg:#0d5222;--err-bg:#fdecea;--err-fg:#8a1c12;--focus:#b35c00}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible,main:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;padding:.5rem 1rem;background:var(--bg)}
.skip:focus{left:1rem}
.bar{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:1rem;padding:.75rem 1.5rem;border-bottom:1px solid var(--line)}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
.who{margin:0}
main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:0 0 .75rem}
.notice{padding:.75rem 1rem;border-radius:4px;margin:0 0 1rem}
.notice.ok{background:var(--ok-bg);color:var(--ok-fg);border:1px solid var(--ok-fg)}
.notice.error{background:var(--err-bg);color:var(--err-fg);border:1px solid var(--err-fg)}
.muted{color:var(--muted)}
table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:0 0 .5rem;color:var(--muted)}
th,td{text-align:left;vertical-align:top;padding:.5rem;border-bottom:1px solid var(--line)}
thead th{border-bottom:2px solid var(--fg)}
.text{white-space:pre-wrap;overflow-wrap:anywhere;max-width:24rem}
.plain{list-style:none;margin:0;padding:0}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.5rem;margin:0 0 2rem}
.facts dt{font-weight:600}
.facts dd{margin:0}
.decisions{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:2rem;margin:0 0 2rem}
.decisions section{border:1px solid var(--line);border-radius:6px;padding:1rem 1.25rem}
label{display:block;font-weight:600;margin:0 0 .25rem}
input[type=text],textarea{display:block;width:100%;font:inherit;padding:.45rem .5rem;border:1px solid #6b6b6b;border-radius:4px;color:var(--fg);background:var(--bg)}
.hint{color:var(--muted);font-size:.9rem;margin:.35rem 0 1rem}
button{font:inherit;font-weight:600;padding:.5rem 1.25rem;border-radius:4px;border:2px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:var(--bg);color:var(--err-fg);border-color:var(--err-fg)}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
`;
