import { Module } from '@nestjs/common';

import { ModelCatalogService } from './model-catalog.service';
import { PredictionService } from './prediction.service';
import { ModelRegistryService } from './registry/model-registry.service';
import { ModelRepositoryService } from './repository/model-repository.service';
import { DefaultRuntimeFactory } from './runtimes/default-runtime.factory';
import { ModelRuntimeFactory } from './runtimes/model-runtime';
import { PredictionMonitor } from './wrapper/prediction-monitor';

/** Model repository, runtimes, registry and the prediction orchestration. */
@Module({
  providers: [
    ModelRepositoryService,
    { provide: ModelRuntimeFactory, useClass: DefaultRuntimeFactory },
    ModelRegistryService,
    PredictionService,
    PredictionMonitor,
    ModelCatalogService,
  ],
  exports: [ModelRegistryService, PredictionService, ModelRepositoryService, ModelCatalogService],
})
export class ModelsModule {}
