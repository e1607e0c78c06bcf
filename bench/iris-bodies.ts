import type autocannon from 'autocannon';

export const JSON_HEADERS = { 'content-type': 'application/json' };

export const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
  [6.3, 2.9, 5.6, 1.8],
  [4.9, 3.1, 1.5, 0.1],
];

/** An iris `/predict` body, sepal_length moved by `perturb` (rounded to 7 decimals). */
export function irisBody(row: number[], perturb = 0): string {
  return JSON.stringify({
    model_id: 'iris',
    features: {
      sepal_length: perturb ? Number((row[0] + perturb).toFixed(7)) : row[0],
      sepal_width: row[1],
      petal_length: row[2],
      petal_width: row[3],
    },
  });
}

/** Every body different (a unique perturbation of sepal_length), so a cache could never help. */
let irisSeq = 0;
export function uniqueIrisRequests(): autocannon.Request[] {
  return [
    {
      method: 'POST',
      path: '/predict',
      headers: JSON_HEADERS,
      setupRequest: (req) => {
        const n = irisSeq++;
        req.body = irisBody(IRIS_ROWS[n % IRIS_ROWS.length], ((n % 1_000_000) + 1) * 1e-7);
        return req;
      },
    },
  ];
}
