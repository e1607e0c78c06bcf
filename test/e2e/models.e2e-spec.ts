import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { createApp, expectEnvelope, SETOSA } from './support/create-app';

describe('GET /models, /models/:id and the docs', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp(); });
  afterAll(async () => { await app.close(); });

  it('lists every bundled model as READY with its active version', async () => {
    const res = await request(app.getHttpServer()).get('/models').expect(200);
    expect(res.body.default_model).toBe('iris');
    const byId = Object.fromEntries(res.body.models.map((m: { id: string }) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual(['bench-mlp', 'car-mpg', 'iris', 'penguins']);
    for (const m of Object.values(byId) as { state: string }[]) expect(m.state).toBe('READY');
    expect(byId.iris.active_version).toBe('2');
  });

  it('describes a model: signature read from the ONNX session, features, labels, versions with accuracy', async () => {
    await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
    const res = await request(app.getHttpServer()).get('/models/iris').expect(200);
    expect(res.body).toMatchObject({
      id: 'iris', task: 'classification', input_mode: 'features', active_version: '2',
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      labels: ['setosa', 'versicolor', 'virginica'],
    });
    const v2 = res.body.versions.find((v: { version: string }) => v.version === '2');
    expect(v2).toMatchObject({ state: 'READY', stage: 'active' });
    expect(v2.signature.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    expect(v2.signature.outputs).toEqual([{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }]);
    expect(v2.metrics.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(v2.health).toMatchObject({ status: 'healthy', error_count: 0 });
    expect(v2.health.total_requests).toBeGreaterThanOrEqual(1);
  });

  it('unknown model → 404 envelope; bad id → 422', async () => {
    expectEnvelope((await request(app.getHttpServer()).get('/models/ghost').expect(404)).body, 'MODEL_NOT_FOUND');
    expectEnvelope((await request(app.getHttpServer()).get('/models/bad%20id').expect(422)).body, 'VALIDATION_FAILED');
  });

  it('serves Swagger UI at /docs and the OpenAPI document at /docs-json with an example per route', async () => {
    await request(app.getHttpServer()).get('/docs').expect(200).expect('content-type', /html/);
    const doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/predict', '/predict/batch', '/models', '/models/{id}']));
    expect(doc.components.schemas.PredictRequestDto.properties.features.example).toEqual(SETOSA);
    expect(doc.paths['/predict/batch'].post.requestBody.content['application/json'].schema.example).toHaveLength(3);
  });
});
