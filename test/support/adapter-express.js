'use strict';
// jest setupFiles of the `express` project: the e2e suite again, every app and child server on Express.
process.env.HTTP_ADAPTER = 'express';
