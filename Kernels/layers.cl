// Kernels of the layers' ops (Sources/SSLCore/Ops/LayerOps.swift); batch normalisation is in
// batchnorm.cl. Images are NCHW row-major; a tensor (N, C, …) is viewed as (N, C, inner).
//
// bias_add, relu*, gelu*:   one work-item per element.
// bias_backward:            one work-group per channel, local size 2^k, looping over (n, s) with s
//                           fastest, so neighbouring work-items read neighbouring addresses.
// bias_backward_columns:    the (N, F) case with one work-item per COLUMN_WIDTH columns looping
//                           over rows, for CPU devices (see batchnorm_forward_columns in batchnorm.cl).
// conv_im2col:              one work-item per element of the column matrix cols (K, B·P) of a chunk
//                           of B images: K = Cin·kh·kw rows (c, p, q), column b·P + output position.
//                           The host multiplies W (Cout, K) · cols with CLBlast, giving (Cout, B·P).
// conv_scatter/conv_gather: one work-item per element: (Cout, B·P) ↔ the chunk's (B, Cout, P) in NCHW.
// conv_col2im:              one work-item per input element of the chunk, summing the column-matrix
//                           gradient entries that read it (a gather: no atomics, deterministic).
// maxpool_*, avgpool_*:     forward one work-item per output; backward one work-item per input,
//                           gathering over the windows that cover it, or for disjoint max-pool
//                           windows one per output, storing into its argmax.
// The convolution and pooling kernels run over 3-D ranges (column, row, plane), so that a
// work-item finds its position without dividing: the divisions of a plane index are the same for
// a whole row of work-items (PoCL hoists them out of its work-item loop; 32-bit division is tens
// of cycles on a CPU and the kernels are otherwise a load and a store).
// All sums accumulate in float; the host checks every size against the 32-bit index range.

// Over (s, c, n) of x (N, C, inner), so that no work-item divides to find its channel.
__kernel void bias_add(__global float* x, __global const float* bias) {
    const int s = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    const int inner = get_global_size(0), channels = get_global_size(1);
    x[((long)n * channels + c) * inner + s] += bias[c];
}

// dbias[c] += Σ_{n,s} dy[n, c, s].
__kernel void bias_backward(__global const float* dy, __global float* dbias, const int n, const int channels,
                            const int inner, __local float* scratch) {
    const int c = get_group_id(0);
    float acc = 0.0f;
    for (int j = get_local_id(0); j < n * inner; j += get_local_size(0))
        acc += dy[((long)(j / inner) * channels + c) * inner + j % inner];
    const float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0) dbias[c] += total;
}

__kernel void bias_backward_columns(__global const float* dy, __global float* dbias, const int n, const int features,
                                    const int first) {
    const int c = first + get_global_id(0) * COLUMN_WIDTH;
    floatw acc = 0.0f;
    for (int i = 0; i < n; i++) acc += load_w(dy + (long)i * features + c);
    store_w(load_w(dbias + c) + acc, dbias + c);
}

// x < 0 ? 0 : x keeps NaN, as torch.relu; the gradient passes where x > 0 only.
__kernel void relu_forward(__global const float* x, __global float* y, const int count) {
    const int gid = get_global_id(0);
    if (gid < count) y[gid] = x[gid] < 0.0f ? 0.0f : x[gid];
}

__kernel void relu_backward(__global const float* x, __global const float* dy, __global float* dx, const int count) {
    const int gid = get_global_id(0);
    if (gid < count) dx[gid] = x[gid] > 0.0f ? dy[gid] : 0.0f;
}

// Exact GELU: x Φ(x), Φ(x) = (1 + erf(x/√2))/2; dGELU/dx = Φ(x) + x φ(x), φ(x) = exp(−x²/2)/√(2π).
// erf for GELU. PoCL's erf is a scalar library call (2.5 ms per 256×512 call, DINO's head); on
// CPU devices the host builds with -DGELU_POLYNOMIAL_ERF: Abramowitz & Stegun 7.1.26, |error| ≤
// 1.5e-7, one exp, which vectorises. GELU's 0.5·x·(1 + erf) then moves by ≤ 0.75e-7·|x|.
static inline float gelu_erf(const float x) {
#ifdef GELU_POLYNOMIAL_ERF
    const float a = fabs(x), t = 1.0f / (1.0f + 0.3275911f * a);
    const float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    return copysign(1.0f - poly * exp(-a * a), x);
#else
    return erf(x);
#endif
}

__kernel void gelu_forward(__global const float* x, __global float* y, const int count) {
    const int gid = get_global_id(0);
    if (gid < count) y[gid] = 0.5f * x[gid] * (1.0f + gelu_erf(x[gid] * M_SQRT1_2_F));
}

