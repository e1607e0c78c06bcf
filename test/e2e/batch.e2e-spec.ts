import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { createApp, expectEnvelope, SETOSA, VIRGINICA } from './support/create-app';

describe('POST /predict/batch', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: { MAX_BATCH_ITEMS: '100' } }); });
  afterAll(async () => { await app.close(); });

  const batch = (body: unknown, query = 'model_id=iris') =>
    request(app.getHttpServer()).post(`/predict/batch?${query}`).send(body as object);

  it('answers every item in order, bare features and {features} alike', async () => {
    const res = await batch([SETOSA, { features: VIRGINICA }, [5.1, 3.5, 1.4, 0.2]]).expect(200);
    expect(res.body).toMatchObject({ model_id: 'iris', model_version: '2', batch_size: 3, succeeded: 3, failed: 0 });
    expect(res.body.batch_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.results.map((r: { prediction: { class: string } }) => r.prediction.class)).toEqual(['setosa', 'virginica', 'setosa']);
    expect(res.body.results.map((r: { index: number }) => r.index)).toEqual([0, 1, 2]);
  });

  it('a bad item gets an error in its slot; the rest succeed', async () => {
    const res = await batch([SETOSA, { sepal_length: 'wide' }, VIRGINICA, 42]).expect(200);
    expect(res.body).toMatchObject({ batch_size: 4, succeeded: 2, failed: 2 });
    const [ok, bad, ok2, notObject] = res.body.results;
    expect(ok).toMatchObject({ status: 'success', prediction: { class: 'setosa' } });
    expect(ok2).toMatchObject({ status: 'success', prediction: { class: 'virginica' } });
    expect(bad).toMatchObject({ index: 1, status: 'error', error: { code: 'VALIDATION_FAILED' } });
    expect(bad.error.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(['features.sepal_length', 'features.petal_width']));
    expect(notObject).toMatchObject({ index: 3, status: 'error', error: { code: 'VALIDATION_FAILED' } });
  });

  it('pins a version by query', async () => {
    const res = await batch([SETOSA], 'model_id=iris&model_version=1').expect(200);
    expect(res.body.model_version).toBe('1');
  });

  it('uses MODEL_ID without model_id', async () => {
    const res = await batch([SETOSA], '').expect(200);
    expect(res.body.model_id).toBe('iris');
  });

  it('runs a tensor model batch and splits outputs per item', async () => {
    const row = Array.from({ length: 256 }, (_, i) => i / 256);
    const res = await batch([{ input: [row] }, { input: [row, row] }], 'model_id=bench-mlp').expect(200);
    expect(res.body.results[0].prediction.output).toHaveLength(1);
    expect(res.body.results[1].prediction.output).toHaveLength(2);
    expect(res.body.results[1].prediction.output[0]).toEqual(res.body.results[0].prediction.output[0]);
  });

  it('more than MAX_BATCH_ITEMS → 400 naming the limit', async () => {
    const res = await batch(Array.from({ length: 101 }, () => SETOSA)).expect(400);
    expect(expectEnvelope(res.body, 'BATCH_TOO_LARGE').error.message).toMatch(/100 \(MAX_BATCH_ITEMS\)/);
  });

  it.each([[{ features: SETOSA }], [[]]])('a body that is not a non-empty array (%j) → 422', async (body) => {
    expectEnvelope((await batch(body).expect(422)).body, 'VALIDATION_FAILED');
  });

  it('unknown model → 404; bad query → 422', async () => {
    expectEnvelope((await batch([SETOSA], 'model_id=ghost').expect(404)).body, 'MODEL_NOT_FOUND');
    expectEnvelope((await batch([SETOSA], 'model_id=iris&model_version=x').expect(422)).body, 'VALIDATION_FAILED');
    expectEnvelope((await batch([SETOSA], 'model_id=iris&foo=1').expect(422)).body, 'VALIDATION_FAILED');
  });
});
