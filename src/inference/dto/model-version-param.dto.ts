import { ApiProperty } from '@nestjs/swagger';

import { IsModelId, IsModelVersion } from './validators';

export class ModelVersionParamDto {
  @ApiProperty({ example: 'iris' })
  @IsModelId('id')
  id: string;

  @ApiProperty({ example: '1', type: String })
  @IsModelVersion('v')
  v: number;
}
