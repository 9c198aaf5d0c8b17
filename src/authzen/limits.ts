/**
 * Bounds on what a policy enforcement point may send the PDP (AuthZEN 1.0 §12.7 asks a PDP to
 * guard against large payloads, deep nesting and memory use). Every one is enforced before any
 * decision is computed.
 */

/** Request bodies larger than this are refused (413) while they stream. */
export const AUTHZEN_MAX_BODY_BYTES = 64 * 1024;
/** Items in one `evaluations` array. */
export const AUTHZEN_MAX_EVALUATIONS = 100;
/** Nesting of objects and arrays in a request body (properties may nest; 16 is plenty). */
export const AUTHZEN_MAX_DEPTH = 16;
/** Length of a `type`, `id`, action `name`, client id, acr or amr value, in characters. */
export const AUTHZEN_MAX_STRING = 1024;
/** `amr` values in a context. */
export const AUTHZEN_MAX_AMR = 20;
/** Results in one search page: the default and the largest `page.limit` honoured. */
export const AUTHZEN_MAX_PAGE = 100;
/** Length of an `X-Request-ID` echoed back. */
export const AUTHZEN_MAX_REQUEST_ID = 200;
/** Length of a pagination token the PDP accepts (it issues much shorter ones). */
export const AUTHZEN_MAX_PAGE_TOKEN = 512;
/** `items` in one access request submission (one per denied scope; a denial never names more). */
export const AUTHZEN_MAX_REQUEST_ITEMS = 100;
/** Length of a task id in a status or cancel path: longer ones are unknown without a store lookup (the broker's are 47). */
export const AUTHZEN_MAX_TASK_ID = 100;
