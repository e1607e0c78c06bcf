import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

import { headerLength, INFERENCE_HEADER_CONTENT_LENGTH } from '../../inference/v2/v2-binary';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';

/** Where the binary part of a V2 request body is kept for the controller. */
export const BINARY_TENSOR_DATA = Symbol('binaryTensorData');

/** As Express routes them: case-insensitive, an optional trailing slash. */
const INFER_PATH = /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer\/?$/i;

/**
 * A V2 inference request in the binary tensor data extension: POST to an infer route with an
 * `Inference-Header-Content-Length` header (tritonclient's default). Its body is read raw, whatever
 * its Content-Type.
 */
export function isBinaryInferRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.headers[INFERENCE_HEADER_CONTENT_LENGTH] !== undefined && INFER_PATH.test((req.url ?? '').split('?')[0]);
}

/**
 * After the raw body parser: splits a binary-extension body into its JSON header (req.body, then
 * checked by the input limits like any JSON body) and the tensor bytes after it.
 */
export function binaryInferBodyMiddleware(req: Request, _res: Response, next: NextFunction): void {
  if (!Buffer.isBuffer(req.body) || !isBinaryInferRequest(req)) return next();
  const body = req.body;
  const length = headerLength(req.headers[INFERENCE_HEADER_CONTENT_LENGTH], body.length);
  if (typeof length === 'string') return next(new AppError(ErrorCode.BAD_REQUEST, length));
  try {
    req.body = JSON.parse(body.subarray(0, length).toString('utf8'));
  } catch {
    return next(new AppError(ErrorCode.MALFORMED_JSON, 'Malformed JSON in the inference header (the first Inference-Header-Content-Length bytes)'));
  }
  (req as Request & { [BINARY_TENSOR_DATA]?: Buffer })[BINARY_TENSOR_DATA] = body.subarray(length);
  next();
}

/** The binary tensor data of the request, if it came in the binary extension. */
export const binaryTensorDataOf = (req: Request): Buffer | undefined => (req as Request & { [BINARY_TENSOR_DATA]?: Buffer })[BINARY_TENSOR_DATA];
