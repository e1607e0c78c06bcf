import { Server, ServerCredentials, ServerWritableStream, status as GrpcStatus, UntypedServiceImplementation } from '@grpc/grpc-js';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { ShutdownState } from '../../common/lifecycle/shutdown-state';
import { AllConfig } from '../../config/app-config';
import { ServerReadiness } from '../../health/server-readiness';
import { GrpcCallGate } from './grpc-call-gate';
import { GrpcInferenceService } from './grpc-inference.service';
import { loadServices } from './grpc-proto';

const SERVICE = 'inference.GRPCInferenceService';

/** Names grpc.health.v1 answers for: the server as a whole ("") and the inference service. */
const HEALTH_SERVICES = new Set(['', SERVICE]);

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** How often a health Watch stream looks for a change of readiness. */
const WATCH_POLL_MS = 1000;

/**
 * The gRPC server (KServe V2 inference.GRPCInferenceService with Triton's repository, model
 * configuration and statistics RPCs, and grpc.health.v1.Health), a plain @grpc/grpc-js server
 * owned by this provider: started by {@link start} after the HTTP server listens (main.ts, and the
 * e2e apps the same way), drained with HTTP by the SIGTERM handler (ShutdownState), closed by
 * Nest's shutdown otherwise.
 */
@Injectable()
export class GrpcServerService implements OnApplicationShutdown {
  private readonly logger = new Logger('Grpc');
  private server: Server | undefined;
  private boundPort: number | undefined;
  private removeFromShutdown: (() => void) | undefined;
  private readonly watchers = new Set<ServerWritableStream<unknown, unknown>>();

  constructor(
    private readonly config: ConfigService<AllConfig, true>,
    private readonly gate: GrpcCallGate,
    private readonly rpc: GrpcInferenceService,
    private readonly readiness: ServerReadiness,
    private readonly shutdown: ShutdownState,
  ) {}

  /** The port bound (GRPC_PORT, or the one the OS chose for 0 in tests); undefined while not serving. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Binds GRPC_PORT on HOST and serves; resolves with the port, or undefined when GRPC_PORT is 0 (off). Idempotent. */
  async start(): Promise<number | undefined> {
    const { port, maxMessageBytes } = this.config.getOrThrow('grpc', { infer: true });
    if (port === 0 || this.server) return this.boundPort;
    const host = this.config.getOrThrow('app.host', { infer: true });
    const server = new Server({ 'grpc.max_receive_message_length': maxMessageBytes, 'grpc.max_send_message_length': maxMessageBytes });
    const services = loadServices();
    server.addService(services.inference.service, this.inferenceHandlers());
    server.addService(services.health.service, this.healthHandlers());
    const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.boundPort = await new Promise<number>((ok, fail) => server.bindAsync(address, ServerCredentials.createInsecure(), (e, bound) => (e ? fail(e) : ok(bound))));
    this.server = server;
    this.removeFromShutdown = this.shutdown.addServer(this);
    this.logger.log(`gRPC listening on ${host}:${this.boundPort} (${SERVICE}, grpc.health.v1.Health)`);
    return this.boundPort;
  }

