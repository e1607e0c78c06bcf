import { createParamDecorator, ExecutionContext } from '@nestjs/common';

import { contextOf } from '../http/request-context';

const SANE_KEY = /^[\x21-\x7e]{1,256}$/;

/** The sticky routing key from an `x-routing-key` value (HTTP header or gRPC metadata) when sane, else the API-key name. */
export function routingKeyOf(header: unknown, client: string | undefined): string | undefined {
  return typeof header === 'string' && SANE_KEY.test(header) ? header : client;
}

/**
 * The key sticky canaries hash: the `X-Routing-Key` header (e.g. a user id, for A/B tests), else
 * the API-key name; undefined when neither is present (then routing is random).
 */
export const RoutingKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
  return routingKeyOf(req.headers['x-routing-key'], contextOf(req).client);
});
