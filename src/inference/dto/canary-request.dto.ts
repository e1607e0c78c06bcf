import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsNumber, IsOptional, Max, Min, ValidateNested } from 'class-validator';

import { AutoAbortDto } from './auto-abort.dto';
import { IsModelVersion } from './validators';

export class CanaryRequestDto {
  @ApiProperty({ description: 'A READY version other than the active one', example: 1, type: Number })
  @IsModelVersion('version')
  version: number;

  @ApiProperty({ description: 'Share of unpinned requests sent to the canary (0-100)', example: 10 })
  @IsNumber()
  @Min(0)
  @Max(100)
  percentage: number;

  @ApiPropertyOptional({ description: 'Same routing key (X-Routing-Key or API-key name) → same variant', example: false })
  @IsOptional()
  @IsBoolean()
  sticky?: boolean;

  @ApiPropertyOptional({ type: AutoAbortDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => AutoAbortDto)
  auto_abort?: AutoAbortDto;
}
