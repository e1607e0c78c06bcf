/** Minimal dense row-major float64 matrices: just what full-batch training needs. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  const m = zeros(rows.length, rows[0]?.length ?? 0);
  rows.forEach((row, i) => m.data.set(row, i * m.cols));
  return m;
}

/** C = op(A) * op(B), where op transposes when the matching flag is set. */
export function matmul(a: Matrix, b: Matrix, transA = false, transB = false): Matrix {
  const [n, k] = transA ? [a.cols, a.rows] : [a.rows, a.cols];
  const [k2, m] = transB ? [b.cols, b.rows] : [b.rows, b.cols];
  if (k !== k2) throw new Error(`matmul shape mismatch: ${n}x${k} * ${k2}x${m}`);
  const at = (i: number, p: number) => (transA ? a.data[p * a.cols + i] : a.data[i * a.cols + p]);
  const bt = (p: number, j: number) => (transB ? b.data[j * b.cols + p] : b.data[p * b.cols + j]);
  const c = zeros(n, m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const aip = at(i, p);
      if (aip === 0) continue; // ReLU activations are sparse
      for (let j = 0; j < m; j++) c.data[i * m + j] += aip * bt(p, j);
    }
  }
  return c;
}

/** Adds `bias` (length cols) to every row, in place. */
export function addRowVector(m: Matrix, bias: Float64Array): Matrix {
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) m.data[i * m.cols + j] += bias[j];
  }
  return m;
}

/** Column sums (bias gradients). */
export function columnSums(m: Matrix): Float64Array {
  const sums = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) sums[j] += m.data[i * m.cols + j];
  }
  return sums;
}

/** Row-wise softmax, in place, max-shifted for numerical stability. */
export function softmaxRows(m: Matrix): Matrix {
  for (let i = 0; i < m.rows; i++) {
    const row = m.data.subarray(i * m.cols, (i + 1) * m.cols);
    const max = Math.max(...row);
    let sum = 0;
    for (let j = 0; j < row.length; j++) sum += row[j] = Math.exp(row[j] - max);
    for (let j = 0; j < row.length; j++) row[j] /= sum;
  }
  return m;
}

/**
 * Solves A x = b for square A by Gaussian elimination with partial pivoting
 * (used for the 6x6 normal equations of the linear regressor).
 */
export function solve(a: Matrix, b: Float64Array): Float64Array {
  const n = a.rows;
  const m = a.data.slice();
  const x = b.slice();
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r * n + col]) > Math.abs(m[pivot * n + col])) pivot = r;
    }
    if (Math.abs(m[pivot * n + col]) < 1e-12) throw new Error('solve: matrix is singular');
    if (pivot !== col) {
      for (let j = 0; j < n; j++) [m[col * n + j], m[pivot * n + j]] = [m[pivot * n + j], m[col * n + j]];
      [x[col], x[pivot]] = [x[pivot], x[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col] / m[col * n + col];
      for (let j = col; j < n; j++) m[r * n + j] -= f * m[col * n + j];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let j = r + 1; j < n; j++) s -= m[r * n + j] * x[j];
    x[r] = s / m[r * n + r];
  }
  return x;
}
