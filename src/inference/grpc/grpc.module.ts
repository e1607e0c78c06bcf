import { Module } from '@nestjs/common';

import { ModelsModule } from '../../models/models.module';
import { InferenceModule } from '../inference.module';
import { GrpcCallGate } from './grpc-call-gate';
import { GrpcInferenceService } from './grpc-inference.service';
import { GrpcServerService } from './grpc-server.service';

/**
 * The KServe V2 gRPC transport beside REST: the grpc-js server, its call gate (keys, limits,
 * errors, log lines) and the methods, on the V2 services the REST routes use.
 */
@Module({
  imports: [ModelsModule, InferenceModule],
  providers: [GrpcCallGate, GrpcInferenceService, GrpcServerService],
  exports: [GrpcServerService],
})
export class GrpcModule {}