  /**
   * Stops accepting calls and resolves once the calls in flight have been answered, or after
   * `timeoutMs` (SHUTDOWN_TIMEOUT_SECONDS), when the rest are cut. Health Watch streams end at
   * once (with NOT_SERVING). No-op when not serving.
   */
  drain(timeoutMs: number): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.server = undefined;
    this.boundPort = undefined;
    this.removeFromShutdown?.();
    for (const watcher of this.watchers) {
      watcher.write({ status: 'NOT_SERVING' });
      watcher.end();
    }
    this.watchers.clear();
    return new Promise((resolve) => {
      const cut = setTimeout(() => {
        this.logger.warn('gRPC drain timeout reached: cancelling the calls still in flight');
        server.forceShutdown();
        resolve();
      }, timeoutMs);
      server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
      this.logger.log('gRPC listener closed: new calls are refused');
    });
  }

  /** After SIGTERM the server was drained already; an app closed otherwise (tests) drains here. */
  onApplicationShutdown(): Promise<void> {
    return this.drain(this.shutdown.remainingMs() ?? this.config.getOrThrow('app.shutdownTimeoutSeconds', { infer: true }) * 1000);
  }

  private inferenceHandlers(): UntypedServiceImplementation {
    const { gate, rpc } = this;
    const path = (method: string): string => `/${SERVICE}/${method}`;
    return {
      ServerLive: gate.unary(path('ServerLive'), { access: 'public' }, () => rpc.serverLive()),
      ServerReady: gate.unary(path('ServerReady'), { access: 'public' }, () => rpc.serverReady()),
      ModelReady: gate.unary(path('ModelReady'), { access: 'client' }, (r: Parameters<GrpcInferenceService['modelReady']>[0]) => rpc.modelReady(r)),
      ServerMetadata: gate.unary(path('ServerMetadata'), { access: 'public' }, () => rpc.serverMetadata()),
      ModelMetadata: gate.unary(path('ModelMetadata'), { access: 'client' }, (r: Parameters<GrpcInferenceService['modelMetadata']>[0]) => rpc.modelMetadata(r)),
      ModelInfer: gate.unary(path('ModelInfer'), { access: 'client', prediction: true }, (r: Parameters<GrpcInferenceService['modelInfer']>[0], ctx) => rpc.modelInfer(r, ctx)),
      RepositoryIndex: gate.unary(path('RepositoryIndex'), { access: 'client' }, (r: { ready: boolean }) => rpc.repositoryIndex(r)),
      RepositoryModelLoad: gate.unary(path('RepositoryModelLoad'), { access: 'admin' }, (r: Parameters<GrpcInferenceService['repositoryModelLoad']>[0]) => rpc.repositoryModelLoad(r)),
      RepositoryModelUnload: gate.unary(path('RepositoryModelUnload'), { access: 'admin' }, (r: Parameters<GrpcInferenceService['repositoryModelUnload']>[0]) => rpc.repositoryModelUnload(r)),
      ModelConfig: gate.unary(path('ModelConfig'), { access: 'client' }, (r: Parameters<GrpcInferenceService['modelConfig']>[0]) => rpc.modelConfig(r)),
      ModelStatistics: gate.unary(path('ModelStatistics'), { access: 'client' }, (r: Parameters<GrpcInferenceService['modelStatistics']>[0]) => rpc.modelStatistics(r)),
    };
  }

  /** grpc.health.v1: SERVING exactly when /v2/health/ready answers ready (NOT_SERVING while shutting down). */
  private healthHandlers(): UntypedServiceImplementation {
    return {
      Check: this.gate.unary('/grpc.health.v1.Health/Check', { access: 'public' }, (r: { service: string }) => {
        const status = this.statusOf(r.service);
        if (status === 'SERVICE_UNKNOWN') throw new AppError(ErrorCode.NOT_FOUND, `Unknown service '${r.service}'`);
        return { status };
      }),
      Watch: (call: ServerWritableStream<{ service: string }, unknown>) => this.watch(call),
    };
  }

  private statusOf(service: string): ServingStatus {
    if (!HEALTH_SERVICES.has(service)) return 'SERVICE_UNKNOWN';
    return this.readiness.ready ? 'SERVING' : 'NOT_SERVING';
  }

  /** The current status at once, then each change, until the client cancels or the server drains. */
  private watch(call: ServerWritableStream<{ service: string }, unknown>): void {
    if (!this.server) {
      call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'shutting down' });
      return;
    }
    let last = this.statusOf(call.request.service);
    call.write({ status: last });
    const poll = setInterval(() => {
      const now = this.statusOf(call.request.service);
      if (now !== last) call.write({ status: (last = now) });
    }, WATCH_POLL_MS);
    poll.unref();
    const stop = (): void => {
      clearInterval(poll);
      this.watchers.delete(call as ServerWritableStream<unknown, unknown>);
    };
    this.watchers.add(call as ServerWritableStream<unknown, unknown>);
    call.once('cancelled', stop);
    call.once('finish', stop);
  }
}
