import { SpanStatusCode } from '@opentelemetry/api';

import { SpanRecorder } from '../../../test/support/span-recorder';
import { NamedTensors } from '../tensors/tensor';
import { BatchRunner, DynamicBatcher, DynamicBatcherOptions } from './dynamic-batcher';

const row = (v: number): NamedTensors => ({ x: { datatype: 'FP32', shape: [1, 1], data: Float32Array.of(v) } });

/** Echoes its inputs; holds every call until `release()`, or fails it when `fail` is set. */
class HeldRunner implements BatchRunner {
  fail = false;
  private held: (() => void)[] = [];
  private called: (() => void) | undefined;

  run(inputs: NamedTensors): Promise<NamedTensors> {
    this.called?.();
    return new Promise((resolve, reject) => this.held.push(() => (this.fail ? reject(new Error('device lost (injected)')) : resolve(inputs))));
  }

  /** Resolves once the batcher has handed a batch to the runner. */
  whenCalled(): Promise<void> {
    return this.held.length > 0 ? Promise.resolve() : new Promise((resolve) => { this.called = resolve; });
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }
}

const OPTIONS: DynamicBatcherOptions = { enabled: true, maxBatchSize: 8, maxQueueDelayMs: 5, maxQueue: 64, traceAttributes: { 'model.id': 'm', 'model.version': '1' } };

describe('DynamicBatcher tracing', () => {
  let recorder: SpanRecorder;

  beforeAll(() => {
    recorder = new SpanRecorder();
  });

  afterEach(() => recorder.reset());

  afterAll(async () => {
    await recorder.stop();
  });

  it('records ONE inference span per batch under the first traced request, linked to the others; a batch.wait per traced request, linked to it', async () => {
    // Arrange: three requests of two traces and one untraced, merged into one batch.
    const runner = new HeldRunner();
    const sut = new DynamicBatcher(runner, OPTIONS);
    const a = recorder.serverSpan('predict-a');
    const b = recorder.serverSpan('predict-b');

    // Act
    const answers = [sut.run(row(1), undefined, a), sut.run(row(2)), sut.run(row(3), undefined, b)];
    await runner.whenCalled();
    runner.release();
    await Promise.all(answers);
    a.end();
    b.end();

    // Assert
    const inference = recorder.one('inference');
    expect(inference.parentSpanContext?.spanId).toBe(a.spanContext().spanId);
    expect(inference.links.map((l) => l.context.spanId)).toEqual([b.spanContext().spanId]);
    expect(inference.attributes).toEqual({ 'model.id': 'm', 'model.version': '1', 'batch.size': 3, 'batch.rows': 3 });
    const waits = recorder.named('batch.wait');
    expect(waits.map((w) => w.parentSpanContext?.spanId).sort()).toEqual([a.spanContext().spanId, b.spanContext().spanId].sort());
    for (const wait of waits) {
      expect(wait.links.map((l) => l.context.spanId)).toEqual([inference.spanContext().spanId]);
      expect(wait.attributes).toMatchObject({ 'batch.size': 3, 'batch.rows': 3 });
      expect(wait.attributes['batch.queue_time_ms']).toBeGreaterThanOrEqual(0);
    }
    expect(recorder.inTrace(b.spanContext().traceId).map((s) => s.name).sort()).toEqual(['batch.wait', 'predict-b']);
  });

  it('records nothing for a batch with no traced request', async () => {
    // Arrange
    const runner = new HeldRunner();
    const sut = new DynamicBatcher(runner, OPTIONS);

    // Act
    const answer = sut.run(row(1));
    await runner.whenCalled();
    runner.release();
    await answer;

    // Assert
    expect(recorder.spans()).toEqual([]);
  });

  it("fails the batch's inference span when the runner fails", async () => {
    // Arrange
    const runner = new HeldRunner();
    runner.fail = true;
    const sut = new DynamicBatcher(runner, OPTIONS);
    const a = recorder.serverSpan('predict-a');

    // Act
    const answer = sut.run(row(1), undefined, a).catch((e: unknown) => e);
    await runner.whenCalled();
    runner.release();
    await answer;
    a.end();

    // Assert
    const inference = recorder.one('inference');
    expect(inference.status.code).toBe(SpanStatusCode.ERROR);
    expect(inference.attributes['error.type']).toBe('INTERNAL');
    expect(JSON.stringify(inference.events)).not.toMatch(/device lost/);
  });

  it('with batching off, each traced request gets its own inference span and no batch.wait', async () => {
    // Arrange
    const runner = new HeldRunner();
    const sut = new DynamicBatcher(runner, { ...OPTIONS, enabled: false });
    const a = recorder.serverSpan('predict-a');

    // Act
    const answer = sut.run(row(1), undefined, a);
    await runner.whenCalled();
    runner.release();
    await answer;
    a.end();

    // Assert
    expect(recorder.one('inference').parentSpanContext?.spanId).toBe(a.spanContext().spanId);
    expect(recorder.named('batch.wait')).toEqual([]);
  });
});
