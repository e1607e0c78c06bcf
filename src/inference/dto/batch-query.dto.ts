import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';

import { IsModelId, IsModelVersion } from './validators';

export class BatchQueryDto {
  @ApiPropertyOptional({ description: 'Model to use; MODEL_ID when omitted', example: 'iris' })
  @IsOptional()
  @IsModelId('model_id')
  model_id?: string;

  @ApiPropertyOptional({ description: 'Pin a version', example: '2', type: String })
  @IsOptional()
  @IsModelVersion('model_version')
  model_version?: number;
}
