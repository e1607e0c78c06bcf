import { Module } from '@nestjs/common';

import { ModelsModule } from '../models/models.module';
import { ModelsController } from './models.controller';
import { PredictController } from './predict.controller';
import { RolloutController } from './rollout.controller';

/** The REST surfaces. Controllers only: they delegate to the models module. */
@Module({
  imports: [ModelsModule],
  controllers: [PredictController, ModelsController, RolloutController],
})
export class InferenceModule {}
