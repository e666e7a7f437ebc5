// Kernels of the augmentation op (Sources/SSLCore/Ops/AugmentOps.swift; the formulas, stage by
// stage after torchvision, are in AugmentReference.swift). Every view reads its parameters from
// one row of a float table written by the host (AugmentReference.table):
//   source, top, left, height, width, flip, brightness, contrast, saturation, hue,
//   order[4] (0 brightness, 1 contrast, 2 saturation, 3 hue), grayscale, blur sigma, solarise, padding[3].
//
// augment_views:        one work-group per view, local size 2^k. Each work-item owns the output
//                       pixels p = lid, lid + L, … (all their channels) through every stage:
//                       bilinear resized crop (align_corners=False, no antialias) with the flip
//                       folded into the x index, then the jitter ops in the view's order and
//                       grayscale. Only contrast needs the other work-items (the view's mean gray
//                       value), through group_sum, which every work-item reaches at each of the
//                       four jitter positions: with the reduction inside a branch, even one all
//                       work-items take, PoCL 3.1 computed wrong views and once corrupted the heap.
//                       A work-item rereads only what it wrote itself: no global barrier needed.
// augment_blur_rows:    one work-item per element: the horizontal pass of the separable Gaussian,
//                       reflect padding; σ = 0 copies. Skipped when no view is blurred.
// augment_blur_columns: one work-item per element: the vertical pass, then solarisation and
//                       (x − mean[c]) / std[c] into the output.
// Assumes C is 1 or 3 and every index fits in int (the host checks both).

#ifndef AUGMENT_STRIDE
#define AUGMENT_STRIDE 20  // floats per view in the parameter table
#endif

static inline float augment_blend(const float a, const float b, const float ratio) {
    return clamp(ratio * a + (1.0f - ratio) * b, 0.0f, 1.0f);
}

static inline float augment_gray(__global const float* view, const int p, const int plane) {
    return 0.2989f * view[p] + 0.587f * view[plane + p] + 0.114f * view[2 * plane + p];
}

