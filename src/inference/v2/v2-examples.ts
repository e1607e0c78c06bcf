/** Swagger examples for the V2 routes (iris: four FP32 features in one row). */
export const V2_INFER_REQUEST_EXAMPLE = {
  id: 'req-42',
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
};

export const V2_INFER_RESPONSE_EXAMPLE = {
  model_name: 'iris',
  model_version: '2',
  id: 'req-42',
  parameters: {},
  outputs: [
    { name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: [0.9812, 0.0187, 0.0001] },
  ],
};
