import { PendingRoutingChanges, RoutingPlan } from './pending-routing-changes';
import { ModelRoutingState } from './state/registry-state';

/** The auto-abort's plan: end the canary if it is still on `version`. */
const abortOf = (version: number): RoutingPlan => (state) => (state.canary?.version === version ? { ...state, canary: undefined } : undefined);

const withCanary = (version: number): ModelRoutingState => ({ active: 2, canary: { version, percentage: 20, sticky: false } });

describe('PendingRoutingChanges', () => {
  const build = () => {
    const logger = { warn: jest.fn() };
    return { sut: new PendingRoutingChanges(logger), logger };
  };

  it('makes a pending change over every shared state it still applies to, until it is deleted', () => {
    // Arrange
    const { sut, logger } = build();
    sut.add('iris', 'the abort of canary version 1', abortOf(1));

    // Act
    const over = sut.over('iris', withCanary(1));
    const planned = sut.planned('iris', { ...withCanary(1), shadow: { version: 1, percentage: 5 } });
    const otherModel = sut.over('penguins', withCanary(1));
    sut.delete('iris');
    const afterDelete = sut.over('iris', withCanary(1));

    // Assert
    expect(over).toEqual({ active: 2, canary: undefined });
    expect(planned).toEqual({ active: 2, canary: undefined, shadow: { version: 1, percentage: 5 } });
    expect(otherModel).toEqual(withCanary(1));
    expect(afterDelete).toEqual(withCanary(1));
    expect(sut.models).toEqual([]);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('drops a change that no longer applies to the shared state (the shared state wins), with one warning', () => {
    // Arrange
    const { sut, logger } = build();
    sut.add('iris', 'the abort of canary version 1', abortOf(1));

    // Act
    const over = sut.over('iris', { active: 1 });
    const later = sut.over('iris', withCanary(1));

    // Assert
    expect(over).toEqual({ active: 1 });
    expect(later).toEqual(withCanary(1));
    expect(sut.has('iris')).toBe(false);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/^the abort of canary version 1 of 'iris', made on this replica only .* no longer applies to the shared state/));
  });

  it('keeps one change per model: a newer one replaces it', () => {
    // Arrange
    const { sut } = build();
    sut.add('iris', 'the abort of canary version 1', abortOf(1));

    // Act
    sut.add('iris', 'the abort of canary version 3', abortOf(3));

    // Assert
    expect(sut.models).toEqual(['iris']);
    expect(sut.over('iris', withCanary(3))).toEqual({ active: 2, canary: undefined });
  });
});
