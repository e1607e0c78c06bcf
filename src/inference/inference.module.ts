import { Module } from '@nestjs/common';

import { AdminAudit } from '../common/observability/admin-audit';
import { ModelsModule } from '../models/models.module';
import { AuditInterceptor } from './audit/audit.interceptor';
import { AuditTrail } from './audit/audit-trail.service';
import { ModelsController } from './models.controller';
import { PredictController } from './predict.controller';
import { PredictService } from './predict/predict.service';
import { RolloutController } from './rollout.controller';
import { V2CatalogService } from './v2/v2-catalog.service';
import { V2ExtensionsController } from './v2/v2-extensions.controller';
import { V2ExtensionsService } from './v2/v2-extensions.service';
import { V2InferenceService } from './v2/v2-inference.service';
import { V2RepositoryController } from './v2/v2-repository.controller';
import { V2Controller } from './v2/v2.controller';

/**
 * The transports: thin codecs (seed `/predict`, KServe V2 REST) around the models module's data
 * plane, and the controllers that delegate to them.
 */
@Module({
  imports: [ModelsModule],
  // V2ExtensionsController before V2Controller: its `v2/models/stats` must match before `v2/models/:name` (Express takes the first).
  controllers: [PredictController, ModelsController, RolloutController, V2ExtensionsController, V2Controller, V2RepositoryController],
  providers: [PredictService, V2InferenceService, V2CatalogService, V2ExtensionsService, AuditTrail, { provide: AdminAudit, useExisting: AuditTrail }, AuditInterceptor],
  // For the gRPC transport (GrpcModule), which answers with the same services; AdminAudit for the API-key guard's refusals.
  exports: [V2InferenceService, V2CatalogService, V2ExtensionsService, AdminAudit],
})
export class InferenceModule {}
