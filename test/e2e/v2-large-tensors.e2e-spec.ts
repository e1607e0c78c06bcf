import { INestApplication } from '@nestjs/common';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

import { DET_MODEL } from '../support/det-model';
import { createApp, expectEnvelope, REPO_MODELS } from './support/create-app';

const ENV = { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };

/**
 * A model repository with the bundled iris and PaddleOCR's text detector `det` (x: [N, 3, H, W]
 * FP32, H and W multiples of 32; model.json names it only, the signature comes from the file).
 */
function detRepository(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nms-large-'));
  cpSync(join(REPO_MODELS, 'iris'), join(dir, 'iris'), { recursive: true });
  mkdirSync(join(dir, 'det', '1'), { recursive: true });
  cpSync(DET_MODEL, join(dir, 'det', '1', 'model.onnx'));
  writeFileSync(join(dir, 'det', 'model.json'), JSON.stringify({ name: 'det' }));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A det input of [1, 3, h, w] as V2 JSON (nested as the shape says), every pixel 0.5. */
function detJson(h: number, w: number): object {
  const row = new Array<number>(w).fill(0.5);
  const plane = Array.from({ length: h }, () => row);
  return { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, h, w], data: [[plane, plane, plane]] }] };
}

/** Asserts the V2 protocol's error body (exactly `{error}`, no stack, no source path) and returns its message. */
function v2Error(res: request.Response): string {
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(ts|js):\d+|onnxruntime_src|\.(h|cc):\d+/);
  return res.body.error as string;
}

describe('V2 with image-sized tensors (PaddleOCR det, real AppModule)', () => {
  let repository: { dir: string; remove: () => void };
  let app: INestApplication;
  beforeAll(async () => {
    repository = detRepository();
    app = await createApp({ env: { ...ENV, MODEL_REPOSITORY: repository.dir } });
  });
  afterAll(async () => {
    await app?.close();
    repository?.remove();
  });
  const server = () => app.getHttpServer();

  describe('runtime failures say what onnxruntime said', () => {
    it('det at 50x50 (not a multiple of 32) → 400 {error} with onnxruntime\'s message, sanitised', async () => {
      // Act
      const res = await request(server()).post('/v2/models/det/infer').send(detJson(50, 50)).expect(400);

      // Assert
      const message = v2Error(res);
      expect(message).toMatch(/^Inference failed for model 'det' version 1: the model cannot run these inputs: Non-zero status code returned while running Add node\. /);
      expect(message).toContain('Attempting to broadcast an axis by a dimension other than 1');
      expect(message).not.toContain('::');
    });

    it('/predict with the same tensor → 422 envelope with the same reason', async () => {
      // Arrange
      const { inputs } = detJson(50, 50) as { inputs: { data: unknown }[] };

      // Act
      const res = await request(server()).post('/predict').send({ model_id: 'det', features: { x: inputs[0].data } }).expect(422);

      // Assert
      const body = expectEnvelope(res.body, 'VALIDATION_FAILED');
      expect(body.error.message).toContain('Attempting to broadcast an axis by a dimension other than 1');
    });

    it('a bad request sent with good ones fails alone: the good ones are answered', async () => {
      // Act
      const [good1, bad, good2] = await Promise.all([
        request(server()).post('/v2/models/det/infer').send(detJson(64, 64)),
        request(server()).post('/v2/models/det/infer').send(detJson(50, 50)),
        request(server()).post('/v2/models/det/infer').send(detJson(64, 64)),
      ]);

      // Assert
      expect([good1.status, bad.status, good2.status]).toEqual([200, 400, 200]);
      expect(good1.body.outputs[0]).toMatchObject({ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [1, 1, 64, 64] });
      expect(good2.body.outputs[0].data).toEqual(good1.body.outputs[0].data);
    });
  });
});
