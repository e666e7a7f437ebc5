// Batch normalisation per channel of a tensor (N, C, …) viewed as (N, C, inner): BatchNorm1d on
// (N, F) (inner = 1), BatchNorm2d on (N, C, H, W) (inner = H·W). Over the M = N·inner values of
// channel c:
//   training:   mean_c = (1/M) Σ x,  var_c = (1/M) Σ (x − mean_c)²  (biased, two passes, no E[x²] − E[x]²);
//               running_mean ← (1 − m)·running_mean + m·mean_c,
//               running_var  ← (1 − m)·running_var + m·var_c·M/(M − 1)   (unbiased, as PyTorch);
//   evaluation: mean_c, var_c = the running statistics, unchanged;
//   x̂ = (x − mean_c)·rstd_c, rstd_c = 1/sqrt(var_c + eps), y = γ_c·x̂ + β_c.
// Backward (dβ_c = Σ dy, dγ_c = Σ dy·x̂):
//   training:   dx = γ_c·rstd_c·(dy − dβ_c/M − x̂·dγ_c/M),  evaluation: dx = γ_c·rstd_c·dy.
//
// Synchronised batch norm (SyncBN), the batch split over ranks, in four steps whose combination
// over ranks the host does (Sources/SSLTrain/Layers/BatchNorm+Synchronization.swift):
//   batchnorm_moments:        this rank's mean_c and M2_c = Σ (x − mean_c)² over its M_r values;
//   batchnorm_forward_given:  x̂ and y from the group's mean_c and rstd_c;
//   batchnorm_backward_sums:  this rank's Σ dy and Σ dy·x̂;
//   batchnorm_backward_given: dx = γ_c·rstd_c·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) from the group's sums and count M.
//
// batchnorm_forward, batchnorm_backward, batchnorm_moments and batchnorm_backward_sums: one
// work-group per channel, local size 2^k, looping over (n, s) with s fastest, so neighbouring
// work-items read neighbouring addresses for images; for (N, F) they read one column at stride
// F. The *_given kernels need no reduction: one work-item per element. Without affine the host
// passes y and x̂ as one buffer. Sums in float.
//
// batchnorm_forward_columns, batchnorm_backward_columns: BatchNorm1d on (N, F) with one work-item
// per COLUMN_WIDTH features (common.cl) looping over the N rows, for CPU devices: there the
// per-channel group above reads a column at stride F, one element at a time (PoCL, 256×512:
// 3.7 ms forward against 0.9 ms for a work-item per feature and 0.16 ms per eight). Same
// formulas; the sums run in row order instead of a tree.

// FOR_CHANNEL(at, body): runs body for the elements x[at] of channel c of (N, C, inner) that this
// work-item takes of its group's share: row by row where a row is at least a group wide (no
// division per element: with one work-item per channel, PoCL, it is a plain loop over each
// contiguous row, in the same order as the flat loop), else flat over (n, s) so that narrow rows
// (BatchNorm1d, inner 1) still keep every work-item busy. Needs n, channels, inner and c.
#define FOR_CHANNEL(at, ...)                                                                   \
    if (inner >= (int)get_local_size(0)) {                                                     \
        for (int row_ = 0; row_ < n; row_++) {                                                 \
            const long base_ = ((long)row_ * channels + c) * inner;                            \
            for (int s_ = get_local_id(0); s_ < inner; s_ += get_local_size(0)) {              \
                const long at = base_ + s_;                                                    \
                __VA_ARGS__                                                                    \
            }                                                                                  \
        }                                                                                      \
    } else {                                                                                   \
        for (int j_ = get_local_id(0); j_ < n * inner; j_ += get_local_size(0)) {              \
            const long at = ((long)(j_ / inner) * channels + c) * inner + j_ % inner;          \
            __VA_ARGS__                                                                        \
        }                                                                                      \
    }

// The sums over channel c (N, C, inner) that the statistics and the backward need, returned in
// every work-item of the group. With -DROWS_SERIAL (CPU devices: one work-item per channel) each
// contiguous row is summed eight lanes at a time, so that the adds need not wait on one another:
// one float chain over a channel of 512 × 28 × 28 values made a BatchNorm2d forward 13 ms on
// PoCL. Otherwise FOR_CHANNEL over the group, then group_sum.
#ifdef ROWS_SERIAL
static inline float lanes_sum(const float8 v) { return v.s0 + v.s1 + v.s2 + v.s3 + v.s4 + v.s5 + v.s6 + v.s7; }
#endif

// Σ (x − shift) (shift 0) or Σ (x − shift)² (squares).
static inline float channel_sum(__global const float* x, const float shift, const int squares, const int n,
                                const int channels, const int c, const int inner, __local float* scratch) {
#ifdef ROWS_SERIAL
    float8 lanes = (float8)(0.0f);
    float tail = 0.0f;
    for (int row = 0; row < n; row++) {
        __global const float* p = x + ((long)row * channels + c) * inner;
        int s = 0;
        for (; s + 8 <= inner; s += 8) {
            const float8 d = vload8(0, p + s) - shift;
            lanes += squares ? d * d : d;
        }
        for (; s < inner; s++) tail += squares ? (p[s] - shift) * (p[s] - shift) : p[s] - shift;
    }
    return lanes_sum(lanes) + tail;
#else
    float acc = 0.0f;
    FOR_CHANNEL(at, const float d = x[at] - shift; acc += squares ? d * d : d;)
    return group_sum(acc, scratch);
#endif
}

