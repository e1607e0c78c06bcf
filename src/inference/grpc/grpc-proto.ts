import { GrpcObject, loadPackageDefinition, ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, Options } from '@grpc/proto-loader';
import { resolve } from 'node:path';

/** proto/ at the repository root (the same from src/ under ts-node and from dist/ after a build). */
export const PROTO_DIR = resolve(__dirname, '../../../proto');

/**
 * How the protos are read: field names as written (snake_case, as in the V2 JSON), 64-bit
 * integers as numbers (as V2 JSON carries them; beyond 2^53 they lose precision on input, while
 * 64-bit outputs are written as exact decimal strings), enums as names, defaults for absent
 * fields, and the name of the set member of each oneof.
 */
export const PROTO_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

/** The two services: inference.GRPCInferenceService and grpc.health.v1.Health. */
export interface GrpcServices {
  inference: ServiceClientConstructor;
  health: ServiceClientConstructor;
}

/** Loads proto/grpc_predict_v2.proto and proto/health.proto (servers and test clients alike). */
export function loadServices(): GrpcServices {
  const root = loadPackageDefinition(loadSync(['grpc_predict_v2.proto', 'health.proto'], PROTO_OPTIONS));
  const inference = root.inference as GrpcObject;
  const health = ((root.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject;
  return { inference: inference.GRPCInferenceService as ServiceClientConstructor, health: health.Health as ServiceClientConstructor };
}
