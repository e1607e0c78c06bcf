import { RuntimeInputError, RuntimeRunError } from '../runtime-errors';
import { ortRunError } from './ort-run-error';

/**
 * Texts onnxruntime-node 1.30 gave for the PaddleOCR det model (x: [N, 3, H, W] FP32) on bad
 * inputs, copied from real runs; the runtime specs run the model itself.
 */
const INPUT_FAULTS: [string, string][] = [
  ['H and W not multiples of 32', "Non-zero status code returned while running Add node. Name:'p2o.Add.250' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:563 void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 7 by 8\n"],
  ['rank 3', 'Invalid rank for input: x Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.'],
  ['4 channels', 'Got invalid dimensions for input: x for the following indices\n index: 1 Got: 4 Expected: 3\n Please fix either the inputs/outputs or the model.'],
  ['INT32 data', 'Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))'],
  ['a zero dimension', "Non-zero status code returned while running Conv node. Name:'batch_norm_67.tmp_2_nchwc' Status Message: Invalid input shape: {0,64}"],
  ['a feed missing', "input 'x' is missing in 'feeds'."],
];

describe('ortRunError', () => {
  it.each(INPUT_FAULTS)('classifies onnxruntime\'s refusal of the inputs (%s) as an input error', (_, text) => {
    // Act
    const sut = ortRunError(new Error(text));

    // Assert
    expect(sut).toBeInstanceOf(RuntimeInputError);
    expect(sut.publicMessage).not.toMatch(/onnxruntime_src|\.h:\d+|::|\n/);
  });

  it('classifies other failures as run errors, their message made public', () => {
    // Act
    const sut = ortRunError(new Error('/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool) Failed to allocate memory for requested buffer of size 1073741824'));

    // Assert
    expect(sut).toBeInstanceOf(RuntimeRunError);
    expect(sut).not.toBeInstanceOf(RuntimeInputError);
    expect(sut.publicMessage).toBe('Failed to allocate memory for requested buffer of size 1073741824');
  });

  it('takes the text a worker thread posted (a string) as well as an Error', () => {
    // Act
    const sut = ortRunError('Invalid rank for input: x Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.');

    // Assert
    expect(sut).toBeInstanceOf(RuntimeInputError);
    expect(sut.publicMessage).toBe('Invalid rank for input: x Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.');
  });
});
