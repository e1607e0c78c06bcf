import { ApiProperty } from '@nestjs/swagger';

import { IsModelId } from './validators';

export class ModelIdParamDto {
  @ApiProperty({ example: 'iris' })
  @IsModelId('id')
  id: string;
}
