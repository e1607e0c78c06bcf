import { RegistryState, validateRegistryState } from './registry-state';

const valid = (): RegistryState => ({
  version: 1,
  updated_at: '2025-01-02T03:04:05.000Z',
  models: {
    iris: {
      active: 2,
      staging: 1,
      previous_active: 1,
      canary: { version: 3, percentage: 12.5, sticky: true, auto_abort: { max_error_rate: 0.05, min_requests: 100 } },
      shadow: { version: 3, percentage: 100 },
    },
    wine: {},
  },
});

/** `valid()` with `patch` applied to the iris model. */
function withIris(patch: Record<string, unknown>): unknown {
  const state = valid();
  return { ...state, models: { ...state.models, iris: { ...state.models.iris, ...patch } } };
}

describe('validateRegistryState', () => {
  it('accepts a complete state and returns it', () => {
    // Arrange
    const raw = valid();

    // Act
    const result = validateRegistryState(raw);

    // Assert
    expect(result).toEqual({ state: raw, problems: [] });
  });

  it('accepts a state with no models and models with no settings', () => {
    // Act
    const result = validateRegistryState({ version: 1, updated_at: '2025-01-01T00:00:00Z', models: {} });

    // Assert
    expect(result.problems).toEqual([]);
    expect(result.state).toBeDefined();
  });

  it.each([
    ['a non-object', 'nonsense', 'state must be a JSON object'],
    ['an array', [], 'state must be a JSON object'],
    ['another document version', { ...valid(), version: 2 }, 'state.version must be 1 (got 2)'],
    ['a missing timestamp', { version: 1, models: {} }, 'state.updated_at must be an ISO 8601 timestamp (got missing)'],
    ['a bad timestamp', { ...valid(), updated_at: 'yesterday' }, 'state.updated_at must be an ISO 8601 timestamp'],
    ['models that are not an object', { ...valid(), models: [] }, 'state.models must be an object'],
    ['an unknown top-level key', { ...valid(), extra: true }, 'state.extra is not a known field'],
    ['an invalid model name', { ...valid(), models: { 'bad name': {} } }, "'bad name' is not a valid model name"],
    ['a model that is not an object', { ...valid(), models: { iris: 3 } }, 'models.iris must be an object'],
    ['a zero version', withIris({ active: 0 }), 'models.iris.active must be a positive integer (got 0)'],
    ['a fractional version', withIris({ staging: 1.5 }), 'models.iris.staging must be a positive integer (got 1.5)'],
    ['a string version', withIris({ previous_active: '2' }), 'models.iris.previous_active must be a positive integer (got "2")'],
    ['a null version', withIris({ active: null }), 'models.iris.active must be a positive integer (got null)'],
    ['an unknown model key', withIris({ canary_pct: 5 }), 'models.iris.canary_pct is not a known field'],
    ['a canary percentage of 150', withIris({ canary: { version: 3, percentage: 150, sticky: false } }), 'models.iris.canary.percentage must be a number between 0 and 100 (got 150)'],
    ['a negative canary percentage', withIris({ canary: { version: 3, percentage: -1, sticky: false } }), 'models.iris.canary.percentage'],
    ['a canary without a version', withIris({ canary: { percentage: 5, sticky: false } }), 'models.iris.canary.version must be a positive integer (got missing)'],
    ['a non-boolean sticky', withIris({ canary: { version: 3, percentage: 5, sticky: 'yes' } }), 'models.iris.canary.sticky must be a boolean (got "yes")'],
    ['a missing sticky', withIris({ canary: { version: 3, percentage: 5 } }), 'models.iris.canary.sticky must be a boolean (got missing)'],
    ['an unknown canary key', withIris({ canary: { version: 3, percentage: 5, sticky: false, weight: 1 } }), 'models.iris.canary.weight is not a known field'],
    ['a canary that is not an object', withIris({ canary: 10 }), 'models.iris.canary must be an object'],
    ['an error rate above 1', withIris({ canary: { version: 3, percentage: 5, sticky: false, auto_abort: { max_error_rate: 5, min_requests: 10 } } }), 'models.iris.canary.auto_abort.max_error_rate must be a number between 0 and 1'],
    ['a negative min_requests', withIris({ canary: { version: 3, percentage: 5, sticky: false, auto_abort: { max_error_rate: 0.1, min_requests: -1 } } }), 'models.iris.canary.auto_abort.min_requests must be a non-negative integer'],
    ['an unknown auto_abort key', withIris({ canary: { version: 3, percentage: 5, sticky: false, auto_abort: { max_error_rate: 0.1, min_requests: 1, window: 5 } } }), 'models.iris.canary.auto_abort.window is not a known field'],
    ['a shadow percentage of 101', withIris({ shadow: { version: 3, percentage: 101 } }), 'models.iris.shadow.percentage must be a number between 0 and 100 (got 101)'],
    ['an unknown shadow key', withIris({ shadow: { version: 3, percentage: 1, sticky: true } }), 'models.iris.shadow.sticky is not a known field'],
  ])('rejects %s', (_name, raw, expected) => {
    // Act
    const result = validateRegistryState(raw);

    // Assert
    expect(result.state).toBeUndefined();
    expect(result.problems).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  it('reports every problem at once', () => {
    // Arrange
    const raw = { version: 1, updated_at: '2025-01-01T00:00:00Z', models: { iris: { active: -1, shadow: { version: 0, percentage: 200 } }, wine: { stagng: 2 } } };

    // Act
    const result = validateRegistryState(raw);

    // Assert
    expect(result.problems).toHaveLength(4);
  });

  it('accepts the percentage bounds 0 and 100 and a fractional percentage', () => {
    // Act
    const results = [0, 100, 0.5].map((percentage) => validateRegistryState(withIris({ canary: { version: 3, percentage, sticky: false } })));

    // Assert
    expect(results.map((r) => r.problems)).toEqual([[], [], []]);
  });

  it('does not throw on hostile input', () => {
    // Arrange
    const inputs: unknown[] = [null, undefined, 0, '', [], { models: null }, { version: 1, updated_at: 1, models: { a: null } }];

    // Act / Assert
    for (const raw of inputs) expect(() => validateRegistryState(raw)).not.toThrow();
  });
});
