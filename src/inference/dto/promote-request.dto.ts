import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

import { ToVersion } from './validators';

export class PromoteRequestDto {
  @ApiProperty({ description: 'A READY version to make active (blue-green switch)', example: 1, type: Number })
  @ToVersion()
  @IsInt({ message: 'version must be a positive integer' })
  @Min(1)
  @Max(999999999)
  version: number;
}
