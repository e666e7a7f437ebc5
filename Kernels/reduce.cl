// Sums along one axis, scaled (scale = 1 for a sum, 1/L for a mean).
//
// sum_rows:    the last axis; one work-group per row, local size 2^k, any row length.
// row_squared_norms: ‖x_r‖² per row, one work-group per row.
// sum_strided: any other axis of a tensor viewed as (outer, L, inner); one work-item per
//              (outer, inner) pair, so neighbouring work-items read neighbouring addresses.

__kernel void sum_rows(__global const float* x, __global float* out, const int cols,
                       const float scale, __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* r = x + (long)row * cols;
    float acc = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) acc += r[j];
    const float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0) out[row] = total * scale;
}

__kernel void sum_strided(__global const float* x, __global float* out, const int outer,
                          const int length, const int inner, const float scale) {
    const int gid = get_global_id(0);
    if (gid >= outer * inner) return;
    const int o = gid / inner, i = gid % inner;
    __global const float* p = x + (long)o * length * inner + i;
    float acc = 0.0f;
    for (int l = 0; l < length; ++l) acc += p[(long)l * inner];
    out[gid] = acc * scale;
}

// ‖x_r‖² of each row; one work-group per row, local size 2^k (distances by GEMM need it).
__kernel void row_squared_norms(__global const float* x, __global float* out, const int cols,
                                __local float* scratch) {
    const int r = get_group_id(0);
    __global const float* row = x + (long)r * cols;
    float s = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) s += row[j] * row[j];
    const float total = group_sum(s, scratch);
    if (get_local_id(0) == 0) out[r] = total;
}
