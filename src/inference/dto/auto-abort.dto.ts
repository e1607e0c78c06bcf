import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsNumber, Max, Min } from 'class-validator';

export class AutoAbortDto {
  @ApiProperty({ description: 'End the canary when its error rate exceeds this (0-1)', example: 0.1 })
  @IsNumber()
  @Min(0)
  @Max(1)
  max_error_rate: number;

  @ApiProperty({ description: 'Only judge after this many canary requests', example: 20 })
  @IsInt()
  @Min(1)
  min_requests: number;
}
