import { SetMetadata } from '@nestjs/common';

export const PREDICTION_ROUTE = 'predictionRoute';

/**
 * Marks a route (or a controller) as a prediction route — or another client route with a cost per
 * call, such as the V2 repository index: the global guards shed it while memory is above
 * MAX_MEMORY_MB and hold each client to REQUESTS_PER_MINUTE / REQUESTS_PER_HOUR across every such
 * route. Other routes (health, metrics, metadata reads, admin) are neither shed nor throttled.
 */
export const PredictionRoute = () => SetMetadata(PREDICTION_ROUTE, true);
