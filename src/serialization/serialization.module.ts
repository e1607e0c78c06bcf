import { DynamicModule, FactoryProvider, Module, ModuleMetadata } from '@nestjs/common';

import { SERIALIZATION_OPTIONS, SerializationConfig, SerializationPreset } from './serialization-config';
import { SerializationInterceptor } from './serialization.interceptor';
import { SerializationConfigInput, SerializationService } from './serialization.service';

type ConfigSource = SerializationConfig | SerializationPreset;

export interface SerializationModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: FactoryProvider['inject'];
  /** Returns the config (or a preset name) applied to every response. */
  // `any[]` mirrors Nest's own FactoryProvider: injected values are typed by the caller.
  useFactory: (...args: any[]) => ConfigSource | Promise<ConfigSource>;
}

/**
 * Global module exporting `SerializationService`, `SerializationInterceptor` and the resolved
 * `SERIALIZATION_OPTIONS`. AppModule registers the interceptor (APP_INTERCEPTOR), so
 * cross-cutting wiring stays in one place.
 */
@Module({})
export class SerializationModule {
  /** Config from a factory (e.g. ConfigService); validated once at boot, so a bad config fails fast. */
  static registerAsync(options: SerializationModuleAsyncOptions): DynamicModule {
    const optionsProvider: FactoryProvider<SerializationConfig> = {
      provide: SERIALIZATION_OPTIONS,
      inject: options.inject ?? [],
      useFactory: async (...args: unknown[]) =>
        new SerializationService().resolve((await options.useFactory(...args)) as SerializationConfigInput),
    };
    return {
      module: SerializationModule,
      global: true,
      imports: options.imports ?? [],
      providers: [optionsProvider, SerializationService, SerializationInterceptor],
      exports: [SERIALIZATION_OPTIONS, SerializationService, SerializationInterceptor],
    };
  }

  /** Static config or preset name; shorthand for `registerAsync({ useFactory: () => config })`. */
  static register(config: ConfigSource = 'api'): DynamicModule {
    return SerializationModule.registerAsync({ useFactory: () => config });
  }
}