__kernel void gelu_backward(__global const float* x, __global const float* dy, __global float* dx, const int count) {
    const int gid = get_global_id(0);
    if (gid >= count) return;
    const float v = x[gid];
    const float cdf = 0.5f * (1.0f + gelu_erf(v * M_SQRT1_2_F));
    dx[gid] = dy[gid] * (cdf + v * exp(-0.5f * v * v) * (M_2_SQRTPI_F * M_SQRT1_2_F * 0.5f));
}

// y[n0 + b, o, p] = yc[o, b·P + p]. Range (P, Cout, B), in y's order, so the writes are contiguous.
__kernel void conv_scatter(__global const float* yc, __global float* y, const int n0) {
    const int p = get_global_id(0), o = get_global_id(1), b = get_global_id(2);
    const int positions = get_global_size(0), cout = get_global_size(1), nb = get_global_size(2);
    y[((long)(n0 + b) * cout + o) * positions + p] = yc[((long)o * nb + b) * positions + p];
}

// dyc[o, b·P + p] = dy[n0 + b, o, p]. Range (P, B, Cout), in dyc's order.
__kernel void conv_gather(__global const float* dy, __global float* dyc, const int n0) {
    const int p = get_global_id(0), b = get_global_id(1), o = get_global_id(2);
    const int positions = get_global_size(0), nb = get_global_size(1), cout = get_global_size(2);
    dyc[((long)o * nb + b) * positions + p] = dy[((long)(n0 + b) * cout + o) * positions + p];
}

// im2col and col2im exist in the program built with -DCONV_STRIDE=s, so that col2im's divisions by
// the stride are by a constant (none at all for stride 1).
#ifdef CONV_STRIDE

