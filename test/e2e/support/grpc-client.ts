import { ChannelCredentials, Client, Metadata, ServiceError, status } from '@grpc/grpc-js';

import { loadServices } from '../../../src/inference/grpc/grpc-proto';

/** A reply, or the status of a failed call, with the trailing metadata either way. */
export interface GrpcReply<T = Record<string, unknown>> {
  response?: T;
  error?: ServiceError;
  trailers: Metadata;
}

type UnaryMethod = (request: unknown, metadata: Metadata, options: { deadline?: Date | number }, callback: (error: ServiceError | null, response?: unknown) => void) => { on(event: 'status', cb: (s: { metadata: Metadata }) => void): void };

/**
 * Real @grpc/grpc-js clients of both services, built from the repository's proto files with
 * proto-loader, as any client would build them.
 */
export class GrpcTestClient {
  readonly inference: Client;
  readonly health: Client;

  constructor(address: string) {
    const { inference, health } = loadServices();
    this.inference = new inference(address, ChannelCredentials.createInsecure());
    this.health = new health(address, ChannelCredentials.createInsecure());
  }

  /** Calls `method` with `metadata` (plain pairs) and never throws: the reply says how it ended. */
  call<T = Record<string, unknown>>(method: string, request: unknown, metadata: Record<string, string> = {}, deadline?: Date | number, client = this.inference): Promise<GrpcReply<T>> {
    const md = new Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise((resolve) => {
      let result: Omit<GrpcReply<T>, 'trailers'> | undefined;
      let trailers: Metadata | undefined;
      const settle = (): void => { if (result && trailers) resolve({ ...result, trailers }); };
      const fn = (client as unknown as Record<string, UnaryMethod>)[method].bind(client);
      const call = fn(request, md, deadline === undefined ? {} : { deadline }, (error, response) => {
        result = error ? { error } : { response: response as T };
        // A call that failed on the client (e.g. its deadline) may report no status with metadata.
        if (error && error.code === status.DEADLINE_EXCEEDED) trailers ??= new Metadata();
        settle();
      });
      call.on('status', (s) => { trailers = s.metadata; settle(); });
    });
  }

  close(): void {
    this.inference.close();
    this.health.close();
  }
}
