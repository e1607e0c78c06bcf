import { Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';

import { buildConfig } from './app-config';

/**
 * Global typed configuration. The environment is read and validated once, at boot; a bad value
 * stops the start with one message naming every bad variable.
 */
@Module({
  imports: [
    NestConfigModule.forRoot({
      isGlobal: true,
      cache: true,
      ignoreEnvVars: false,
      load: [() => ({ ...buildConfig(process.env) })],
    }),
  ],
})
export class AppConfigModule {}
