import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsOptional, ValidateNested } from 'class-validator';

import { Opaque } from '../../common/pipes/opaque.decorator';
import { PredictOptionsDto } from './predict-options.dto';
import { IsModelId, IsModelVersion, IsObjectOrArray } from './validators';

export class PredictRequestDto {
  @ApiProperty({
    description: 'Feature values by name, or an array in the model\'s declared order. Models without a feature list take named tensors: `{ input_name: nested array }`; '
      + 'one whose only input is 2-D (`[-1, F]`) also takes a flat array of F values (one row) or nested rows.',
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'array', items: { type: 'number' } }],
    example: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  })
  @IsDefined()
  @IsObjectOrArray()
  @Opaque()
  features: Record<string, unknown> | unknown[];

  @ApiPropertyOptional({ description: 'Model to use; MODEL_ID when omitted', example: 'iris' })
  @IsOptional()
  @IsModelId('model_id')
  model_id?: string;

  @ApiPropertyOptional({ description: 'Pin a version (variant "pinned"); the active version when omitted', example: '2', type: String })
  @IsOptional()
  @IsModelVersion('model_version')
  model_version?: number;

  @ApiPropertyOptional({ type: PredictOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PredictOptionsDto)
  options?: PredictOptionsDto;
}
