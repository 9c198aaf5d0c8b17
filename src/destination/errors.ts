import { InvalidGrant } from '../oauth/errors.js';
import { toRefusalReason, type IdJagRejectionReason } from './reasons.js';

/** The only description that reaches the wire, whatever the reason. */
const WIRE_DESCRIPTION = 'The assertion is not valid for this authorization server';

/**
 * An ID-JAG refusal. It *is* an {@link InvalidGrant} (RFC 6749 §5.2 `invalid_grant`), so a
 * token endpoint renders it like any other; `idJagReason` and `detail` are for logs only.
 */
export class IdJagRejected extends InvalidGrant {
  constructor(
    readonly idJagReason: IdJagRejectionReason,
    detail?: string,
  ) {
    super(toRefusalReason(idJagReason), WIRE_DESCRIPTION, detail === undefined ? idJagReason : `${idJagReason}: ${detail}`);
    this.name = 'IdJagRejected';
  }
}
