import { ApiProperty } from '@nestjs/swagger';
import { IsNumber, Max, Min } from 'class-validator';

import { IsModelVersion } from './validators';

export class ShadowRequestDto {
  @ApiProperty({ description: 'A READY version other than the active one', example: 1, type: Number })
  @IsModelVersion('version')
  version: number;

  @ApiProperty({ description: 'Share of stable requests also sent to the shadow after answering (0-100)', example: 100 })
  @IsNumber()
  @Min(0)
  @Max(100)
  percentage: number;
}
