import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

import { ToVersion } from './validators';

export class BatchQueryDto {
  @ApiPropertyOptional({ description: 'Model to use; MODEL_ID when omitted', example: 'iris' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'model_id must be 1-64 chars of [A-Za-z0-9._-]' })
  model_id?: string;

  @ApiPropertyOptional({ description: 'Pin a version', example: '2', type: String })
  @IsOptional()
  @ToVersion()
  @IsInt({ message: 'model_version must be a positive integer' })
  @Min(1)
  @Max(999999999)
  model_version?: number;
}
