import { Module } from '@nestjs/common';

import { MemoryGuard } from '../../common/guards/memory.guard';
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
  // The gate's own MemoryGuard (Nest's guards do not run on the grpc-js server): the same RSS limit.
  providers: [GrpcCallGate, GrpcInferenceService, GrpcServerService, MemoryGuard],
  exports: [GrpcServerService],
})
export class GrpcModule {}
