// Element-wise kernels and per-row gradients that need no reduction across rows.
//
// axpby, fill_value,
// copy_range:            one work-item per element.
// l2_normalize_backward: one work-group per row, local size 2^k.
// soft_cross_entropy:    one work-group per row, local size 2^k; writes each row's loss, which
//                        the host sums with sum_rows (reduce.cl) into the mean.

__kernel void axpby(__global const float* x, __global float* y, const int count,
                    const float alpha, const float beta) {
    const int gid = get_global_id(0);
    // beta = 0 does not read y, as BLAS: y may be a fresh or pooled buffer, whose NaN would survive 0 · y.
    if (gid < count) y[gid] = beta == 0.0f ? alpha * x[gid] : alpha * x[gid] + beta * y[gid];
}

// y[i] = value, and y[to + i] = x[from + i]: fills and copies at an offset where the driver's
// cannot be used (OpenCLDeviceInfo.isOclgrind says where).
__kernel void fill_value(__global float* y, const int count, const float value) {
    const int gid = get_global_id(0);
    if (gid < count) y[gid] = value;
}

__kernel void copy_range(__global const float* x, const int from, __global float* y, const int to, const int count) {
    const int gid = get_global_id(0);
    if (gid < count) y[to + gid] = x[from + gid];
}

// For y = x / max(‖x‖, eps): dx = (dy − y⟨y, dy⟩) / ‖x‖, or dy / eps where the norm was clamped.
__kernel void l2_normalize_backward(__global const float* x, __global const float* dy, __global float* dx,
                                    const int cols, const float eps, __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* xr = x + (long)row * cols;
    __global const float* gr = dy + (long)row * cols;
    __global float* out = dx + (long)row * cols;
    float ss = 0.0f, dot = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        ss += xr[j] * xr[j];
        dot += xr[j] * gr[j];
    }
    ss = group_sum(ss, scratch);
    dot = group_sum(dot, scratch);
    const float norm = sqrt(ss);
    if (norm <= eps) {
        for (int j = get_local_id(0); j < cols; j += get_local_size(0)) out[j] = gr[j] / eps;
        return;
    }
    const float inv = 1.0f / norm, proj = dot * inv * inv;  // ⟨y, dy⟩ / ‖x‖
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) out[j] = (gr[j] - xr[j] * proj) * inv;
}

// L_n = −Σ_c t_c (s·x_c − lse(s·x)),  dx_c = s (softmax(s·x)_c Σ t − t_c) / N.
__kernel void soft_cross_entropy(__global const float* logits, __global const float* targets,
                                 __global float* row_loss, __global float* dlogits, const int cols,
                                 const float scale, const float inv_rows, __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* x = logits + (long)row * cols;
    __global const float* t = targets + (long)row * cols;
    __global float* g = dlogits + (long)row * cols;
    const float lse = row_logsumexp(x, 0, cols, scale, -1, scratch);
    float loss = 0.0f, mass = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        if (t[j] != 0.0f) loss -= t[j] * (scale * x[j] - lse);
        mass += t[j];
    }
    loss = group_sum(loss, scratch);
    mass = group_sum(mass, scratch);
#ifdef ROWS_SERIAL
    int j = 0;
    for (; j + 8 <= cols; j += 8)
        vstore8(scale * (exp(scale * vload8(0, x + j) - lse) * mass - vload8(0, t + j)) * inv_rows, 0, g + j);
    for (; j < cols; j++) g[j] = scale * (exp(scale * x[j] - lse) * mass - t[j]) * inv_rows;
#else
    for (int j = get_local_id(0); j < cols; j += get_local_size(0))
        g[j] = scale * (exp(scale * x[j] - lse) * mass - t[j]) * inv_rows;
#endif
    if (get_local_id(0) == 0) row_loss[row] = loss;
}
