import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Matches, Max, Min } from 'class-validator';

import { ToVersion } from './validators';

export class ModelVersionParamDto {
  @ApiProperty({ example: 'iris' })
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'id must be 1-64 chars of [A-Za-z0-9._-]' })
  id: string;

  @ApiProperty({ example: '1', type: String })
  @ToVersion()
  @IsInt({ message: 'v must be a positive integer' })
  @Min(1)
  @Max(999999999)
  v: number;
}
