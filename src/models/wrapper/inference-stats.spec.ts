import { InferenceStats } from './inference-stats';

const NONE = { count: 0, ns: 0 };

describe('InferenceStats', () => {
  it('starts at zero, with no batch sizes', () => {
    // Arrange
    const sut = new InferenceStats();

    // Act
    const snapshot = sut.snapshot();

    // Assert
    expect(snapshot).toEqual({
      last_inference: 0,
      inference_count: 0,
      execution_count: 0,
      inference_stats: {
        success: NONE, fail: NONE, queue: NONE, compute_input: NONE, compute_infer: NONE, compute_output: NONE, cache_hit: NONE, cache_miss: NONE,
      },
      batch_stats: [],
    });
  });

  it('counts a request per success and its rows as inferences', () => {
    // Arrange
    const sut = new InferenceStats();

    // Act
    sut.succeeded(4, 1_500, 1_000);
    sut.succeeded(1, 500, 2_000);

    // Assert
    const snapshot = sut.snapshot();
    expect(snapshot.inference_count).toBe(5);
    expect(snapshot.inference_stats.success).toEqual({ count: 2, ns: 2_000 });
    expect(snapshot.last_inference).toBe(2_000);
  });

  it('adds the execution of a batch to each of its requests, and once to its batch size', () => {
    // Arrange
    const sut = new InferenceStats();

    // Act
    sut.executed(3, 5, 10, 1_000, 20);
    sut.waited(100);
    sut.waited(200);
    sut.waited(300);

    // Assert
    const snapshot = sut.snapshot();
    expect(snapshot.execution_count).toBe(1);
    expect(snapshot.inference_stats.compute_input).toEqual({ count: 3, ns: 30 });
    expect(snapshot.inference_stats.compute_infer).toEqual({ count: 3, ns: 3_000 });
    expect(snapshot.inference_stats.compute_output).toEqual({ count: 3, ns: 60 });
    expect(snapshot.inference_stats.queue).toEqual({ count: 3, ns: 600 });
    expect(snapshot.batch_stats).toEqual([
      { batch_size: 5, compute_input: { count: 1, ns: 10 }, compute_infer: { count: 1, ns: 1_000 }, compute_output: { count: 1, ns: 20 } },
    ]);
  });

  it('keeps one entry per batch size, in batch-size order', () => {
    // Arrange
    const sut = new InferenceStats();

    // Act
    sut.executed(1, 8, 0, 800, 0);
    sut.executed(1, 1, 0, 100, 0);
    sut.executed(2, 8, 0, 900, 0);

    // Assert
    expect(sut.snapshot().batch_stats.map((b) => [b.batch_size, b.compute_infer.count, b.compute_infer.ns])).toEqual([[1, 1, 100], [8, 2, 1_700]]);
  });

  it('counts a cache hit as a success that queued for 0 ns, not as an inference', () => {
    // Arrange
    const sut = new InferenceStats();

    // Act
    sut.cacheLookedUp(true, 40);
    sut.answeredFromCache(40, 3_000);

    // Assert
    const snapshot = sut.snapshot();
    expect(snapshot.inference_stats.cache_hit).toEqual({ count: 1, ns: 40 });
    expect(snapshot.inference_stats.success).toEqual({ count: 1, ns: 40 });
    expect(snapshot.inference_stats.queue).toEqual({ count: 1, ns: 0 });
    expect(snapshot.inference_count).toBe(0);
    expect(snapshot.execution_count).toBe(0);
    expect(snapshot.last_inference).toBe(3_000);
  });

  it('times a cache miss as its lookup plus the insertion of the answer', () => {
    // Arrange
    const sut = new InferenceStats();

    // Act
    sut.cacheLookedUp(false, 30);
    sut.cacheInserted(70);

    // Assert
    expect(sut.snapshot().inference_stats.cache_miss).toEqual({ count: 1, ns: 100 });
  });

  it('counts failures apart from successes, and keeps the latest inference time', () => {
    // Arrange
    const sut = new InferenceStats();
    sut.succeeded(1, 10, 5_000);

    // Act
    sut.failed(250, 4_000);

    // Assert
    const snapshot = sut.snapshot();
    expect(snapshot.inference_stats.fail).toEqual({ count: 1, ns: 250 });
    expect(snapshot.inference_stats.success).toEqual({ count: 1, ns: 10 });
    expect(snapshot.last_inference).toBe(5_000);
  });

  it('answers a copy: changing a snapshot changes nothing recorded', () => {
    // Arrange
    const sut = new InferenceStats();
    sut.executed(1, 2, 1, 2, 3);
    const first = sut.snapshot();

    // Act
    first.inference_stats.compute_infer.ns = 999;
    first.batch_stats[0].compute_infer.count = 999;

    // Assert
    expect(sut.snapshot().inference_stats.compute_infer).toEqual({ count: 1, ns: 2 });
    expect(sut.snapshot().batch_stats[0].compute_infer).toEqual({ count: 1, ns: 2 });
  });
});
