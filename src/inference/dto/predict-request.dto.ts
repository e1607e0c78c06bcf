import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsOptional, Matches, Max, Min, ValidateNested } from 'class-validator';

import { PredictOptionsDto } from './predict-options.dto';
import { IsObjectOrArray, ToVersion } from './validators';

export class PredictRequestDto {
  @ApiProperty({
    description: 'Feature values by name, or an array in the model\'s declared order. Models without a feature list take named tensors: `{ input_name: nested array }`.',
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'array', items: { type: 'number' } }],
    example: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  })
  @IsDefined()
  @IsObjectOrArray()
  features: Record<string, unknown> | unknown[];

  @ApiPropertyOptional({ description: 'Model to use; MODEL_ID when omitted', example: 'iris' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'model_id must be 1-64 chars of [A-Za-z0-9._-]' })
  model_id?: string;

  @ApiPropertyOptional({ description: 'Pin a version (variant "pinned"); the active version when omitted', example: '2', type: String })
  @IsOptional()
  @ToVersion()
  @IsInt({ message: 'model_version must be a positive integer' })
  @Min(1)
  @Max(999999999)
  model_version?: number;

  @ApiPropertyOptional({ type: PredictOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PredictOptionsDto)
  options?: PredictOptionsDto;
}