// cols[k, b·P + p] = x[n0 + b, c, oy·s − pad + i, ox·s − pad + j], zero outside the image;
// k = (c·kh + i)·kw + j, p = oy·OW + ox. Range (OW, OH, K·B): plane z = k·B + b, so that
// consecutive planes write consecutive columns.
__kernel void conv_im2col(__global const float* x, __global float* cols, const int n0, const int nb,
                          const int cin, const int h, const int w, const int kh, const int kw,
                          const int pad, const int oh, const int ow) {
    const int ox = get_global_id(0), oy = get_global_id(1), z = get_global_id(2);
    const int k = z / nb, b = z % nb;
    const int c = k / (kh * kw), i = k / kw % kh, j = k % kw;
    const int iy = oy * CONV_STRIDE - pad + i, ix = ox * CONV_STRIDE - pad + j;
    cols[((long)z * oh + oy) * ow + ox] =
        (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[(((long)(n0 + b) * cin + c) * h + iy) * w + ix] : 0.0f;
}

// dx[n0 + b, c, iy, ix] = Σ over taps (i, j) and outputs (oy, ox) with oy·s − pad + i = iy and
// ox·s − pad + j = ix of dcols[(c·kh + i)·kw + j, b·P + oy·OW + ox]. Range (W, H, B·Cin).
__kernel void conv_col2im(__global const float* dcols, __global float* dx, const int n0, const int nb,
                          const int cin, const int h, const int w, const int kh, const int kw,
                          const int pad, const int oh, const int ow) {
    const int ix = get_global_id(0), iy = get_global_id(1), z = get_global_id(2);
    const int b = z / cin, c = z % cin;
    const int positions = oh * ow, width = nb * positions;
    float acc = 0.0f;
    for (int i = 0; i < kh; ++i) {
        const int ty = iy + pad - i;
        if (ty < 0 || ty % CONV_STRIDE != 0 || ty / CONV_STRIDE >= oh) continue;
        for (int j = 0; j < kw; ++j) {
            const int tx = ix + pad - j;
            if (tx < 0 || tx % CONV_STRIDE != 0 || tx / CONV_STRIDE >= ow) continue;
            acc += dcols[(long)((c * kh + i) * kw + j) * width + b * positions + ty / CONV_STRIDE * ow + tx / CONV_STRIDE];
        }
    }
    dx[(((long)n0 * cin + z) * h + iy) * w + ix] = acc;
}
#endif  // CONV_STRIDE

// The output rows (or columns) [*first, *last] whose window covers input row i: o·s − p ≤ i ≤ o·s − p + k − 1.
static inline void pool_covering(const int i, const int k, const int s, const int p, const int out, int* first, int* last) {
    *first = max(0, (i + p - k + s) / s);
    *last = min(out - 1, (i + p) / s);
}

// The divisor of average pooling at (oy, ox): k² with count_include_pad, else the in-image window size.
static inline int pool_divisor(const int oy, const int ox, const int h, const int w, const int k, const int s,
                               const int p, const int include_pad) {
    if (include_pad) return k * k;
    const int y0 = oy * s - p, x0 = ox * s - p;
    return (min(y0 + k, h) - max(y0, 0)) * (min(x0 + k, w) - max(x0, 0));
}

// Padding is −∞; v > best keeps the first maximum, v != v lets NaN through (PyTorch's rule; isnan
// instead made the kernel 1.2× slower on PoCL).
// Pooling ranges: forward (OW, OH, planes), backward (W, H, planes); a plane is one (n, c).
__kernel void maxpool_forward(__global const float* x, __global float* y, __global float* indices,
                              const int h, const int w, const int k, const int s, const int p) {
    const int ox = get_global_id(0), oy = get_global_id(1), plane = get_global_id(2);
    const int ow = get_global_size(0), oh = get_global_size(1);
    const long gid = ((long)plane * oh + oy) * ow + ox;
    __global const float* xp = x + (long)plane * h * w;
    float best = -INFINITY;
    int at = -1;
    for (int iy = max(oy * s - p, 0); iy < min(oy * s - p + k, h); ++iy) {
        for (int ix = max(ox * s - p, 0); ix < min(ox * s - p + k, w); ++ix) {
            const float v = xp[iy * w + ix];
            if (v > best || v != v) {
                best = v;
                at = iy * w + ix;
            }
        }
    }
    y[gid] = best;
    indices[gid] = (float)at;
}

__kernel void maxpool_backward(__global const float* dy, __global const float* indices, __global float* dx,
                               const int oh, const int ow, const int k, const int s, const int p) {
    const int ix = get_global_id(0), iy = get_global_id(1), plane = get_global_id(2);
    const int w = get_global_size(0), h = get_global_size(1);
    const long gid = ((long)plane * h + iy) * w + ix;
    int y0, y1, x0, x1;
    pool_covering(iy, k, s, p, oh, &y0, &y1);
    pool_covering(ix, k, s, p, ow, &x0, &x1);
    const long base = (long)plane * oh * ow;
    float acc = 0.0f;
    for (int oy = y0; oy <= y1; ++oy)
        for (int ox = x0; ox <= x1; ++ox)
            if ((int)indices[base + oy * ow + ox] == iy * w + ix) acc += dy[base + oy * ow + ox];
    dx[gid] = acc;
}

// Windows that do not overlap (stride ≥ kernel, as 2×2 pooling): each input lies in at most one
// window, so each output sends its gradient to its argmax alone and no two work-items write the
// same element; dx starts at zero. An index outside its window sends nothing, as in the gather.
__kernel void maxpool_backward_disjoint(__global const float* dy, __global const float* indices, __global float* dx,
                                        const int h, const int w, const int k, const int s, const int p) {
    const int ox = get_global_id(0), oy = get_global_id(1), plane = get_global_id(2);
    const int ow = get_global_size(0), oh = get_global_size(1);
    const long gid = ((long)plane * oh + oy) * ow + ox;
    const int at = (int)indices[gid], iy = at / w, ix = at % w;
    if (at >= 0 && iy >= oy * s - p && iy < min(oy * s - p + k, h) && ix >= ox * s - p && ix < min(ox * s - p + k, w))
        dx[(long)plane * h * w + at] = dy[gid];
}

__kernel void avgpool_forward(__global const float* x, __global float* y, const int h, const int w,
                              const int k, const int s, const int p, const int include_pad) {
    const int ox = get_global_id(0), oy = get_global_id(1), plane = get_global_id(2);
    const int ow = get_global_size(0), oh = get_global_size(1);
    const long gid = ((long)plane * oh + oy) * ow + ox;
    __global const float* xp = x + (long)plane * h * w;
    float total = 0.0f;
    for (int iy = max(oy * s - p, 0); iy < min(oy * s - p + k, h); ++iy)
        for (int ix = max(ox * s - p, 0); ix < min(ox * s - p + k, w); ++ix) total += xp[iy * w + ix];
    y[gid] = total / pool_divisor(oy, ox, h, w, k, s, p, include_pad);
}

__kernel void avgpool_backward(__global const float* dy, __global float* dx, const int oh, const int ow,
                               const int k, const int s, const int p, const int include_pad) {
    const int ix = get_global_id(0), iy = get_global_id(1), plane = get_global_id(2);
    const int w = get_global_size(0), h = get_global_size(1);
    const long gid = ((long)plane * h + iy) * w + ix;
    int y0, y1, x0, x1;
    pool_covering(iy, k, s, p, oh, &y0, &y1);
    pool_covering(ix, k, s, p, ow, &x0, &x1);
    const long base = (long)plane * oh * ow;
    float acc = 0.0f;
    for (int oy = y0; oy <= y1; ++oy)
        for (int ox = x0; ox <= x1; ++ox) acc += dy[base + oy * ow + ox] / pool_divisor(oy, ox, h, w, k, s, p, include_pad);
    dx[gid] = acc;
}

// dx[plane, s] = dy[plane] / (H·W).
__kernel void global_avgpool_backward(__global const float* dy, __global float* dx, const int count,
                                      const int plane_size, const float inv_size) {
    const int gid = get_global_id(0);
    if (gid < count) dx[gid] = dy[gid / plane_size] * inv_size;
}
