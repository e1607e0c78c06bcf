import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';

import { ModelCatalogService } from '../models/model-catalog.service';
import { ModelIdParamDto } from './dto/model-id-param.dto';
import { ERROR_RESPONSES } from './swagger-examples';

@ApiTags('models')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('models')
export class ModelsController {
  constructor(private readonly catalog: ModelCatalogService) {}

  @Get()
  @ApiOperation({ summary: 'Every model with its state, active version and health metrics' })
  @ApiOkResponse()
  list() {
    return this.catalog.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One model: signature from the ONNX session, features, labels, versions with state, accuracy and metrics' })
  @ApiOkResponse()
  @ApiResponse({ status: 404, ...ERROR_RESPONSES[404] })
  describe(@Param() params: ModelIdParamDto) {
    return this.catalog.describe(params.id);
  }
}
