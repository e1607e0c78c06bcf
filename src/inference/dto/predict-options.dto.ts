import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

export class PredictOptionsDto {
  @ApiPropertyOptional({ description: 'false bypasses the prediction cache for this request', example: true })
  @IsOptional()
  @IsBoolean()
  cache?: boolean;
}
