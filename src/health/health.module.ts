import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { ShutdownState } from '../common/lifecycle/shutdown-state';
import { ModelsModule } from '../models/models.module';
import { HealthController } from './health.controller';
import { ModelsHealthIndicator } from './indicators/models.health';
import { ProcessHealthIndicator } from './indicators/process.health';
import { RedisHealthIndicator } from './indicators/redis.health';
import { ServerReadiness } from './server-readiness';
import { V2HealthController } from './v2-health.controller';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json', logger: false }), ModelsModule],
  controllers: [HealthController, V2HealthController],
  providers: [ShutdownState, ServerReadiness, ModelsHealthIndicator, ProcessHealthIndicator, RedisHealthIndicator],
  exports: [ShutdownState, ServerReadiness],
})
export class HealthModule {}
