// Row L2 normalisation as torch.nn.functional.normalize: y = x / max(||x||_2, eps).
//
// l2_normalize_rows: one work-group per row, local size 2^k.

__kernel void l2_normalize_rows(__global const float* x, __global float* y, const int cols,
                                const float eps, __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* in = x + (long)row * cols;
    __global float* out = y + (long)row * cols;
    float ss = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) ss += in[j] * in[j];
    ss = group_sum(ss, scratch);
    const float inv = 1.0f / fmax(sqrt(ss), eps);
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) out[j] = in[j] * inv;
}
