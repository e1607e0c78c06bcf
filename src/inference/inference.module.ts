import { Module } from '@nestjs/common';

import { ModelsModule } from '../models/models.module';
import { ModelsController } from './models.controller';
import { PredictController } from './predict.controller';
import { RolloutController } from './rollout.controller';
import { V2RepositoryController } from './v2/v2-repository.controller';
import { V2Controller } from './v2/v2.controller';

/** The REST surfaces. Controllers only: they delegate to the models module. */
@Module({
  imports: [ModelsModule],
  controllers: [PredictController, ModelsController, RolloutController, V2Controller, V2RepositoryController],
})
export class InferenceModule {}
