// Shared by every program: work-group reductions over local memory, and the top-k order.
//
// Assumes the local size is a power of two (the host launches 2^k work-items per group).

// The column kernels (batchnorm_*_columns, bias_backward_columns): one work-item handles
// COLUMN_WIDTH neighbouring columns of a row-major matrix as one vector, so a CPU device's
// SIMD units work along the row whatever its compiler makes of the work-item loop. The host
// builds the program twice, -DCOLUMN_WIDTH=8 for the columns up to a multiple of 8 and 1 for
// the rest; `floatw` is float8 or float.
#ifndef COLUMN_WIDTH
#define COLUMN_WIDTH 1
#endif
#if COLUMN_WIDTH == 8
typedef float8 floatw;
#define load_w(p) vload8(0, (p))
#define store_w(v, p) vstore8((v), 0, (p))
#elif COLUMN_WIDTH == 1
typedef float floatw;
#define load_w(p) (*(p))
#define store_w(v, p) (*(p) = (v))
#else
#error "COLUMN_WIDTH must be 1 or 8"
#endif

static inline float group_sum(float value, __local float* scratch) {
    const int lid = get_local_id(0);
    scratch[lid] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = get_local_size(0) / 2; stride > 0; stride >>= 1) {
        if (lid < stride) scratch[lid] += scratch[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);  // scratch may be reused right after
    return total;
}

static inline float group_max(float value, __local float* scratch) {
    const int lid = get_local_id(0);
    scratch[lid] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = get_local_size(0) / 2; stride > 0; stride >>= 1) {
        if (lid < stride) scratch[lid] = fmax(scratch[lid], scratch[lid + stride]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float best = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return best;
}

// log(sum_i exp(x_i)) across the group, given each work-item's partial (max, sum of exp(x - max)).
static inline float group_logsumexp(float local_max, float local_sum, __local float* scratch) {
    const float m = group_max(local_max, scratch);
    const float s = group_sum(m == -INFINITY ? 0.0f : local_sum * exp(local_max - m), scratch);
    return m + log(s);
}

// Online log-sum-exp step: folds x into the running (max, sum of exp(· - max)).
static inline void lse_push(float x, float* running_max, float* running_sum) {
    if (x > *running_max) {
        *running_sum = *running_sum * exp(*running_max - x) + 1.0f;
        *running_max = x;
    } else {
        *running_sum += exp(x - *running_max);
    }
}

// log Σ_{j ≠ excluded} exp(scale·(x_j − shift_j)) over one row (shift NULL for none, excluded −1
// for none), in every work-item of the row's group. Built with -DROWS_SERIAL (CPU devices, where
// one work-item takes a whole row: OpenCLBackend.rowsRunSerially) it runs two passes, the max and
// then Σ exp eight columns at a time, so that the exps run as float8 instead of one data-dependent
// online update per element (PoCL: label_cross_entropy over 256 × 9 216, 17 ms → 4.7 ms).
static inline float row_logsumexp(__global const float* x, __global const float* shift, const int cols,
                                  const float scale, const int excluded, __local float* scratch) {
#ifdef ROWS_SERIAL
    float m = -INFINITY;
    for (int j = 0; j < cols; j++)
        if (j != excluded) m = fmax(m, scale * (x[j] - (shift ? shift[j] : 0.0f)));
    if (m == -INFINITY) return -INFINITY;
    float8 acc = (float8)(0.0f);
    const int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7);
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        const float8 v = scale * (vload8(0, x + j) - (shift ? vload8(0, shift + j) : (float8)(0.0f)));
        acc += select(exp(v - m), (float8)(0.0f), lane + j == (int8)(excluded));
    }
    float s = acc.s0 + acc.s1 + acc.s2 + acc.s3 + acc.s4 + acc.s5 + acc.s6 + acc.s7;
    for (; j < cols; j++)
        if (j != excluded) s += exp(scale * (x[j] - (shift ? shift[j] : 0.0f)) - m);
    return m + log(s);
#else
    float m = -INFINITY, s = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0))
        if (j != excluded) lse_push(scale * (x[j] - (shift ? shift[j] : 0.0f)), &m, &s);
    return group_logsumexp(m, s, scratch);
#endif
}

// The order of every top-k selection (eval.cl, knn.cl): real entries before empty ones (index
// < 0), larger value first, equal values by lower index.
static inline bool topk_better(float va, int ia, float vb, int ib) {
    if (ia < 0) return false;
    if (ib < 0) return true;
    return va > vb || (va == vb && ia < ib);
}