// (Σ dy, Σ dy·x̂).
static inline float2 channel_gradient_sums(__global const float* dy, __global const float* xhat, const int n,
                                           const int channels, const int c, const int inner, __local float* scratch) {
#ifdef ROWS_SERIAL
    float8 a = (float8)(0.0f), b = (float8)(0.0f);
    float2 tail = (float2)(0.0f);
    for (int row = 0; row < n; row++) {
        const long base = ((long)row * channels + c) * inner;
        int s = 0;
        for (; s + 8 <= inner; s += 8) {
            const float8 g = vload8(0, dy + base + s);
            a += g;
            b += g * vload8(0, xhat + base + s);
        }
        for (; s < inner; s++) tail += (float2)(dy[base + s], dy[base + s] * xhat[base + s]);
    }
    return (float2)(lanes_sum(a), lanes_sum(b)) + tail;
#else
    float a = 0.0f, b = 0.0f;
    FOR_CHANNEL(at, a += dy[at]; b += dy[at] * xhat[at];)
    return (float2)(group_sum(a, scratch), group_sum(b, scratch));
#endif
}

#define BN_AFFINE 1
#define BN_TRAINING 2
#define BN_RUNNING 4
#define BN_ACCUMULATE 8

__kernel void batchnorm_forward(__global const float* x, __global float* y, __global float* xhat,
                                __global float* mean_out, __global float* rstd_out,
                                __global const float* gamma, __global const float* beta,
                                __global float* running_mean, __global float* running_var,
                                const int n, const int channels, const int inner, const float eps,
                                const float momentum, const int flags, __local float* scratch) {
    const int c = get_group_id(0), m = n * inner;
    float mean, var;
    if (flags & BN_TRAINING) {
        mean = channel_sum(x, 0.0f, 0, n, channels, c, inner, scratch) / m;
        var = channel_sum(x, mean, 1, n, channels, c, inner, scratch) / m;
    } else {
        mean = running_mean[c];
        var = running_var[c];
    }
    const float rstd = rsqrt(var + eps);
    const float g = (flags & BN_AFFINE) ? gamma[c] : 1.0f, b = (flags & BN_AFFINE) ? beta[c] : 0.0f;
    FOR_CHANNEL(at, const float v = (x[at] - mean) * rstd; xhat[at] = v; y[at] = g * v + b;)
    if (get_local_id(0) == 0) {
        mean_out[c] = mean;
        rstd_out[c] = rstd;
        if ((flags & BN_TRAINING) && (flags & BN_RUNNING)) {
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * var * ((float)m / (float)(m - 1));
        }
    }
}

__kernel void batchnorm_backward(__global const float* dy, __global const float* xhat, __global const float* rstd,
                                 __global const float* gamma, __global float* dx, __global float* dgamma,
                                 __global float* dbeta, const int n, const int channels, const int inner,
                                 const int flags, __local float* scratch) {
    const int c = get_group_id(0), m = n * inner;
    const float2 sums = channel_gradient_sums(dy, xhat, n, channels, c, inner, scratch);
    const float sum_dy = sums.x, sum_dy_xhat = sums.y;
    const float scale = ((flags & BN_AFFINE) ? gamma[c] : 1.0f) * rstd[c];
    const float mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
    if (flags & BN_TRAINING) {
        FOR_CHANNEL(at, dx[at] = scale * (dy[at] - mean_dy - xhat[at] * mean_dy_xhat);)
    } else {
        FOR_CHANNEL(at, dx[at] = scale * dy[at];)
    }
    if (get_local_id(0) == 0 && (flags & BN_ACCUMULATE)) {
        dgamma[c] += sum_dy_xhat;
        dbeta[c] += sum_dy;
    }
}

