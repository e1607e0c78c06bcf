import { RuntimeSignature } from '../../src/models/runtimes/model-runtime';

/**
 * A hand-made model for the V2 codec specs (REST and gRPC, which goes through the same codec): a
 * float feature matrix and a 64-bit id per row in, scores and a label per row out.
 */
export const V2_TEST_SIGNATURE: RuntimeSignature = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 4] },
    { name: 'ids', datatype: 'INT64', shape: [-1] },
  ],
  outputs: [
    { name: 'scores', datatype: 'FP32', shape: [-1, 3] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ],
};