// Reflect padding without repeating the edge, folded again beyond it; one pixel maps onto itself.
static inline int augment_reflect(int i, const int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

// PyTorch's source index for linear resampling, align_corners=False: both neighbours and λ.
static inline float augment_source(const int dst, const float scale, const int input, int* i0, int* i1) {
    const float src = fmax(scale * ((float)dst + 0.5f) - 0.5f, 0.0f);
    *i0 = (int)src;
    *i1 = *i0 < input - 1 ? *i0 + 1 : *i0;
    return src - (float)*i0;
}

// torchvision's adjust_hue for one pixel: _rgb2hsv, h <- (h + f) mod 1, _hsv2rgb.
static inline void augment_hue(__global float* view, const int q, const int plane, const float f) {
    const float r = view[q], g = view[plane + q], b = view[2 * plane + q];
    const float maxc = fmax(r, fmax(g, b)), minc = fmin(r, fmin(g, b));
    const int equal = maxc == minc;
    const float range = maxc - minc, s = range / (equal ? 1.0f : maxc), divisor = equal ? 1.0f : range;
    const float rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
    const float h6 = maxc == r ? bc - gc : maxc == g ? 2.0f + rc - bc : 4.0f + gc - rc;
    float h = fmod(h6 / 6.0f + 1.0f, 1.0f) + f;
    h -= floor(h);  // Python's floored % 1.0
    const float i = floor(h * 6.0f), frac = h * 6.0f - i;
    const float p = clamp(maxc * (1.0f - s), 0.0f, 1.0f), u = clamp(maxc * (1.0f - s * frac), 0.0f, 1.0f);
    const float t = clamp(maxc * (1.0f - s * (1.0f - frac)), 0.0f, 1.0f), v = maxc;
    const int sector = (((int)i % 6) + 6) % 6;
    view[q] = sector == 0 || sector == 5 ? v : sector == 1 ? u : sector == 4 ? t : p;
    view[plane + q] = sector == 1 || sector == 2 ? v : sector == 0 ? t : sector == 3 ? u : p;
    view[2 * plane + q] = sector == 3 || sector == 4 ? v : sector == 2 ? t : sector == 5 ? u : p;
}

// Jitter position k of a view (one work-group): the op p[10 + k] with its factor p[6 + op].
// Every work-item reaches the group_sum, whatever the op, so no barrier sits in a branch.
static inline void augment_jitter(__global float* view, __global const float* p, const int k, const int plane,
                                  const int c_count, const int lid, const int step, __local float* scratch) {
    const int which = (int)p[10 + k];
    const float f = p[6 + which];
    float partial = 0.0f;
    for (int q = lid; q < plane; q += step) partial += c_count == 3 ? augment_gray(view, q, plane) : view[q];
    const float mean = group_sum(partial, scratch) / (float)plane;
    if (which == 3) {  // hue: 0 is the identity; one channel has no hue
        if (f != 0.0f && c_count == 3) for (int q = lid; q < plane; q += step) augment_hue(view, q, plane, f);
        return;
    }
    if (f == 1.0f) return;
    if (which == 2 && c_count != 3) return;
    for (int q = lid; q < plane; q += step) {
        // brightness blends with 0, contrast with the mean, saturation with the pixel's gray value
        const float other = which == 0 ? 0.0f : which == 1 ? mean : augment_gray(view, q, plane);
        for (int c = 0; c < c_count; ++c) view[c * plane + q] = augment_blend(view[c * plane + q], other, f);
    }
}

__kernel void augment_views(__global const float* images, __global const float* table,
                            __global float* out, const int c_count, const int h, const int w,
                            const int oh, const int ow, __local float* scratch) {
#ifdef ROWS_SERIAL
    // One work-item per view (CPU devices): constant strides the compiler can vectorise.
    const int v = get_group_id(0), lid = 0, step = 1;
#else
    const int v = get_group_id(0), lid = get_local_id(0), step = get_local_size(0);
#endif
    __global const float* p = table + (long)v * AUGMENT_STRIDE;
    const int source = (int)p[0], top = (int)p[1], left = (int)p[2], ch = (int)p[3], cw = (int)p[4];
    const int flip = p[5] != 0.0f;
    const int plane = oh * ow;
    __global const float* image = images + (long)source * c_count * h * w + (long)top * w + left;
    __global float* view = out + (long)v * c_count * plane;
    const float scale_y = (float)ch / (float)oh, scale_x = (float)cw / (float)ow;

    // (y, x) of pixel q, advanced by the stride without dividing at every pixel.
    const int dy = step / ow, dx = step % ow;
    int y = lid / ow, x = lid % ow;
    for (int q = lid; q < plane; q += step, y += dy, x += dx) {
        if (x >= ow) { x -= ow; y++; }
        int y0, y1, x0, x1;
        const float ly = augment_source(y, scale_y, ch, &y0, &y1);
        const float lx = augment_source(flip ? ow - 1 - x : x, scale_x, cw, &x0, &x1);
        for (int c = 0; c < c_count; ++c) {
            __global const float* src = image + (long)c * h * w;
            const float upper = (1.0f - lx) * src[y0 * w + x0] + lx * src[y0 * w + x1];
            const float lower = (1.0f - lx) * src[y1 * w + x0] + lx * src[y1 * w + x1];
            view[c * plane + q] = (1.0f - ly) * upper + ly * lower;
        }
    }

    // Unrolled, each position reducing unconditionally (see the file's header for why).
    augment_jitter(view, p, 0, plane, c_count, lid, step, scratch);
    augment_jitter(view, p, 1, plane, c_count, lid, step, scratch);
    augment_jitter(view, p, 2, plane, c_count, lid, step, scratch);
    augment_jitter(view, p, 3, plane, c_count, lid, step, scratch);
    if (p[14] != 0.0f && c_count == 3) {
        for (int q = lid; q < plane; q += step) {
            const float g = augment_gray(view, q, plane);
            view[q] = g;
            view[plane + q] = g;
            view[2 * plane + q] = g;
        }
    }
}

// The weight of tap t of a size-tap Gaussian, before normalisation.
static inline float augment_tap(const int t, const int size, const float sigma) {
    const float x = ((float)t - 0.5f * (float)(size - 1)) / sigma;
    return exp(-0.5f * x * x);
}

// Both blur passes run over (x, y, view·C + c), so that no work-item divides to find its pixel.
__kernel void augment_blur_rows(__global const float* in, __global const float* table,
                                __global float* out, const int c_count, const int size) {
    const int x = get_global_id(0), y = get_global_id(1), vc = get_global_id(2);
    const int ow = get_global_size(0), oh = get_global_size(1);
    const long at = ((long)vc * oh + y) * ow + x;
    const float sigma = table[(long)(vc / c_count) * AUGMENT_STRIDE + 15];
    if (sigma <= 0.0f) {
        out[at] = in[at];
        return;
    }
    __global const float* row = in + (at - x);
    float acc = 0.0f, total = 0.0f;
    for (int t = 0; t < size; ++t) {
        const float weight = augment_tap(t, size, sigma);
        total += weight;
        acc += weight * row[augment_reflect(x + t - size / 2, ow)];
    }
    out[at] = acc / total;
}

// size 0: no view is blurred (the host skipped augment_blur_rows), only solarise and normalise.
__kernel void augment_blur_columns(__global const float* in, __global const float* table,
                                   __global const float* stats, __global float* out, const int c_count,
                                   const int size, const float threshold) {
    const int x = get_global_id(0), y = get_global_id(1), vc = get_global_id(2);
    const int ow = get_global_size(0), oh = get_global_size(1), c = vc % c_count;
    const long at = ((long)vc * oh + y) * ow + x;
    __global const float* p = table + (long)(vc / c_count) * AUGMENT_STRIDE;
    const float sigma = p[15];
    float value;
    if (sigma <= 0.0f || size == 0) {
        value = in[at];
    } else {
        __global const float* column = in + (at - (long)y * ow);
        float acc = 0.0f, total = 0.0f;
        for (int t = 0; t < size; ++t) {
            const float weight = augment_tap(t, size, sigma);
            total += weight;
            acc += weight * column[augment_reflect(y + t - size / 2, oh) * ow];
        }
        value = acc / total;
    }
    if (p[16] != 0.0f && value >= threshold) value = 1.0f - value;
    out[at] = (value - stats[c]) / stats[c_count + c];
}
