// The primitives of PrimitiveOps: strided copies (transpose, broadcast, slice, concatenate),
// broadcasting binary ops and their gradients, exp/log, and reductions over any axes.
//
// Layouts come as int8 arguments (rank ≤ 8): a shape and, per operand, its strides in that
// shape's axes (0 along a broadcast axis). Every kernel is one work-item per output element.
//
// strided_copy:    y[yBase + off(i, ys)] = x[xBase + off(i, xs)] for i over `shape`.
// binary:          y[i] = op(a[off(i, as)], b[off(i, bs)]) over the output shape.
// binary_partials: dA_full[i] = dy[i]·∂op/∂a, dB_full[i] = dy[i]·∂op/∂b at the broadcast
//                  operands; reduce_axes then sums them to each operand's shape.
// unary, unary_backward: exp and log.
// reduce_axes:     y[o] = Σ or max over the reduced axes of x, o over the kept axes (NaN wins).

#define OP_ADD 0
#define OP_SUBTRACT 1
#define OP_MULTIPLY 2
#define OP_DIVIDE 3
#define OP_POWER 4
#define OP_EQUAL 5

// The offset, with `strides`, of row-major position `index` of `shape`'s first `rank` axes.
static inline int layout_offset(int index, const int rank, const int8 shape8, const int8 strides8) {
    int shape[8], strides[8];
    vstore8(shape8, 0, shape);
    vstore8(strides8, 0, strides);
    int offset = 0;
    for (int d = rank - 1; d >= 0; --d) {
        offset += (index % shape[d]) * strides[d];
        index /= shape[d];
    }
    return offset;
}

__kernel void strided_copy(__global const float* x, const int xBase, __global float* y, const int yBase,
                           const int count, const int rank, const int8 shape, const int8 xStrides, const int8 yStrides) {
    const int i = get_global_id(0);
    if (i < count) y[yBase + layout_offset(i, rank, shape, yStrides)] = x[xBase + layout_offset(i, rank, shape, xStrides)];
}

static inline float binary_apply(const int op, const float a, const float b) {
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUBTRACT: return a - b;
    case OP_MULTIPLY: return a * b;
    case OP_DIVIDE: return a / b;
    case OP_POWER: return pow(a, b);
    default: return a == b ? 1.0f : 0.0f;
    }
}

__kernel void binary(__global const float* a, __global const float* b, __global float* y, const int count, const int op,
                     const int rank, const int8 shape, const int8 aStrides, const int8 bStrides) {
    const int i = get_global_id(0);
    if (i < count) y[i] = binary_apply(op, a[layout_offset(i, rank, shape, aStrides)], b[layout_offset(i, rank, shape, bStrides)]);
}

// torch.pow's masks: ∂/∂a is 0 where b = 0, ∂/∂b is 0 where a = 0 and b ≥ 0.
__kernel void binary_partials(__global const float* a, __global const float* b, __global const float* dy,
                              __global float* dA, __global float* dB, const int count, const int op,
                              const int rank, const int8 shape, const int8 aStrides, const int8 bStrides) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float x = a[layout_offset(i, rank, shape, aStrides)], z = b[layout_offset(i, rank, shape, bStrides)], g = dy[i];
    float ga = 0.0f, gb = 0.0f;
    switch (op) {
    case OP_ADD: ga = g; gb = g; break;
    case OP_SUBTRACT: ga = g; gb = -g; break;
    case OP_MULTIPLY: ga = g * z; gb = g * x; break;
    case OP_DIVIDE: ga = g / z; gb = -g * x / (z * z); break;
    case OP_POWER:
        ga = z == 0.0f ? 0.0f : g * z * pow(x, z - 1.0f);
        gb = (x == 0.0f && z >= 0.0f) ? 0.0f : g * pow(x, z) * log(x);
        break;
    default: break;
    }
    dA[i] = ga;
    dB[i] = gb;
}

__kernel void unary(__global const float* x, __global float* y, const int count, const int op) {
    const int i = get_global_id(0);
    if (i < count) y[i] = op == 0 ? exp(x[i]) : log(x[i]);
}

__kernel void unary_backward(__global const float* x, __global const float* dy, __global float* dx, const int count,
                             const int op) {
    const int i = get_global_id(0);
    if (i < count) dx[i] = op == 0 ? dy[i] * exp(x[i]) : dy[i] / x[i];
}

__kernel void reduce_axes(__global const float* x, __global float* y, const int count, const int op,
                          const int keptRank, const int8 keptShape, const int8 keptStrides,
                          const int reducedRank, const int8 reducedShape, const int8 reducedStrides, const int reducedCount) {
    const int o = get_global_id(0);
    if (o >= count) return;
    const int base = layout_offset(o, keptRank, keptShape, keptStrides);
    float acc = op == 0 ? 0.0f : -INFINITY;
    for (int r = 0; r < reducedCount; ++r) {
        const float v = x[base + layout_offset(r, reducedRank, reducedShape, reducedStrides)];
        if (op == 0) acc += v;
        else if (!isnan(acc) && (isnan(v) || v > acc)) acc = v;
    }
    y[o] = acc;
}
