import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

import { IsModelId, IsModelVersion } from './validators';

/** `/v2/models/{name}` */
export class V2ModelParamDto {
  @ApiProperty({ example: 'iris' })
  @IsModelId('model name')
  name: string;
}

/** `/v2/models/{name}/versions/{v}` */
export class V2ModelVersionParamDto extends V2ModelParamDto {
  @ApiProperty({ example: '2', type: String })
  @IsModelVersion('model version')
  v: number;
}

/** `POST /v2/repository/index` body. */
export class V2IndexRequestDto {
  @ApiProperty({ required: false, description: 'true: only READY versions' })
  @IsOptional()
  @IsBoolean({ message: 'ready must be a boolean' })
  ready?: boolean;
}
