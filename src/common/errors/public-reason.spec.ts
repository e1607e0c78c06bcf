import { MAX_PUBLIC_MESSAGE_LENGTH, publicRuntimeMessage } from './public-reason';

/** onnxruntime-node 1.30's text for the PaddleOCR det model run at [1, 3, 50, 50] (H and W must be multiples of 32). */
const BROADCAST = "Non-zero status code returned while running Add node. Name:'p2o.Add.250' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:563 void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 7 by 8\n";

describe('publicRuntimeMessage', () => {
  it('keeps onnxruntime\'s own words and drops its source location and native signature', () => {
    // Act
    const sut = publicRuntimeMessage(BROADCAST);

    // Assert
    expect(sut).toBe("Non-zero status code returned while running Add node. Name:'p2o.Add.250' Status Message: axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 7 by 8");
  });

  it('keeps a message without internals as it is, on one line', () => {
    // Act
    const sut = publicRuntimeMessage('Got invalid dimensions for input: x for the following indices\n index: 1 Got: 4 Expected: 3\n Please fix either the inputs/outputs or the model.');

    // Assert
    expect(sut).toBe('Got invalid dimensions for input: x for the following indices index: 1 Got: 4 Expected: 3 Please fix either the inputs/outputs or the model.');
  });

  it('hides absolute paths (POSIX and Windows) and colour codes', () => {
    // Act
    const posix = publicRuntimeMessage('\x1b[1;31mLoad model from /srv/models/det/1/model.onnx failed\x1b[m');
    const windows = publicRuntimeMessage('C:\\src\\ort\\kernel.cc:12 onnxruntime::common::Status onnxruntime::Foo::Compute(onnxruntime::OpKernelContext*) const index out of range');

    // Assert
    expect(posix).toBe('Load model from <path> failed');
    expect(windows).toBe('index out of range');
  });

  it('is bounded, and never empty', () => {
    // Act
    const long = publicRuntimeMessage(`shape ${'x'.repeat(5000)}`);
    const empty = publicRuntimeMessage('  \n ');

    // Assert
    expect(long).toHaveLength(MAX_PUBLIC_MESSAGE_LENGTH);
    expect(long.endsWith('…')).toBe(true);
    expect(empty).toBe('no reason given');
  });
});
