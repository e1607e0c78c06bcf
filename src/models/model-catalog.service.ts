import { Injectable } from '@nestjs/common';

import { PredictionCache } from './cache/prediction-cache';
import { ModelRegistryService } from './registry/model-registry.service';
import { modelSummary, modelView } from './registry/model-view';

/** Read-only views of the registry for GET /models and GET /models/:id. */
@Injectable()
export class ModelCatalogService {
  constructor(
    private readonly registry: ModelRegistryService,
    private readonly cache: PredictionCache,
  ) {}

  /** Every model's summary (state, active version, health), and the default model's id. */
  list() {
    const models = this.registry.list().map(modelSummary);
    return { default_model: this.registry.defaultModel, count: models.length, models };
  }

  /** One model: signature, versions, stages, canary, health and its cache stats. Unknown model: 404. */
  describe(modelId: string) {
    return { ...modelView(this.registry.get(modelId)), cache: { enabled: this.cache.enabled, ...this.cache.stats(modelId) } };
  }
}
