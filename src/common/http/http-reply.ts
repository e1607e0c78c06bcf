/**
 * The part of a response object handlers may touch through `@Res({ passthrough: true })`: both
 * Express's `Response` and Fastify's `FastifyReply` have these two methods, so controllers stay
 * adapter-free.
 */
export interface HttpReply {
  status(code: number): unknown;
  header(name: string, value: string): unknown;
}
