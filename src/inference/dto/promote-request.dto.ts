import { ApiProperty } from '@nestjs/swagger';

import { IsModelVersion } from './validators';

export class PromoteRequestDto {
  @ApiProperty({ description: 'A READY version to make active (blue-green switch)', example: 1, type: Number })
  @IsModelVersion('version')
  version: number;
}