// Columns [first + COLUMN_WIDTH·gid, + COLUMN_WIDTH) of x (N, F), all inside F (the host sees to it).
__kernel void batchnorm_forward_columns(__global const float* x, __global float* y, __global float* xhat,
                                        __global float* mean_out, __global float* rstd_out,
                                        __global const float* gamma, __global const float* beta,
                                        __global float* running_mean, __global float* running_var,
                                        const int n, const int features, const float eps, const float momentum,
                                        const int flags, const int first) {
    const int c = first + get_global_id(0) * COLUMN_WIDTH;
    floatw mean, var;
    if (flags & BN_TRAINING) {
        floatw acc = 0.0f;
        for (int i = 0; i < n; i++) acc += load_w(x + (long)i * features + c);
        mean = acc / (float)n;
        acc = 0.0f;
        for (int i = 0; i < n; i++) {
            const floatw d = load_w(x + (long)i * features + c) - mean;
            acc += d * d;
        }
        var = acc / (float)n;
    } else {
        mean = load_w(running_mean + c);
        var = load_w(running_var + c);
    }
    const floatw rstd = rsqrt(var + eps);
    const floatw g = (flags & BN_AFFINE) ? load_w(gamma + c) : (floatw)(1.0f);
    const floatw b = (flags & BN_AFFINE) ? load_w(beta + c) : (floatw)(0.0f);
    for (int i = 0; i < n; i++) {
        const long at = (long)i * features + c;
        const floatw v = (load_w(x + at) - mean) * rstd;
        store_w(v, xhat + at);
        store_w(g * v + b, y + at);
    }
    store_w(mean, mean_out + c);
    store_w(rstd, rstd_out + c);
    if ((flags & BN_TRAINING) && (flags & BN_RUNNING)) {
        store_w((1.0f - momentum) * load_w(running_mean + c) + momentum * mean, running_mean + c);
        store_w((1.0f - momentum) * load_w(running_var + c) + momentum * var * ((float)n / (float)(n - 1)), running_var + c);
    }
}

__kernel void batchnorm_backward_columns(__global const float* dy, __global const float* xhat, __global const float* rstd,
                                         __global const float* gamma, __global float* dx, __global float* dgamma,
                                         __global float* dbeta, const int n, const int features, const int flags,
                                         const int first) {
    const int c = first + get_global_id(0) * COLUMN_WIDTH;
    floatw sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (int i = 0; i < n; i++) {
        const long at = (long)i * features + c;
        const floatw g = load_w(dy + at);
        sum_dy += g;
        sum_dy_xhat += g * load_w(xhat + at);
    }
    const floatw scale = ((flags & BN_AFFINE) ? load_w(gamma + c) : (floatw)(1.0f)) * load_w(rstd + c);
    const floatw mean_dy = sum_dy / (float)n, mean_dy_xhat = sum_dy_xhat / (float)n;
    if (flags & BN_TRAINING) {
        for (int i = 0; i < n; i++) {
            const long at = (long)i * features + c;
            store_w(scale * (load_w(dy + at) - mean_dy - load_w(xhat + at) * mean_dy_xhat), dx + at);
        }
    } else {
        for (int i = 0; i < n; i++) {
            const long at = (long)i * features + c;
            store_w(scale * load_w(dy + at), dx + at);
        }
    }
    if (flags & BN_ACCUMULATE) {
        store_w(load_w(dgamma + c) + sum_dy_xhat, dgamma + c);
        store_w(load_w(dbeta + c) + sum_dy, dbeta + c);
    }
}

// ---- Synchronised batch norm ----

// M2 is taken about the float mean written, so the host's Double merge of (M_r, mean_r, M2_r)
// over ranks is exact for these values: no rounding of the mean enters the variance.
__kernel void batchnorm_moments(__global const float* x, __global float* mean_out, __global float* m2_out,
                                const int n, const int channels, const int inner, __local float* scratch) {
    const int c = get_group_id(0), m = n * inner;
    const float mean = channel_sum(x, 0.0f, 0, n, channels, c, inner, scratch) / m;
    const float m2 = channel_sum(x, mean, 1, n, channels, c, inner, scratch);
    if (get_local_id(0) == 0) {
        mean_out[c] = mean;
        m2_out[c] = m2;
    }
}

__kernel void batchnorm_forward_given(__global const float* x, __global float* y, __global float* xhat,
                                      __global const float* mean, __global const float* rstd,
                                      __global const float* gamma, __global const float* beta, const int count,
                                      const int channels, const int inner, const int affine) {
    const int gid = get_global_id(0);
    if (gid >= count) return;
    const int c = gid / inner % channels;
    const float v = (x[gid] - mean[c]) * rstd[c];
    xhat[gid] = v;
    if (affine) y[gid] = gamma[c] * v + beta[c];
}

__kernel void batchnorm_backward_sums(__global const float* dy, __global const float* xhat, __global float* sum_dy,
                                      __global float* sum_dy_xhat, const int n, const int channels, const int inner,
                                      __local float* scratch) {
    const int c = get_group_id(0);
    const float2 sums = channel_gradient_sums(dy, xhat, n, channels, c, inner, scratch);
    if (get_local_id(0) == 0) {
        sum_dy[c] = sums.x;
        sum_dy_xhat[c] = sums.y;
    }
}

// group_count: M over the whole group, in float (exact to 2^24, then rounded by ≤ 6e-8 relative).
__kernel void batchnorm_backward_given(__global const float* dy, __global const float* xhat,
                                       __global const float* rstd, __global const float* gamma,
                                       __global const float* sum_dy, __global const float* sum_dy_xhat,
                                       __global float* dx, const int count, const int channels, const int inner,
                                       const float group_count, const int affine) {
    const int gid = get_global_id(0);
    if (gid >= count) return;
    const int c = gid / inner % channels;
    const float scale = (affine ? gamma[c] : 1.0f) * rstd[c];
    dx[gid] = scale * (dy[gid] - sum_dy[c] / group_count - xhat[gid] * (sum_dy_xhat[c] / group_count));
}
