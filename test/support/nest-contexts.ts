import { CallHandler, ExecutionContext } from '@nestjs/common';
import { of } from 'rxjs';

/** An http ExecutionContext over a request and a response object, for guard and interceptor specs. */
export function httpContext(req: object, res: object): ExecutionContext {
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res, getNext: () => undefined }),
  } as unknown as ExecutionContext;
}

/** A handler that answers `body`. */
export const answering = (body: unknown): CallHandler => ({ handle: () => of(body) });
