import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { createApp, SETOSA } from './support/create-app';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Every date a response carries, read off one app: /predict, /predict/batch, /models/:id, /health. */
async function datesOf(app: INestApplication) {
  const server = app.getHttpServer();
  const predicted = await request(server).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
  const batch = await request(server).post('/predict/batch?model_id=iris').send([SETOSA]).expect(200);
  const model = await request(server).get('/models/iris').expect(200);
  const report = await request(server).get('/health').expect(200);
  const active = model.body.versions.find((v: { stage: string | null }) => v.stage === 'active');
  return {
    predict: predicted.body.timestamp as unknown,
    batch: batch.body.timestamp as unknown,
    loadedAt: active.loaded_at as unknown,
    lastCheck: active.health.last_check as unknown,
    healthLastCheck: report.body.details['model:iris'].last_check as unknown,
    requestId: predicted.body.request_id as unknown,
    batchId: batch.body.batch_id as unknown,
  };
}

describe('SERIALIZATION_PRESET decides how every response date is written (real AppModule)', () => {
  it('api (the default): ISO 8601 strings', async () => {
    // Arrange
    const app = await createApp();

    try {
      // Act
      const sut = await datesOf(app);

      // Assert
      for (const date of [sut.predict, sut.batch, sut.loadedAt, sut.lastCheck, sut.healthLastCheck]) expect(date).toMatch(ISO);
    } finally {
      await app.close();
    }
  });

  it('performance: unix seconds (numbers) for the same fields, ids still strings', async () => {
    // Arrange
    const before = Date.now() / 1000;
    const app = await createApp({ env: { SERIALIZATION_PRESET: 'performance' } });

    try {
      // Act
      const sut = await datesOf(app);

      // Assert
      for (const date of [sut.predict, sut.batch, sut.loadedAt, sut.lastCheck, sut.healthLastCheck]) {
        expect(typeof date).toBe('number');
        expect(date as number).toBeGreaterThan(before - 3600);
      }
      expect(sut.predict as number).toBeGreaterThanOrEqual(before);
      expect(typeof sut.requestId).toBe('string');
      expect(typeof sut.batchId).toBe('string');
    } finally {
      await app.close();
    }
  });
});
