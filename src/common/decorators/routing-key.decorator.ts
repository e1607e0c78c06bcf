import { createParamDecorator, ExecutionContext } from '@nestjs/common';

import { contextOf } from '../http/request-context';

const SANE_KEY = /^[\x21-\x7e]{1,256}$/;

/**
 * The key sticky canaries hash: the `X-Routing-Key` header (e.g. a user id, for A/B tests), else
 * the API-key name; undefined when neither is present (then routing is random).
 */
export const RoutingKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
  const header = req.headers['x-routing-key'];
  if (typeof header === 'string' && SANE_KEY.test(header)) return header;
  return contextOf(req).client;
});
