import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';

export class ModelIdParamDto {
  @ApiProperty({ example: 'iris' })
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'id must be 1-64 chars of [A-Za-z0-9._-]' })
  id: string;
}
