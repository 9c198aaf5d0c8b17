/**
 * The approval console's bounds and paths (docs/console.md). The number of requests one page lists
 * is CONSOLE_MAX_PENDING and the longest denial reason MAX_DECISION_REASON_CHARS (src/constants.ts).
 */

/** A decision form is a CSRF token and a duration or a reason: anything larger is refused unread. */
export const CONSOLE_MAX_FORM_BYTES = 4 * 1024;

export const CONSOLE_PATH = '/console';
export const CONSOLE_SIGN_IN_PATH = '/console/sign-in';
export const CONSOLE_STYLESHEET_PATH = '/console/console.css';
export const CONSOLE_ICON_PATH = '/console/icon.svg';
/** The stylesheet and icon are the same for every deployment of one version: browsers may keep it a day. */
export const CONSOLE_STYLESHEET_MAX_AGE = 86_400;

/** Task ids are `arq_` and 256 random bits (governance/tasks.ts); anything else in a URL is not one. */
export const TASK_ID = /^arq_[A-Za-z0-9_-]{43}$/;
