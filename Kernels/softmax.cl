// Row softmax and log-softmax, max-subtracted so exp never overflows.
//
// softmax_rows: one work-group per row, local size 2^k; log_output != 0 writes log-softmax.

__kernel void softmax_rows(__global const float* x, __global float* y, const int cols,
                           const int log_output, __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* in = x + (long)row * cols;
    __global float* out = y + (long)row * cols;
    float m = -INFINITY;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) m = fmax(m, in[j]);
    m = group_max(m, scratch);
    float s = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) s += exp(in[j] - m);
    s = group_sum(s, scratch);
    if (log_output) {
        const float shift = m + log(s);
        for (int j = get_local_id(0); j < cols; j += get_local_size(0)) out[j] = in[j] - shift;
    } else {
        const float inv = 1.0f / s;
        for (int j = get_local_id(0); j < cols; j += get_local_size(0)) out[j] = exp(in[j] - m) * inv;
    }
}
