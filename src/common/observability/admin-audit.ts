/** One admin action (load, unload, promote, rollback, canary, shadow), allowed or refused: the audit trail's record. */
export interface AdminAuditEvent {
  /** The route's action name (`@AdminAction`). */
  action: string;
  /** The admin key's name (never the key); null when none was accepted. */
  actor: string | null;
  model: string | null;
  version: string | null;
  /** `ok` done; `refused` no or a wrong key (401/403); `failed` allowed, but the action answered an error. */
  outcome: 'ok' | 'refused' | 'failed';
  status: number;
  error_code?: string;
  /** The model's rollout state before and after (active, staging, canary, shadow, each version's state). */
  before?: unknown;
  after?: unknown;
  request_id: string;
  /** The request's trace, when tracing is on. */
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/** Where audit events go (a log event and a counter); a port, so the guard in common can record refusals. */
export abstract class AdminAudit {
  abstract record(event: AdminAuditEvent): void;
}
