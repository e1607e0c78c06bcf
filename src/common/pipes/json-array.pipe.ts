import { Injectable, PipeTransform } from '@nestjs/common';

import { AppError } from '../errors/app-error';

/** Accepts only a JSON array body (the seed's /predict/batch shape). */
@Injectable()
export class JsonArrayPipe implements PipeTransform<unknown, unknown[]> {
  transform(value: unknown): unknown[] {
    if (!Array.isArray(value)) {
      throw AppError.validation([{ field: 'body', message: 'must be a JSON array of feature objects' }]);
    }
    if (value.length === 0) throw AppError.validation([{ field: 'body', message: 'must contain at least one item' }]);
    return value;
  }
}
